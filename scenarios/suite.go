package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/aftershock-dev/aftershock/clusters"

	"github.com/aftershock-dev/aftershock/report"
)

// Suite runs several scenarios, each Repeat times, up to Parallel of them
// at once on one cluster (each in its own namespace, each with a lease:
// see Alone), and gates each on its run or on its repeats.
type Suite struct {
	// Options of every run; Out is the folder of the suite (one subfolder
	// per scenario, or per scenario and repetition), Seed overrides the
	// specs' seeds (repeat i of a scenario uses seed+i).
	Options
	Repeat   int // runs per scenario (default 1)
	Parallel int // scenarios at once (default 1: one after another)
	// Written, when set, writes the verdict over a scenario's repeats
	// into its folder (the CLI's result.json and junit.xml).
	Written func(dir string, agg *report.Result) error

	run func(context.Context, *Spec, Options) (*report.Result, error) // Run; tests replace it
}

// Outcome is one scenario's runs and the result its gate follows.
type Outcome struct {
	Spec *Spec
	Runs []*report.Result // conclusive or not, every run that finished
	// Gated is what the gate follows: the run itself (Repeat 1), the
	// verdict over the repeats, or nil when every run errored.
	Gated   []*report.Result
	Errored []report.Errored
	Err     error // every run error, joined
}

// Run runs the suite and returns one Outcome per spec, in the specs'
// order whatever order they finished in. An interrupted suite (ctx done)
// starts no more scenarios; its series gate on nothing.
func (su Suite) Run(ctx context.Context, specs []*Spec) []Outcome {
	par := max(su.Parallel, 1)
	opts := su.Options
	if opts.Progress != nil && par > 1 {
		opts.Progress = &lineWriter{w: opts.Progress} // lines from several scenarios never interleave mid-line
	}
	outs := make([]Outcome, len(specs))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for _, i := range su.order(specs) {
		s := specs[i]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			outs[i] = Outcome{Spec: s, Err: ctx.Err(), Errored: []report.Errored{{Scenario: s.Name, Err: ctx.Err()}}}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outs[i] = su.series(ctx, s, opts)
		}()
	}
	wg.Wait()
	return outs
}

// order is the order scenarios start in: side by side ones first, then
// those that take the cluster alone (each waits for every scenario on the
// cluster to end, and keeps the others out: started among the others, it
// would hold back the side by side ones queued behind it). One at a time,
// the specs' order.
func (su Suite) order(specs []*Spec) []int {
	var side, alone []int
	for i, s := range specs {
		if a, _ := s.Alone(); (a || su.Alone) && su.Parallel > 1 {
			alone = append(alone, i)
		} else {
			side = append(side, i)
		}
	}
	return append(side, alone...)
}

// series runs one scenario Repeat times and gates it.
func (su Suite) series(ctx context.Context, s *Spec, opts Options) Outcome {
	repeat := max(su.Repeat, 1)
	o := Outcome{Spec: s}
	var failed []report.Errored
	for i := range repeat {
		ro := opts
		ro.Out = filepath.Join(su.Out, s.Name)
		if repeat > 1 {
			ro.Out = filepath.Join(su.Out, fmt.Sprintf("%s-%d", s.Name, i+1))
			if ro.Seed == 0 {
				ro.Seed = s.Seed + int64(i)
			}
		}
		if su.Out == "" {
			ro.Out = ""
		}
		run := su.run
		if run == nil {
			run = Run
		}
		res, err := run(ctx, s, ro)
		if err != nil {
			o.Err = errors.Join(o.Err, fmt.Errorf("%s: %w", s.Name, err))
			failed = append(failed, report.Errored{Scenario: s.Name, Err: err})
			if ctx.Err() != nil {
				break
			}
			continue
		}
		o.Runs = append(o.Runs, res)
	}
	switch {
	case repeat == 1 || ctx.Err() != nil:
		// one run gates alone; an interrupted series gates on nothing
		o.Gated, o.Errored = o.Runs, failed
	case len(o.Runs) == 0:
		errs := make([]error, len(failed))
		for i, f := range failed {
			errs[i] = f.Err
		}
		o.Errored = []report.Errored{{Scenario: s.Name, Err: fmt.Errorf("all %d repeats errored: %w", repeat, errors.Join(errs...))}}
	default:
		agg := report.Repeat(o.Runs, len(failed))
		o.Gated = []*report.Result{agg}
		if su.Written != nil && su.Out != "" {
			if err := su.Written(filepath.Join(su.Out, s.Name), agg); err != nil {
				o.Err = errors.Join(o.Err, err)
			}
		}
	}
	return o
}

// Alone reports whether a scenario takes its cluster alone (an exclusive
// lease) rather than running side by side with others, and why: faults
// that hit whole nodes (the fault-type table's rule) or the shared Ingress
// controller (load through it: its replicas are the scenario's, and a fault
// or a restart there reaches every scenario routed through it), and a
// negative control (expect: fail), whose fail is trusted only alone.
func (s *Spec) Alone() (bool, string) {
	for _, f := range s.Faults {
		if f.NodeLevel() {
			return true, fmt.Sprintf("%s hits whole nodes", f.Type)
		}
	}
	for _, f := range s.Faults {
		if f.TargetNamespace != "" {
			return true, fmt.Sprintf("%s hits pods in namespace %s, shared by every scenario", f.Type, f.TargetNamespace)
		}
	}
	if s.Load.Via == ViaIngress {
		return true, "its load goes through the shared Ingress controller, which it scales"
	}
	if s.App.Autoscale != nil {
		return true, "its autoscaler scales on CPU use, which neighbours' load on the same nodes would move"
	}
	if clusters.SideBySide < DeploySideBySideCores {
		for _, f := range s.Faults {
			if f.Deploy() {
				return true, fmt.Sprintf("%s starts and stops the app's pods in bulk, which on %d cores slows every scenario beside it", f.Type, clusters.SideBySide)
			}
		}
	}
	if s.Expect == report.Fail {
		// its fail counts only as seen alone: side by side, its fail was
		// run again alone every time (the first run wasted: 45 s each for
		// fragile-pod-kill and grpc-clusterip-pinning in session 15)
		return true, "it expects to fail, and a fail counts only as seen alone"
	}
	return false, ""
}

// DeploySideBySideCores is how many cores a machine needs before a
// scenario with a deploy event runs beside others: on 2 cores a rollout of
// 4 pods beside steady-state moved its p99 from under 250 ms to 379 ms
// (CI run 10), a wrong verdict for the neighbour. Nor do two deploy
// scenarios run beside each other there: paired on 2 cores (session 9),
// helm-upgrade failed for p99 1.38 s and rollout-zero-downtime for 144
// timed-out or reset requests, both passing alone.
const DeploySideBySideCores = 4

// lineWriter writes each Write whole under a lock.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
