package report

import (
	"fmt"
	"strings"
)

// Expectation is what a scenario is meant to reach: a verdict and, for an
// expected failure, the check that must be among the failed ones (a name or
// part of one, e.g. "recovery" or "error budget"). A negative control
// expects fail: it passes the gate by failing for its stated reason.
type Expectation struct {
	Verdict Verdict `json:"verdict"`
	Check   string  `json:"check,omitempty"`
}

func (e Expectation) String() string {
	if e.Check == "" {
		return string(e.Verdict)
	}
	return fmt.Sprintf("%s (%s)", e.Verdict, e.Check)
}

// Gate says whether the run met its expectation (pass when it has none),
// and why in words: the gate a CI job exits on.
func (r *Result) Gate() (ok bool, why string) {
	exp := Expectation{Verdict: Pass}
	if r.Expect != nil {
		exp = *r.Expect
	}
	if r.Verdict != exp.Verdict {
		return false, fmt.Sprintf("verdict %s, expected %s", r.Verdict, exp)
	}
	if exp.Verdict == Pass {
		return true, "passed"
	}
	if exp.Check == "" {
		return true, fmt.Sprintf("%s as expected", r.Verdict)
	}
	var failed []string
	for _, c := range r.Checks {
		if c.Status == "fail" {
			failed = append(failed, c.Name)
			if strings.Contains(strings.ToLower(c.Name), strings.ToLower(exp.Check)) {
				return true, fmt.Sprintf("%s as expected: %s failed", r.Verdict, c.Name)
			}
		}
	}
	return false, fmt.Sprintf("%s, but not for the expected reason %q (failed: %s)", r.Verdict, exp.Check, strings.Join(failed, ", "))
}
