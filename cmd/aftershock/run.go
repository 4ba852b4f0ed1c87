package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// Exit codes.
const (
	exitFail         = 1 // a scenario failed its SLO, or an error
	exitInconclusive = 2 // no fail, but a fault could not be shown to have landed
	exitRegression   = 3 // compare found a regression
)

// maxParallel is the most scenarios side by side: one per published NodePort.
var maxParallel = 1 + len(clusters.ExtraAppNodePorts)

type runFlags struct {
	out          string
	keepCluster  bool
	seed         int64
	repeat       int
	parallel     int
	nodeImage    string
	kubeconfig   string
	allowForeign bool
	// allowForeignClusterScoped: an own app's cluster-scoped objects on a foreign cluster
	allowForeignClusterScoped bool
	clusterName               string
	verbose                   bool
	imageRepo                 string
	ingressAddr               string
	ingressClass              string
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
are inconclusive verdicts.

With --parallel N up to N scenarios run at once on the one cluster, each in
its own namespace with its own published NodePort, when their faults cannot
reach each other: pod-level faults and network faults on their own pods run
side by side; a scenario whose faults hit whole nodes (node-drain, node-stop,
node-pause, a node-scoped network-partition), whose load goes through the
shared Ingress controller, or that expects to fail (a fail side by side runs
again alone) takes the cluster alone, after the others. On a
kind cluster at most one scenario per CPU core of this machine runs at once
(the cluster runs on those cores too). Reports and junit.xml are per
scenario and in the files' order, as without it.

With --repeat N (N >= 2) each scenario runs N times (seeds seed, seed+1,
...), each into its own folder, and the gate is the verdict over the
repeats, written to --out/SCENARIO/result.json: the error budget pooled over
the conclusive repeats; per fault, pass when the upper one-sided 95% bound
of the mean client recovery (Student's t) is within slo.recovery, fail when
a repeat did not recover or the lower bound is above it, inconclusive
between; other checks by majority; inconclusive with fewer than 2
conclusive repeats or not more than half.

On a cluster aftershock did not create (--kubeconfig, only with
--allow-foreign-cluster) nothing is loaded into the nodes and no port is
published: the nodes pull the aftershock image (the sample app, load pods)
from --image-repo, load goes via inCluster, or via ingress to
--ingress-address, and only pod-kill and node-drain faults run (the others
need kind's node containers). Every run checks this before it deploys.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScenarios(cmd.Context(), f, args, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.out, "out", "reports", "folder for the reports (one subfolder per scenario and repetition)")
	fl.BoolVar(&f.keepCluster, "keep-cluster", false, "leave the cluster and each scenario's namespace (the app as the run left it) in place, to inspect or replay")
	fl.Int64Var(&f.seed, "seed", 0, "override every scenario's seed (victim choice)")
	fl.IntVar(&f.repeat, "repeat", 1, "run each scenario N times and gate on the repeats (pooled error budget, 95% t-bounds of recovery, majority for other checks; see `aftershock help run`)")
	fl.IntVar(&f.parallel, "parallel", 1, "run up to N scenarios at once on the one cluster, each in its own namespace; a scenario whose faults hit whole nodes (drain, stop, pause, node partition) or that goes through the shared Ingress controller takes the cluster alone")
	fl.StringVar(&f.nodeImage, "node-image", "", "kind node image (default: one present in Docker, else kind's default pulled, else the offline build)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "use this existing cluster instead of creating one (needs --allow-foreign-cluster)")
	fl.BoolVar(&f.allowForeign, "allow-foreign-cluster", false, "allow faults on a cluster aftershock did not create")
	fl.BoolVar(&f.allowForeignClusterScoped, "allow-foreign-cluster-scoped", false, "with --allow-foreign-cluster: also create an own app's cluster-scoped objects (app.allowClusterScoped) there; only absent ones are created and only those are deleted")
	fl.StringVar(&f.clusterName, "cluster", "", "reuse this aftershock kind cluster (see `aftershock list`)")
	fl.StringVar(&f.imageRepo, "image-repo", "", "with --kubeconfig: the repository the cluster's nodes pull the aftershock image from (REPO/aftershock:TAG; push it with `aftershock image --image-repo REPO --push`)")
	fl.StringVar(&f.ingressAddr, "ingress-address", "", "with --kubeconfig and load.via ingress: 127.0.0.1:PORT where the cluster's Ingress controller answers on this machine (its published NodePort or LoadBalancer; a kubectl port-forward dies at the first reset connection)")
	fl.StringVar(&f.ingressClass, "ingress-class", "", "with --ingress-address: the IngressClass of the scenario's Ingress (default: the cluster's default class)")
	fl.BoolVar(&f.verbose, "verbose", false, "log what the libraries do")
	return cmd
}

// loopbackAddress accepts HOST:PORT on this machine's loopback only: load
// from the host never goes anywhere else.
func loopbackAddress(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("want 127.0.0.1:PORT: %w", err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("host %q: load from this machine goes only to a loopback address (e.g. a kubectl port-forward on 127.0.0.1)", host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want 1..65535", port)
	}
	return nil
}

// checkRunFlags refuses flag combinations that cannot work, before
// anything is touched.
func checkRunFlags(f runFlags) error {
	if f.repeat < 1 {
		return fmt.Errorf("--repeat %d: must be >= 1", f.repeat)
	}
	if f.parallel < 1 || f.parallel > maxParallel {
		return fmt.Errorf("--parallel %d: want 1..%d (one published NodePort per scenario side by side)", f.parallel, maxParallel)
	}
	if f.kubeconfig == "" && (f.imageRepo != "" || f.ingressAddr != "" || f.ingressClass != "") {
		return errors.New("--image-repo, --ingress-address and --ingress-class are for a cluster aftershock did not create: give --kubeconfig too (aftershock's own clusters get images loaded and their own Ingress controller)")
	}
	if f.ingressClass != "" && f.ingressAddr == "" {
		return errors.New("--ingress-class needs --ingress-address")
	}
	if f.ingressAddr != "" {
		if err := loopbackAddress(f.ingressAddr); err != nil {
			return fmt.Errorf("--ingress-address %q: %w", f.ingressAddr, err)
		}
	}
	return nil
}

func runScenarios(ctx context.Context, f runFlags, files []string, stdout, stderr io.Writer) error {
	if err := checkRunFlags(f); err != nil {
		return err
	}
	var specs []*scenarios.Spec
	for _, file := range files {
		s, err := scenarios.ParseFile(file)
		if err != nil {
			return err
		}
		specs = append(specs, s)
	}
	return runSpecs(ctx, f, specs, nil, stdout, stderr)
}

// runSpecs runs parsed scenarios (pins: victims to hit again, a replay).
func runSpecs(ctx context.Context, f runFlags, specs []*scenarios.Spec, pins map[string][]report.Victim, stdout, stderr io.Writer) error {
	env, logger, closeEnv, err := openEnv(ctx, f, stderr)
	if err != nil {
		return err
	}
	defer closeEnv()

	if f.parallel > clusters.SideBySide {
		fmt.Fprintf(stderr, "--parallel %d: a kind cluster holds at most %d scenarios at once on this machine (one per CPU core: more starve each other's measurements); the others wait their turn\n", f.parallel, clusters.SideBySide)
	}
	suite := scenarios.Suite{
		Options:  scenarios.Options{Env: env, Out: f.out, Seed: f.seed, KeepNamespace: f.keepCluster, Pins: pins, Alone: pins != nil, Progress: stderr, Logger: logger},
		Repeat:   f.repeat,
		Parallel: f.parallel,
		Written:  writeRepeated,
	}
	var results, gated []*report.Result
	var errored []report.Errored
	var runErr error
	for _, o := range suite.Run(ctx, specs) {
		results = append(results, o.Runs...)
		gated = append(gated, o.Gated...)
		errored = append(errored, o.Errored...)
		runErr = errors.Join(runErr, o.Err)
	}
	// junit.xml always: every gated result and every scenario that errored
	if err := os.MkdirAll(f.out, 0o755); err == nil {
		_ = report.WriteFile(filepath.Join(f.out, report.FileJUnit), func(w io.Writer) error { return render.WriteJUnitRun(w, gated, errored) })
	}
	summary(stdout, results, gated, f.repeat)
	if f.repeat > 1 && runErr != nil && len(errored) == 0 && ctx.Err() == nil {
		// errored repeats are part of each aggregate verdict; say so and gate on those
		fmt.Fprintln(stderr, "aftershock: some repeats errored (counted in the verdicts over the repeats):", runErr)
		runErr = nil
	}
	if runErr != nil {
		return runErr
	}
	if code := gateCode(gated); code != 0 {
		return exitError{code}
	}
	return nil
}

// openEnv is the cluster the flags name (--kubeconfig, --cluster) or the
// node image a new one is made from, and what closes it (deletes a cluster
// it made, unless --keep-cluster).
func openEnv(ctx context.Context, f runFlags, stderr io.Writer) (*scenarios.Env, *slog.Logger, func(), error) {
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	env := &scenarios.Env{KeepCluster: f.keepCluster, AllowForeignCluster: f.allowForeign, AllowForeignClusterScoped: f.allowForeignClusterScoped, Logger: logger}
	switch {
	case f.kubeconfig != "" && f.clusterName != "":
		return nil, nil, nil, errors.New("--kubeconfig and --cluster: give one")
	case f.kubeconfig != "":
		c, err := clusters.FromKubeconfig(f.kubeconfig, f.allowForeign)
		if err != nil {
			return nil, nil, nil, err
		}
		env.Cluster = c
		env.ImageRepo, env.IngressAddress, env.IngressClass = f.imageRepo, f.ingressAddr, f.ingressClass
	case f.clusterName != "":
		c, err := clusters.Open(ctx, f.clusterName, logger)
		if err != nil {
			return nil, nil, nil, err
		}
		env.Cluster = c
	default:
		img := f.nodeImage
		if img == "" {
			c, err := nodeimage.Choose(ctx, nodeimage.ChooseOptions{Build: nodeimage.Options{Progress: stderr}})
			if err != nil {
				return nil, nil, nil, err
			}
			fmt.Fprintf(stderr, "node image %s: %s\n", c.Image, c.Why)
			img = c.Image
		}
		env.NodeImage = img
	}
	return env, logger, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if env.Cluster != nil && f.keepCluster {
			fmt.Fprintf(stderr, "cluster %s kept: KUBECONFIG=%s; reuse with --cluster %s; delete with `aftershock clean`\n", env.Cluster.Name, env.Cluster.Kubeconfig, env.Cluster.Name)
		}
		if err := env.Close(cctx); err != nil {
			fmt.Fprintln(stderr, "aftershock: delete cluster:", err)
		}
	}, nil
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

// summary prints one row per run and, with repeats, one per scenario for
// the verdict over its repeats (the one the exit code follows).
func summary(w io.Writer, results, gated []*report.Result, repeat int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tVERDICT\tGATE\tREQUESTS\tAVAILABILITY\tBUDGET\tRECOVERY (client)\tRECOVERY (cluster)\tJAIN\tP99")
	gate := func(r *report.Result) string {
		if ok, why := r.Gate(); !ok {
			return "MISS: " + why
		} else if r.Verdict != report.Pass {
			return "ok: " + why
		}
		return "ok"
	}
	for _, r := range results {
		var rec, crec []string
		for _, f := range r.Faults {
			rec = append(rec, f.ClientRecovery())
			crec = append(crec, durOr(f.ClusterRecovery))
		}
		jain := "-"
		if p := r.Baseline(); p != nil {
			if e, _ := p.Evenness(); e != nil {
				jain = fmt.Sprintf("%.3f", e.Jain)
			}
		}
		var worst report.Duration
		for _, p := range r.Phases {
			worst = max(worst, p.Latency.P99)
		}
		p99 := worst.String() + " (worst phase)"
		g := gate(r)
		if repeat > 1 {
			g = "(repeat)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f%%\t%.2f\t%s\t%s\t%s\t%s\n", r.Scenario, strings.ToUpper(string(r.Verdict)), g, r.Requests, 100*r.Availability,
			r.Budget.Consumed, orDash(strings.Join(rec, ",")), orDash(strings.Join(crec, ",")), jain, p99)
	}
	if repeat > 1 {
		for _, r := range gated {
			if r.Repeats == nil {
				continue
			}
			var rec []string
			for _, s := range r.Repeats.Recovery {
				rec = append(rec, fmt.Sprintf("%s (95%% ub %s)", s.Mean, s.Upper))
			}
			fmt.Fprintf(tw, "%s (%d repeats)\t%s\t%s\t%d\t%.3f%%\t%.2f\t%s\t-\t-\t-\n", r.Scenario, r.Repeats.Runs, strings.ToUpper(string(r.Verdict)), gate(r),
				r.Requests, 100*r.Availability, r.Budget.Consumed, orDash(strings.Join(rec, ", ")))
		}
	}
	tw.Flush()
	for _, r := range gated {
		if r.Repeats != nil {
			fmt.Fprintf(w, "%s over %d repeats: %s\n", r.Scenario, r.Repeats.Runs, strings.Join(r.Reasons, "; "))
		}
	}
}

// writeRepeated writes the verdict over a scenario's repeats (result.json,
// junit.xml) into dir.
func writeRepeated(dir string, agg *report.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, fn := range map[string]func(io.Writer) error{
		report.FileJSON:  func(w io.Writer) error { return report.WriteJSON(w, agg) },
		report.FileJUnit: func(w io.Writer) error { return render.WriteJUnit(w, agg) },
	} {
		if err := report.WriteFile(filepath.Join(dir, name), fn); err != nil {
			return err
		}
	}
	return nil
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
