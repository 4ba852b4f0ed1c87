package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// RepeatConfidence is the one-sided confidence of the recovery bounds over
// repeats: pass needs the upper 95% bound of the mean within the SLO, fail
// the lower 95% bound above it.
const RepeatConfidence = 0.95

// Repeats is what --repeat adds to an aggregate Result: how many runs went
// into it and, per fault, the recovery statistics the gate used.
type Repeats struct {
	Runs         int             `json:"runs"`         // repeats asked for
	Conclusive   int             `json:"conclusive"`   // repeats with a pass or fail verdict
	Inconclusive int             `json:"inconclusive"` // repeats with an inconclusive verdict
	Errored      int             `json:"errored"`      // repeats that could not run
	Recovery     []RecoveryStats `json:"recovery,omitempty"`
}

// RecoveryStats is one fault's client-seen recovery over the conclusive
// repeats (no client-visible impact counts as 0 s).
type RecoveryStats struct {
	Fault        string   `json:"fault"`
	N            int      `json:"n"`
	NotRecovered int      `json:"notRecovered"`
	Mean         Duration `json:"mean"`
	SD           Duration `json:"sd"`
	Lower        Duration `json:"lower"` // one-sided RepeatConfidence lower bound of the mean
	Upper        Duration `json:"upper"` // one-sided RepeatConfidence upper bound of the mean
}

// MeanBounds is the mean of xs and its one-sided lower and upper bounds at
// confidence conf, from Student's t with n-1 degrees of freedom (gonum
// distuv.StudentsT). With fewer than two values there is no bound
// (lo = -Inf, hi = +Inf, sd NaN).
func MeanBounds(xs []float64, conf float64) (mean, sd, lo, hi float64) {
	n := float64(len(xs))
	if n == 0 {
		return math.NaN(), math.NaN(), math.Inf(-1), math.Inf(1)
	}
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if n < 2 {
		return mean, math.NaN(), math.Inf(-1), math.Inf(1)
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd = math.Sqrt(ss / (n - 1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}.Quantile(conf)
	h := t * sd / math.Sqrt(n)
	return mean, sd, mean - h, mean + h
}

// Repeat gates on the repeats of one scenario instead of on any single run,
// so that one stray run neither fails nor passes a nightly gate. runs are
// the results of the repeats that ran, errored how many could not run. The
// aggregate is a Result (Repeats set, no windows or phases) with these
// checks (rules in doc.go):
//
//   - error budget: pooled over the conclusive repeats (their failed and
//     total requests summed), against the same limit as one run.
//   - recovery per fault: fail when a conclusive repeat did not recover;
//     otherwise pass when the upper bound of the mean recovery is within
//     slo.recovery, fail when the lower bound is above it, inconclusive
//     between (too few repeats, or too much spread, to tell).
//   - every other check (p99, evenness): by majority of the conclusive
//     repeats; a tie is inconclusive.
//   - fewer than two conclusive repeats, or not more than half of the
//     runs asked for: inconclusive.
func Repeat(runs []*Result, errored int) *Result {
	total := len(runs) + errored
	agg := &Result{Schema: SchemaVersion, Repeats: &Repeats{Runs: total, Errored: errored}}
	var conclusive []*Result
	for _, r := range runs {
		if agg.Scenario == "" {
			agg.Scenario, agg.Seed, agg.NodeImage, agg.Cluster, agg.SLO, agg.Window, agg.Expect =
				r.Scenario, r.Seed, r.NodeImage, r.Cluster, r.SLO, r.Window, r.Expect
			agg.Start = r.Start
		}
		agg.End = r.End
		if r.Verdict == Inconclusive {
			agg.Repeats.Inconclusive++
			continue
		}
		conclusive = append(conclusive, r)
	}
	agg.Repeats.Conclusive = len(conclusive)

	repeatBudget(agg, conclusive)
	repeatRecovery(agg, conclusive)
	repeatMajority(agg, conclusive)
	agg.Verdict, agg.Reasons = decide(agg.Checks, func(c Check) string {
		return fmt.Sprintf("%s not shown over the repeats: %s%s", c.Name, c.Value, prefixed("; ", c.Detail))
	})
	if agg.Verdict != Fail && (len(conclusive) < 2 || 2*len(conclusive) <= total) {
		// too few conclusive repeats: nothing over them is shown
		agg.Verdict = Inconclusive
		agg.Reasons = append([]string{fmt.Sprintf("only %d of %d repeats conclusive (%d inconclusive, %d errored): need at least 2 and more than half",
			len(conclusive), total, agg.Repeats.Inconclusive, errored)}, agg.Reasons...)
	}
	if agg.Verdict == Pass {
		agg.Reasons = append(agg.Reasons, fmt.Sprintf("every check passed over %d conclusive of %d repeats", len(conclusive), total))
	}
	return agg
}

// repeatBudget pools the error budget over the conclusive repeats.
func repeatBudget(agg *Result, conclusive []*Result) {
	slo := agg.SLO
	add := func(c Check) { agg.Checks = append(agg.Checks, c) }
	// pooled error budget
	for _, r := range conclusive {
		agg.Requests += r.Requests
		agg.Failed += r.Failed
	}
	if agg.Requests > 0 {
		agg.Availability = float64(agg.Requests-agg.Failed) / float64(agg.Requests)
		if allowed := (1 - slo.Availability) * float64(agg.Requests); allowed > 0 {
			agg.Budget = Budget{Allowed: allowed, Consumed: float64(agg.Failed) / allowed}
		} else if agg.Failed > 0 {
			agg.Budget = Budget{Consumed: math.Inf(1)}
		}
		maxB := slo.MaxBudgetConsumed
		add(Check{Name: "error budget", Status: statusOf(agg.Budget.Consumed <= maxB),
			Value:  fmt.Sprintf("%.2f consumed (%d of %d requests failed over %d conclusive repeats)", agg.Budget.Consumed, agg.Failed, agg.Requests, len(conclusive)),
			Limit:  fmt.Sprintf("<= %.2f of a %.3f%% SLO", maxB, 100*slo.Availability),
			Detail: "pooled over the repeats"})
	}
}

// repeatRecovery bounds each fault's mean client recovery (Student's t)
// over the conclusive repeats, by fault ID in order of first appearance.
func repeatRecovery(agg *Result, conclusive []*Result) {
	slo := agg.SLO
	add := func(c Check) { agg.Checks = append(agg.Checks, c) }
	// recovery per fault, by its ID, in order of first appearance
	var ids []string
	vals := map[string][]float64{}
	notRec := map[string][]int{}
	for i, r := range conclusive {
		for _, f := range r.Faults {
			if !slices.Contains(ids, f.ID) {
				ids = append(ids, f.ID)
			}
			switch {
			case !f.Impact:
				vals[f.ID] = append(vals[f.ID], 0)
			case f.Recovery == nil:
				notRec[f.ID] = append(notRec[f.ID], i+1)
			default:
				vals[f.ID] = append(vals[f.ID], f.Recovery.D().Seconds())
			}
		}
	}
	sec := func(x float64) Duration {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0
		}
		return Duration(x * float64(time.Second))
	}
	for _, id := range ids {
		xs := vals[id]
		mean, sd, lo, hi := MeanBounds(xs, RepeatConfidence)
		st := RecoveryStats{Fault: id, N: len(xs) + len(notRec[id]), NotRecovered: len(notRec[id]),
			Mean: sec(mean), SD: sec(sd), Lower: sec(lo), Upper: sec(hi)}
		agg.Repeats.Recovery = append(agg.Repeats.Recovery, st)
		if slo.Recovery == 0 {
			continue
		}
		limit := slo.Recovery.D().Seconds()
		c := Check{Name: "recovery " + id, Limit: "<= " + slo.Recovery.String() + fmt.Sprintf(" (upper %.0f%% bound of the mean)", 100*RepeatConfidence)}
		switch {
		case len(notRec[id]) > 0:
			c.Status, c.Value = StatusFail, fmt.Sprintf("not recovered in %d of %d conclusive repeats", len(notRec[id]), len(conclusive))
		case len(xs) < 2:
			c.Status, c.Value = StatusSkipped, fmt.Sprintf("%d value(s): a bound needs at least 2 conclusive repeats", len(xs))
		case hi <= limit:
			c.Status = StatusPass
		case lo > limit:
			c.Status = StatusFail
		default:
			c.Status = StatusSkipped
			c.Detail = "the interval straddles the limit: more repeats (or less spread) needed to tell"
		}
		if c.Value == "" {
			c.Value = fmt.Sprintf("mean %s, %.0f%% bounds [%s, %s], sd %s, n=%d", st.Mean, 100*RepeatConfidence, sec(max(lo, 0)), st.Upper, st.SD, len(xs))
		}
		add(c)
	}
}

// repeatMajority gates every other check by the majority of the repeats.
func repeatMajority(agg *Result, conclusive []*Result) {
	add := func(c Check) { agg.Checks = append(agg.Checks, c) }
	// every other check by majority
	var names []string
	for _, r := range conclusive {
		for _, c := range r.Checks {
			if c.Name == "error budget" || strings.HasPrefix(c.Name, "recovery ") || strings.HasPrefix(c.Name, "fault landed ") {
				continue
			}
			if !slices.Contains(names, c.Name) {
				names = append(names, c.Name)
			}
		}
	}
	for _, name := range names {
		var pass, fail, skip int
		for _, r := range conclusive {
			for _, c := range r.Checks {
				if c.Name != name {
					continue
				}
				switch c.Status {
				case StatusPass:
					pass++
				case StatusFail:
					fail++
				default:
					skip++
				}
			}
		}
		c := Check{Name: name, Value: fmt.Sprintf("passed in %d, failed in %d, not shown in %d of %d conclusive repeats", pass, fail, skip, len(conclusive)),
			Limit: "a majority of the repeats"}
		switch {
		case 2*pass > len(conclusive):
			c.Status = StatusPass
		case 2*fail > len(conclusive):
			c.Status = StatusFail
		default:
			c.Status = StatusSkipped
		}
		add(c)
	}
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
