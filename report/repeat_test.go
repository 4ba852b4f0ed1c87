package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t(0.95, 4) = 2.1318 (any t-table): 1..5 has mean 3, sd 1.5811, so the
// one-sided 95% bounds are 3 -/+ 2.1318*1.5811/sqrt(5) = 3 -/+ 1.5074.
func TestMeanBoundsStudentsT(t *testing.T) {
	mean, sd, lo, hi := MeanBounds([]float64{1, 2, 3, 4, 5}, 0.95)
	assert.InDelta(t, 3, mean, 1e-12)
	assert.InDelta(t, 1.5811, sd, 1e-4)
	assert.InDelta(t, 1.4926, lo, 1e-3)
	assert.InDelta(t, 4.5074, hi, 1e-3)
	// two values: t(0.95, 1) = 6.3138
	_, _, _, hi = MeanBounds([]float64{4, 6}, 0.95)
	assert.InDelta(t, 5+6.3138*1.4142/1.4142, hi, 1e-3)
	_, _, lo, hi = MeanBounds([]float64{2}, 0.95)
	assert.True(t, lo < -1e300 && hi > 1e300, "one value has no bound")
}

// repeatRun is one repeat: its verdict follows from its checks like a real run's.
func repeatRun(recovery float64, impact bool, checks ...Check) *Result {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &Result{Scenario: "pod-kill", Start: t0, End: t0.Add(time.Minute), Requests: 1000, Failed: 5,
		SLO: SLO{Availability: 0.99, MaxBudgetConsumed: 1, Recovery: Duration(5 * time.Second)}}
	f := FaultResult{Fault: Fault{ID: "f1"}, LandedVerdict: true, Impact: impact}
	c := Check{Name: "recovery f1", Status: "pass"}
	if impact && recovery >= 0 {
		d := Duration(recovery * float64(time.Second))
		f.Recovery, f.Recovered = &d, true
		if d > r.SLO.Recovery {
			c.Status = "fail"
		}
	} else if impact {
		c.Status = "fail"
	}
	r.Faults = []FaultResult{f}
	r.Checks = append([]Check{{Name: "error budget", Status: "pass"}, c}, checks...)
	r.Verdict = Pass
	for _, c := range r.Checks {
		if c.Status == "fail" {
			r.Verdict = Fail
		}
	}
	return r
}

func check(r *Result, name string) Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

func TestRepeatGatesOnTheRepeats(t *testing.T) {
	p99ok, p99bad := Check{Name: "p99 latency", Status: "pass"}, Check{Name: "p99 latency", Status: "fail"}
	t.Run("tight recoveries within the SLO pass", func(t *testing.T) {
		var runs []*Result
		for _, s := range []float64{1.0, 1.2, 1.1, 1.3, 0.9} {
			runs = append(runs, repeatRun(s, true, p99ok))
		}
		agg := Repeat(runs, 0)
		require.Equal(t, Pass, agg.Verdict, agg.Reasons)
		st := agg.Repeats.Recovery[0]
		assert.Equal(t, 5, st.N)
		// mean 1.1, sd 0.1581, upper = 1.1 + 2.1318*0.1581/sqrt(5) = 1.2507
		assert.InDelta(t, 1.2507, st.Upper.D().Seconds(), 1e-3)
		assert.Equal(t, 5000, agg.Requests)
	})
	t.Run("one stray run fails no gate", func(t *testing.T) {
		runs := []*Result{repeatRun(1, true, p99ok), repeatRun(1.1, true, p99bad), repeatRun(1.2, true, p99ok)}
		require.Equal(t, Fail, runs[1].Verdict)
		agg := Repeat(runs, 0)
		assert.Equal(t, Pass, agg.Verdict, agg.Reasons)
		assert.Contains(t, check(agg, "p99 latency").Value, "passed in 2, failed in 1")
	})
	t.Run("a lucky pass does not pass: spread around the limit is inconclusive", func(t *testing.T) {
		agg := Repeat([]*Result{repeatRun(4, true), repeatRun(6, true)}, 0)
		assert.Equal(t, Inconclusive, agg.Verdict)
		assert.Equal(t, StatusSkipped, check(agg, "recovery f1").Status)
		assert.Contains(t, strings.Join(agg.Reasons, ";"), "straddles the limit")
	})
	t.Run("recovery clearly beyond the limit fails", func(t *testing.T) {
		agg := Repeat([]*Result{repeatRun(8, true), repeatRun(9, true), repeatRun(10, true)}, 0)
		assert.Equal(t, Fail, agg.Verdict)
		// lower = 9 - 2.92*1/sqrt(3) = 7.31 > 5
		assert.Contains(t, check(agg, "recovery f1").Value, "[7.31s")
	})
	t.Run("not recovered in one repeat fails", func(t *testing.T) {
		agg := Repeat([]*Result{repeatRun(1, true), repeatRun(-1, true), repeatRun(1, true)}, 0)
		assert.Equal(t, Fail, agg.Verdict)
		assert.Contains(t, check(agg, "recovery f1").Value, "not recovered in 1 of 3")
	})
	t.Run("no impact counts as zero", func(t *testing.T) {
		agg := Repeat([]*Result{repeatRun(0, false), repeatRun(0, false), repeatRun(0, false)}, 0)
		assert.Equal(t, Pass, agg.Verdict, agg.Reasons)
		assert.Equal(t, Duration(0), agg.Repeats.Recovery[0].Upper)
	})
	t.Run("mostly inconclusive or errored is inconclusive", func(t *testing.T) {
		inc := repeatRun(1, true)
		inc.Verdict = Inconclusive
		agg := Repeat([]*Result{repeatRun(1, true), repeatRun(1.1, true), inc}, 2)
		assert.Equal(t, Inconclusive, agg.Verdict)
		assert.Contains(t, strings.Join(agg.Reasons, ";"), "only 2 of 5 repeats conclusive (1 inconclusive, 2 errored)")
	})
	t.Run("the error budget is pooled", func(t *testing.T) {
		runs := []*Result{repeatRun(1, true), repeatRun(1.1, true), repeatRun(1.2, true)}
		runs[1].Failed = 25 // 35 of 3000 against 30 allowed
		agg := Repeat(runs, 0)
		assert.Equal(t, Fail, agg.Verdict)
		assert.Contains(t, check(agg, "error budget").Value, "1.17 consumed (35 of 3000")
	})
	t.Run("a negative control fails the gate only by passing", func(t *testing.T) {
		exp := &Expectation{Verdict: Fail, Check: "recovery"}
		runs := []*Result{repeatRun(8, true), repeatRun(9, true), repeatRun(10, true)}
		for _, r := range runs {
			r.Expect = exp
		}
		ok, why := Repeat(runs, 0).Gate()
		assert.True(t, ok, why)
	})
}
