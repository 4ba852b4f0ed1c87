package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
)

func newTrendCmd() *cobra.Command {
	var (
		th           report.Thresholds
		out, summary string
	)
	cmd := &cobra.Command{
		Use:   "trend RESULT.json|DIR...",
		Short: "Read a series of runs (e.g. one --out folder per night) and write a trend page; exit 3 if the newest run regressed",
		Long: `Reads every result: a result.json, a folder holding one, or a run's --out
folder (one subfolder per scenario). Per scenario, orders the runs by start
time and compares each with the one before by the thresholds of compare
(more failures must also be significant). Writes trend.md and trend.html
(availability, error budget, recovery per fault, baseline Jain and p99 per
run, regressions marked) into --out, and with --summary a short Markdown
verdict block for a CI job summary or a pull-request comment. Exit code 3
when the newest run of any scenario regressed.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			labels, results, err := readResults(args, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if len(results) == 0 {
				return errors.New("trend: no readable result.json among the arguments")
			}
			ts := report.NewTrends(labels, results, th)
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			var md, page bytes.Buffer
			if err := render.WriteTrendMarkdown(&md, ts); err != nil {
				return err
			}
			if err := render.WriteTrendHTML(&page, ts); err != nil {
				return err
			}
			if err := writeBytes(filepath.Join(out, "trend.md"), md.Bytes()); err != nil {
				return err
			}
			if err := writeBytes(filepath.Join(out, "trend.html"), page.Bytes()); err != nil {
				return err
			}
			s := render.TrendSummary(ts)
			if summary != "" {
				if err := writeBytes(summary, []byte(s)); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			fmt.Fprint(w, md.String())
			fmt.Fprintf(w, "\n%s\nwritten to %s\n", s, out)
			if report.LatestRegressed(ts) {
				return exitError{exitRegression}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "trend", "folder for trend.md and trend.html")
	cmd.Flags().StringVar(&summary, "summary", "", "also write a short Markdown verdict block to this file (e.g. $GITHUB_STEP_SUMMARY)")
	thresholdFlags(cmd, &th)
	return cmd
}

// readResults reads each argument: a result.json, a folder with one, or a
// folder of scenario folders (a run's --out). Labels name where each came
// from. A file that cannot be read as a result (corrupt, truncated, not
// aftershock's) is skipped with a warning naming it on warn.
func readResults(args []string, warn io.Writer) ([]string, []*report.Result, error) {
	var labels []string
	var rs []*report.Result
	for _, a := range args {
		paths := []string{a}
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			if _, err := os.Stat(filepath.Join(a, report.FileJSON)); err != nil {
				paths, _ = filepath.Glob(filepath.Join(a, "*", report.FileJSON))
				sort.Strings(paths)
				if len(paths) == 0 {
					return nil, nil, fmt.Errorf("%s: no %s in it or in its subfolders", a, report.FileJSON)
				}
			}
		}
		for _, p := range paths {
			r, err := report.ReadFile(p)
			if err != nil {
				fmt.Fprintf(warn, "aftershock: trend: skipping %s: %v\n", p, err)
				continue
			}
			label := p
			if filepath.Base(p) == report.FileJSON {
				label = filepath.Dir(p)
			}
			labels, rs = append(labels, label), append(rs, r)
		}
	}
	return labels, rs, nil
}

// writeBytes writes b to path atomically (report.WriteFile).
func writeBytes(path string, b []byte) error {
	return report.WriteFile(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}
