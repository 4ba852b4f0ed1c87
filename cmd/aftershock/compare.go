package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/report"
)

// thresholds of compare: how much worse the new run may be.
type thresholds struct {
	recovery     float64 // seconds more client-seen recovery, per fault
	budget       float64 // more error budget consumed
	availability float64 // percentage points less availability
	jain         float64 // lower Jain index
	p99          float64 // factor of baseline p99
}

func newCompareCmd() *cobra.Command {
	var th thresholds
	cmd := &cobra.Command{
		Use:   "compare BASE NEW",
		Short: "Compare two results (result.json or report folders); exit 3 on regression",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			base, err := report.ReadFile(args[0])
			if err != nil {
				return err
			}
			cur, err := report.ReadFile(args[1])
			if err != nil {
				return err
			}
			if regressions := compare(cmd.OutOrStdout(), base, cur, th); regressions > 0 {
				return exitError{exitRegression}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Float64Var(&th.recovery, "max-recovery-increase", 2, "seconds of extra client-seen recovery allowed per fault")
	fl.Float64Var(&th.budget, "max-budget-increase", 0.25, "extra error budget consumed allowed")
	fl.Float64Var(&th.availability, "max-availability-drop", 0.5, "percentage points of availability that may be lost")
	fl.Float64Var(&th.jain, "max-jain-drop", 0.05, "drop of the baseline Jain index allowed")
	fl.Float64Var(&th.p99, "max-p99-ratio", 1.5, "baseline p99 may grow by this factor")
	return cmd
}

// compare prints a row per metric and returns the number of regressions.
func compare(w io.Writer, base, cur *report.Result, th thresholds) int {
	n := 0
	row := func(name, b, c string, bad bool) {
		mark := "ok"
		if bad {
			mark = "REGRESSION"
			n++
		}
		fmt.Fprintf(w, "%-28s %-14s %-14s %s\n", name, b, c, mark)
	}
	fmt.Fprintf(w, "%-28s %-14s %-14s\n", "metric", "base", "new")
	if base.Scenario != cur.Scenario {
		fmt.Fprintf(w, "note: comparing scenario %q with %q\n", base.Scenario, cur.Scenario)
	}
	row("verdict", string(base.Verdict), string(cur.Verdict), base.Verdict == report.Pass && cur.Verdict != report.Pass)
	// more failures count only when significant: a two-proportion test
	p := report.MoreFailuresP(base.Failed, base.Requests, cur.Failed, cur.Requests)
	sig := p < report.RegressionAlpha
	row("availability", fmt.Sprintf("%.3f%%", 100*base.Availability), fmt.Sprintf("%.3f%%", 100*cur.Availability), sig && 100*(base.Availability-cur.Availability) > th.availability)
	row("error budget consumed", fmt.Sprintf("%.2f", base.Budget.Consumed), fmt.Sprintf("%.2f", cur.Budget.Consumed), sig && cur.Budget.Consumed-base.Budget.Consumed > th.budget)
	fmt.Fprintf(w, "failed requests: %d of %d -> %d of %d; one-sided two-proportion p = %.3g (a regression needs p < %g)\n",
		base.Failed, base.Requests, cur.Failed, cur.Requests, p, report.RegressionAlpha)
	if bp, cp := base.Baseline(), cur.Baseline(); bp != nil && cp != nil {
		row("baseline p99", bp.Latency.P99.String(), cp.Latency.P99.String(), float64(cp.Latency.P99) > th.p99*float64(bp.Latency.P99) && bp.Latency.P99 > 0)
		be, bk := bp.Evenness()
		ce, ck := cp.Evenness()
		if be != nil && ce != nil {
			name := "baseline Jain (" + bk + ")"
			if bk != ck {
				name = "baseline Jain (" + bk + " -> " + ck + ")"
			}
			row(name, fmt.Sprintf("%.3f", be.Jain), fmt.Sprintf("%.3f", ce.Jain), be.Jain-ce.Jain > th.jain)
		}
	}
	for i := range min(len(base.Faults), len(cur.Faults)) {
		bf, cf := base.Faults[i], cur.Faults[i]
		bad := false
		switch {
		case cf.Impact && !cf.Recovered:
			bad = true // recovered -> not recovered is always a regression
		case cf.Recovery != nil && bf.Recovery != nil:
			bad = cf.Recovery.D().Seconds()-bf.Recovery.D().Seconds() > th.recovery
		case cf.Recovery != nil && bf.Recovery == nil:
			bad = cf.Recovery.D().Seconds() > th.recovery
		}
		row("recovery "+cf.ID, durOr(bf.Recovery), durOr(cf.Recovery), bad)
	}
	if len(base.Faults) != len(cur.Faults) {
		fmt.Fprintf(w, "note: %d faults in base, %d in new\n", len(base.Faults), len(cur.Faults))
	}
	return n
}
