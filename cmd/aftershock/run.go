package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// Exit codes.
const (
	exitFail         = 1 // a scenario failed its SLO, or an error
	exitInconclusive = 2 // no fail, but a fault could not be shown to have landed
	exitRegression   = 3 // compare found a regression
)

type runFlags struct {
	out          string
	keepCluster  bool
	seed         int64
	repeat       int
	nodeImage    string
	kubeconfig   string
	allowForeign bool
	clusterName  string
	verbose      bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE...",
		Short: "Run scenarios end to end and write reports; exit 1 on any fail",
		Long: `Runs each scenario file on one kind cluster (created unless --cluster or
--kubeconfig), one namespace per scenario, and writes result.json, junit.xml,
report.md and report.html per run into --out. Prints one line per phase and a
summary table. Each verdict is gated on the scenario's expect (a negative
control that fails for its stated reason is a success). junit.xml in --out
always covers every scenario, errored ones included. Exit code: 0 every
scenario met its expectation, 1 any did not (or an error), 2 the only misses
are inconclusive verdicts.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScenarios(cmd.Context(), f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "reports", "folder for the reports (one subfolder per scenario and repetition)")
	fl.BoolVar(&f.keepCluster, "keep-cluster", false, "leave the cluster and each scenario's namespace (the app as the run left it) in place, to inspect or replay")
	fl.Int64Var(&f.seed, "seed", 0, "override every scenario's seed (victim choice)")
	fl.IntVar(&f.repeat, "repeat", 1, "run each scenario N times; reports a 95% confidence interval of recovery time")
	fl.StringVar(&f.nodeImage, "node-image", "", "kind node image (default: build or reuse the offline one; kindest/node works where a registry is reachable)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "use this existing cluster instead of creating one (needs --allow-foreign-cluster)")
	fl.BoolVar(&f.allowForeign, "allow-foreign-cluster", false, "allow faults on a cluster aftershock did not create")
	fl.StringVar(&f.clusterName, "cluster", "", "reuse this aftershock kind cluster (see `aftershock list`)")
	fl.BoolVar(&f.verbose, "verbose", false, "log what the libraries do")
	return cmd
}

func runScenarios(ctx context.Context, f runFlags, files []string, stdout, stderr io.Writer) error {
	if f.repeat < 1 {
		return fmt.Errorf("--repeat %d: must be >= 1", f.repeat)
	}
	var specs []*scenarios.Spec
	for _, file := range files {
		s, err := scenarios.ParseFile(file)
		if err != nil {
			return err
		}
		specs = append(specs, s)
	}
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	env := &scenarios.Env{KeepCluster: f.keepCluster, AllowForeignCluster: f.allowForeign, Logger: logger}
	switch {
	case f.kubeconfig != "" && f.clusterName != "":
		return errors.New("--kubeconfig and --cluster: give one")
	case f.kubeconfig != "":
		c, err := clusters.FromKubeconfig(f.kubeconfig, f.allowForeign)
		if err != nil {
			return err
		}
		env.Cluster = c
	case f.clusterName != "":
		c, err := clusters.Open(ctx, f.clusterName, logger)
		if err != nil {
			return err
		}
		env.Cluster = c
	default:
		img := f.nodeImage
		if img == "" {
			var err error
			if _, serr := nodeimage.FindSourceDir(); serr == nil {
				img, err = nodeimage.Ensure(ctx, nodeimage.Options{Progress: stderr})
			} else {
				// an installed binary outside the source tree: the newest built image
				img, err = nodeimage.Newest(ctx)
				if err == nil {
					fmt.Fprintf(stderr, "node image %s: the newest built one (no aftershock source tree here to check it is current)\n", img)
				}
			}
			if err != nil {
				return err
			}
		}
		env.NodeImage = img
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if env.Cluster != nil && f.keepCluster {
			fmt.Fprintf(stderr, "cluster %s kept: KUBECONFIG=%s; reuse with --cluster %s; delete with `aftershock clean`\n", env.Cluster.Name, env.Cluster.Kubeconfig, env.Cluster.Name)
		}
		if err := env.Close(cctx); err != nil {
			fmt.Fprintln(stderr, "aftershock: delete cluster:", err)
		}
	}()

	var results []*report.Result
	var errored []report.Errored
	var runErr error
	for _, s := range specs {
		for i := 0; i < f.repeat; i++ {
			out := filepath.Join(f.out, s.Name)
			seed := f.seed
			if f.repeat > 1 {
				out = filepath.Join(f.out, fmt.Sprintf("%s-%d", s.Name, i+1))
				if seed == 0 {
					seed = s.Seed + int64(i)
				}
			}
			res, err := scenarios.Run(ctx, s, scenarios.Options{Env: env, Out: out, Seed: seed, KeepNamespace: f.keepCluster, Progress: stderr, Logger: logger})
			if err != nil {
				runErr = errors.Join(runErr, fmt.Errorf("%s: %w", s.Name, err))
				errored = append(errored, report.Errored{Scenario: s.Name, Err: err})
				if ctx.Err() != nil {
					break
				}
				continue
			}
			results = append(results, res)
		}
		if ctx.Err() != nil {
			break
		}
	}
	// junit.xml always: every result and every scenario that errored
	if err := os.MkdirAll(f.out, 0o755); err == nil {
		if jf, err := os.Create(filepath.Join(f.out, report.FileJUnit)); err == nil {
			_ = report.WriteJUnitRun(jf, results, errored)
			jf.Close()
		}
	}
	summary(stdout, results, f.repeat)
	if runErr != nil {
		return runErr
	}
	if code := gateCode(results); code != 0 {
		return exitError{code}
	}
	return nil
}

// gateCode is the exit code of a run: 0 when every scenario met its
// expectation (a negative control failing for its stated reason counts),
// exitFail when one did not and failed or passed against expectation,
// exitInconclusive when the only misses are inconclusive verdicts.
func gateCode(results []*report.Result) int {
	code := 0
	for _, r := range results {
		if ok, _ := r.Gate(); ok {
			continue
		}
		if r.Verdict == report.Inconclusive {
			if code == 0 {
				code = exitInconclusive
			}
			continue
		}
		code = exitFail
	}
	return code
}

// summary prints one row per run and, with repeats, a recovery interval.
func summary(w io.Writer, results []*report.Result, repeat int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tVERDICT\tGATE\tREQUESTS\tAVAILABILITY\tBUDGET\tRECOVERY (client)\tRECOVERY (cluster)\tJAIN\tP99")
	for _, r := range results {
		var rec, crec []string
		for _, f := range r.Faults {
			rec = append(rec, clientRecovery(f))
			crec = append(crec, durOr(f.ClusterRecovery))
		}
		jain := "-"
		if p := r.Baseline(); p != nil && p.New != nil {
			jain = fmt.Sprintf("%.3f", p.New.Jain)
		}
		var worst report.Duration
		for _, p := range r.Phases {
			worst = max(worst, p.Latency.P99)
		}
		p99 := worst.String() + " (worst phase)"
		gate := "ok"
		if ok, why := r.Gate(); !ok {
			gate = "MISS: " + why
		} else if r.Verdict != report.Pass {
			gate = "ok: " + why
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f%%\t%.2f\t%s\t%s\t%s\t%s\n", r.Scenario, strings.ToUpper(string(r.Verdict)), gate, r.Requests, 100*r.Availability,
			r.Budget.Consumed, orDash(strings.Join(rec, ",")), orDash(strings.Join(crec, ",")), jain, p99)
	}
	tw.Flush()
	if repeat > 1 {
		byName := map[string][]float64{}
		for _, r := range results {
			for _, f := range r.Faults {
				if f.Recovery != nil {
					byName[r.Scenario] = append(byName[r.Scenario], f.Recovery.D().Seconds())
				}
			}
		}
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			m, lo, hi := meanCI(byName[n])
			fmt.Fprintf(w, "%s: client recovery mean %.2fs, 95%% CI [%.2fs, %.2fs] over %d fault(s)\n", n, m, lo, hi, len(byName[n]))
		}
	}
}

// meanCI is the mean and a 95% confidence interval (normal approximation,
// t-quantiles for small n).
func meanCI(xs []float64) (mean, lo, hi float64) {
	n := float64(len(xs))
	if n == 0 {
		return 0, 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if n < 2 {
		return mean, mean, mean
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / (n - 1))
	t := []float64{0, 12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23}
	q := 1.96
	if int(n)-1 < len(t) {
		q = t[int(n)-1]
	}
	h := q * sd / math.Sqrt(n)
	return mean, mean - h, mean + h
}

// clientRecovery never prints "no impact" and "not recovered" the same way.
func clientRecovery(f report.FaultResult) string {
	switch {
	case f.Recovery != nil:
		return f.Recovery.String()
	case !f.Impact:
		return "no impact"
	default:
		return "NOT RECOVERED"
	}
}

func durOr(d *report.Duration) string {
	if d == nil {
		return "-"
	}
	return d.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
