package report

import "fmt"

// Thresholds are how much worse a run may be than the one before it
// before compare and trend call it a regression. A rise in failures must
// also be significant (MoreFailuresP < RegressionAlpha).
type Thresholds struct {
	Recovery     float64 // seconds more client-seen recovery, per fault
	Budget       float64 // more error budget consumed
	Availability float64 // percentage points less availability
	Jain         float64 // lower baseline Jain index
	P99          float64 // factor of the baseline p99
}

// DefaultThresholds are compare's defaults.
func DefaultThresholds() Thresholds {
	return Thresholds{Recovery: 2, Budget: 0.25, Availability: 0.5, Jain: 0.05, P99: 1.5}
}

// Row is one metric of a comparison.
type Row struct {
	Metric     string
	Base, New  string
	Regression bool
}

// Compare compares cur with base metric by metric and returns the rows
// and notes (the failure test's p-value, mismatches).
func Compare(base, cur *Result, th Thresholds) (rows []Row, notes []string) {
	row := func(name, b, c string, bad bool) { rows = append(rows, Row{name, b, c, bad}) }
	if base.Scenario != cur.Scenario {
		notes = append(notes, fmt.Sprintf("comparing scenario %q with %q", base.Scenario, cur.Scenario))
	}
	row("verdict", string(base.Verdict), string(cur.Verdict), base.Verdict == Pass && cur.Verdict != Pass)
	// more failures count only when significant: a two-proportion test
	p := MoreFailuresP(base.Failed, base.Requests, cur.Failed, cur.Requests)
	sig := p < RegressionAlpha
	row("availability", fmt.Sprintf("%.3f%%", 100*base.Availability), fmt.Sprintf("%.3f%%", 100*cur.Availability), sig && 100*(base.Availability-cur.Availability) > th.Availability)
	row("error budget consumed", fmt.Sprintf("%.2f", base.Budget.Consumed), fmt.Sprintf("%.2f", cur.Budget.Consumed), sig && cur.Budget.Consumed-base.Budget.Consumed > th.Budget)
	notes = append(notes, fmt.Sprintf("failed requests: %d of %d -> %d of %d; one-sided two-proportion p = %.3g (a regression needs p < %g)",
		base.Failed, base.Requests, cur.Failed, cur.Requests, p, RegressionAlpha))
	if bp, cp := base.Baseline(), cur.Baseline(); bp != nil && cp != nil {
		row("baseline p99", bp.Latency.P99.String(), cp.Latency.P99.String(), float64(cp.Latency.P99) > th.P99*float64(bp.Latency.P99) && bp.Latency.P99 > 0)
		be, bk := bp.Evenness()
		ce, ck := cp.Evenness()
		if be != nil && ce != nil {
			name := "baseline Jain (" + bk + ")"
			if bk != ck {
				name = "baseline Jain (" + bk + " -> " + ck + ")"
			}
			row(name, fmt.Sprintf("%.3f", be.Jain), fmt.Sprintf("%.3f", ce.Jain), be.Jain-ce.Jain > th.Jain)
		}
	}
	for i := range min(len(base.Faults), len(cur.Faults)) {
		bf, cf := base.Faults[i], cur.Faults[i]
		bad := false
		switch {
		case cf.Impact && !cf.Recovered:
			bad = true // recovered -> not recovered is always a regression
		case cf.Recovery != nil && bf.Recovery != nil:
			bad = cf.Recovery.D().Seconds()-bf.Recovery.D().Seconds() > th.Recovery
		case cf.Recovery != nil && bf.Recovery == nil:
			bad = cf.Recovery.D().Seconds() > th.Recovery
		}
		row("recovery "+cf.ID, bf.ClientRecovery(), cf.ClientRecovery(), bad)
	}
	if len(base.Faults) != len(cur.Faults) {
		notes = append(notes, fmt.Sprintf("%d faults in base, %d in new", len(base.Faults), len(cur.Faults)))
	}
	return rows, notes
}
