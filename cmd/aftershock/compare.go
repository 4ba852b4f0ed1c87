package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/report"
)

func newCompareCmd() *cobra.Command {
	var th report.Thresholds
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
	thresholdFlags(cmd, &th)
	return cmd
}

// thresholdFlags are the regression thresholds of compare and trend.
func thresholdFlags(cmd *cobra.Command, th *report.Thresholds) {
	d := report.DefaultThresholds()
	fl := cmd.Flags()
	fl.Float64Var(&th.Recovery, "max-recovery-increase", d.Recovery, "seconds of extra client-seen recovery allowed per fault")
	fl.Float64Var(&th.Budget, "max-budget-increase", d.Budget, "extra error budget consumed allowed")
	fl.Float64Var(&th.Availability, "max-availability-drop", d.Availability, "percentage points of availability that may be lost")
	fl.Float64Var(&th.Jain, "max-jain-drop", d.Jain, "drop of the baseline Jain index allowed")
	fl.Float64Var(&th.P99, "max-p99-ratio", d.P99, "baseline p99 may grow by this factor")
}

// compare prints a row per metric and returns the number of regressions.
func compare(w io.Writer, base, cur *report.Result, th report.Thresholds) int {
	rows, notes := report.Compare(base, cur, th)
	n := 0
	fmt.Fprintf(w, "%-28s %-14s %-14s\n", "metric", "base", "new")
	for _, r := range rows {
		mark := "ok"
		if r.Regression {
			mark = "REGRESSION"
			n++
		}
		fmt.Fprintf(w, "%-28s %-14s %-14s %s\n", r.Metric, r.Base, r.New, mark)
	}
	for _, note := range notes {
		fmt.Fprintln(w, "note:", note)
	}
	return n
}
