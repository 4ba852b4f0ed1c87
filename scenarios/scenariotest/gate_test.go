package scenariotest_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/scenarios/scenariotest"
)

// recorder is a testing.TB that keeps what Errorf said.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// The Go API gates like the CLI: a negative control failing for another
// reason than its expect.check fails the test.
func TestGateAgreesWithTheCLI(t *testing.T) {
	failed := func(check string, expect *report.Expectation) *report.Result {
		return &report.Result{Scenario: "neg", Verdict: report.Fail, Expect: expect,
			Checks: []report.Check{{Name: check, Status: "fail"}, {Name: "evenness (Jain)", Status: "pass"}}}
	}
	for _, tc := range []struct {
		name string
		res  *report.Result
		ok   bool
	}{
		{"fails for the expected reason", failed("error budget", &report.Expectation{Verdict: report.Fail, Check: "error budget"}), true},
		{"fails for another reason", failed("recovery (client-seen)", &report.Expectation{Verdict: report.Fail, Check: "error budget"}), false},
		{"expected pass, failed", failed("error budget", nil), false},
		{"passes", &report.Result{Scenario: "p", Verdict: report.Pass}, true},
		{"inconclusive where pass expected", &report.Result{Scenario: "p", Verdict: report.Inconclusive}, false},
	} {
		rec := &recorder{TB: t}
		scenariotest.Gate(rec, tc.res)
		okCLI, why := tc.res.Gate()
		assert.Equal(t, tc.ok, okCLI, "%s: the CLI's gate: %s", tc.name, why)
		assert.Equal(t, tc.ok, len(rec.errs) == 0, "%s: scenariotest agrees with the CLI (%v)", tc.name, rec.errs)
	}
}
