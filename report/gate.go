package report

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
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
		if c.Status == StatusFail {
			failed = append(failed, c.Name)
			if strings.Contains(strings.ToLower(c.Name), strings.ToLower(exp.Check)) {
				return true, fmt.Sprintf("%s as expected: %s failed", r.Verdict, c.Name)
			}
		}
	}
	return false, fmt.Sprintf("%s, but not for the expected reason %q (failed: %s)", r.Verdict, exp.Check, strings.Join(failed, ", "))
}

// RegressionAlpha is the significance level at which compare calls a rise
// in failed requests a regression.
const RegressionAlpha = 0.01

// MoreFailuresP is the one-sided p-value of a two-proportion z-test that
// the failure rate f2/n2 is higher than f1/n1 (pooled variance). 1 when
// there is nothing to test.
func MoreFailuresP(f1, n1, f2, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	p1, p2 := float64(f1)/float64(n1), float64(f2)/float64(n2)
	pool := float64(f1+f2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		if p2 > p1 {
			return 0
		}
		return 1
	}
	return distuv.UnitNormal.Survival((p2 - p1) / se)
}

// decide is the one place checks become a verdict (a run's, and the one
// over repeats): fail when a check failed (each named with its value and
// limit); else inconclusive when a check was not shown either way
// (notShown says why, per check); else pass. A skipped check is never a
// pass. Callers add what only they know (a lost load source, too few
// conclusive repeats) afterwards.
func decide(checks []Check, notShown func(Check) string) (Verdict, []string) {
	var failed, unshown []string
	for _, c := range checks {
		switch c.Status {
		case StatusFail:
			failed = append(failed, fmt.Sprintf("%s: %s (limit %s)", c.Name, c.Value, c.Limit))
		case StatusSkipped:
			unshown = append(unshown, notShown(c))
		}
	}
	switch {
	case len(failed) > 0:
		return Fail, failed
	case len(unshown) > 0:
		return Inconclusive, unshown
	}
	return Pass, nil
}
