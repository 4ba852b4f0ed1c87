package faults

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aftershock-dev/aftershock/report"
)

// Spec is one fault entry of a scenario: what, on which targets, when.
type Spec struct {
	Type string
	// Schedule: first at At (from the start of load), then every Every,
	// Count times (default 1); each lasts For (reversible faults only;
	// default DefaultFor).
	At, Every, For time.Duration
	Count          int
	// Pod targets (pod-kill, container-kill, network-*): how many of the
	// app's pods, by count or percent (default 1 pod).
	Pods    int
	Percent int
	// GracePeriod for pod-kill; nil means the pod's own.
	GracePeriod *time.Duration
	// Node targets (node-*): a worker chosen with the seed among those that
	// run app pods; Node names one explicitly.
	Node string
	// Pin, set by a replay, makes the fault hit the same victims as the run
	// it replays: pods on the same nodes at the same positions, the same
	// node; where none is there, the seeded choice.
	Pin []report.Victim `json:"-"`
	// Delay and Jitter for network-delay; Loss (0..1) for network-loss.
	Delay, Jitter time.Duration
	Loss          float64
	// Replicas for scale: the count to scale the workload to (nil: not set).
	Replicas *int32
	// The change of a rollout: a new image (a one-container template),
	// environment variables for every container, and/or a strategic-merge
	// patch of the pod template.
	Image string
	Env   map[string]string
	Patch map[string]any
	// Set and Values of a helm-upgrade: --set overrides and values files
	// on top of the app's own.
	Set    map[string]string
	Values []string
	// Scope of a network-partition: "pods" (default: the chosen pods from
	// everything) or "node" (a worker from every other node).
	Scope string
	// Target, when set, is a label selector of other pods in the scenario's
	// namespace to hit instead of the app's (e.g. "app=redis"); TargetPort
	// is their container port for network faults (default: the app's).
	Target     string
	TargetPort int
	// TargetNamespace, when set, is where Target's pods live instead of the
	// scenario's namespace: only a namespace the Env allows (the Ingress
	// controller's, which aftershock installed); never kube-system.
	TargetNamespace string
}

// Bounds of a schedule: parsing any spec stays small and fast.
const (
	MaxCount  = 100
	MinEvery  = 100 * time.Millisecond
	MaxOffset = 30 * time.Minute
)

// DefaultFor is how long a reversible fault lasts when For is zero.
const DefaultFor = 20 * time.Second

// Validate checks a spec on its own; field names in errors are the YAML ones.
func (s Spec) Validate() error {
	typ, err := TypeOf(s.Type)
	switch {
	case err != nil:
		return err
	case s.At < 0:
		return fmt.Errorf("at %s: must not be negative", s.At)
	case s.Count < 0:
		return fmt.Errorf("count %d: must not be negative", s.Count)
	case s.Count > MaxCount:
		return fmt.Errorf("count %d: at most %d occurrences of one fault", s.Count, MaxCount)
	case s.Count > 1 && s.Every <= 0:
		return fmt.Errorf("count %d needs every > 0", s.Count)
	case s.Count > 1 && s.Every < MinEvery:
		return fmt.Errorf("every %s: at least %s between occurrences", s.Every, MinEvery)
	case s.At > MaxOffset || s.Every > MaxOffset || s.For > MaxOffset:
		return fmt.Errorf("at %s / every %s / for %s: at most %s each (the longest load)", s.At, s.Every, s.For, MaxOffset)
	case s.Pods < 0 || s.Percent < 0 || s.Percent > 100:
		return fmt.Errorf("pods %d / percent %d: want pods >= 0 and percent in 0..100", s.Pods, s.Percent)
	case s.Pods > 0 && s.Percent > 0:
		return fmt.Errorf("pods %d and percent %d: give one, not both", s.Pods, s.Percent)
	case s.Type == NetworkDelay && s.Delay <= 0:
		return fmt.Errorf("delay %s: network-delay needs delay > 0", s.Delay)
	case s.Type == NetworkDelay && s.Jitter > s.Delay:
		return fmt.Errorf("jitter %s: must not exceed delay %s", s.Jitter, s.Delay)
	case s.Type == NetworkLoss && (s.Loss <= 0 || s.Loss > 1):
		return fmt.Errorf("loss %v: network-loss needs a fraction in (0, 1]", s.Loss)
	case s.Type == Scale && (s.Replicas == nil || *s.Replicas < 0 || *s.Replicas > MaxReplicas):
		return fmt.Errorf("replicas %s: scale needs replicas in 0..%d", fmtReplicas(s.Replicas), MaxReplicas)
	case s.Type == Rollout && s.Image == "" && len(s.Env) == 0 && len(s.Patch) == 0:
		return fmt.Errorf("rollout needs a change: image, env or patch (a restart without one is rollout-restart)")
	case s.Type == Rollout && s.Patch != nil && s.Patch["spec"] != nil && (s.Image != "" || len(s.Env) > 0):
		return fmt.Errorf("patch changes the pod spec: put the image and env in it too (one change, one patch)")
	case s.Type == HelmUpgrade && len(s.Set) == 0 && len(s.Values) == 0:
		return fmt.Errorf("helm-upgrade needs a change: set or values")
	case s.Scope != "" && s.Scope != ScopePods && s.Scope != ScopeNode:
		return fmt.Errorf("scope %q: want %q or %q", s.Scope, ScopePods, ScopeNode)
	case s.Scope != "" && !typ.NodeScope:
		return fmt.Errorf("scope %q: only %s has a scope", s.Scope, strings.Join(scoped(), ", "))
	case !Reversible(s.Type) && s.For > 0:
		return fmt.Errorf("for %s: %s cannot be undone, so it has no duration", s.For, s.Type)
	case Reversible(s.Type) && s.Every > 0 && s.Every <= s.duration():
		return fmt.Errorf("every %s: must be longer than for %s (occurrences of one fault must not overlap)", s.Every, s.duration())
	}
	return s.onlyItsOptions(typ)
}

// onlyItsOptions refuses a field the type does not read (it would be
// ignored without a word).
func (s Spec) onlyItsOptions(typ Type) error {
	set := []struct {
		name string
		on   bool
	}{
		{"pods", s.Pods > 0}, {"percent", s.Percent > 0}, {"gracePeriod", s.GracePeriod != nil},
		{"node", s.Node != ""}, {"delay", s.Delay > 0}, {"jitter", s.Jitter > 0}, {"loss", s.Loss > 0},
		{"target", s.Target != "" || s.TargetNamespace != ""}, // targetPort: set with target (target.ingress sets it)
		{"replicas", s.Replicas != nil}, {"image", s.Image != ""}, {"env", len(s.Env) > 0}, {"patch", s.Patch != nil},
		{"set", len(s.Set) > 0}, {"values", len(s.Values) > 0},
	}
	for _, o := range set {
		if o.on && !slices.Contains(typ.Options, o.name) {
			return fmt.Errorf("%s: %s does not take it (its options: %s)", o.name, s.Type, strings.Join(typ.Options, ", "))
		}
	}
	return nil
}

func (s Spec) duration() time.Duration {
	if !Reversible(s.Type) {
		return 0
	}
	if s.For > 0 {
		return s.For
	}
	return DefaultFor
}

// Occurrence is one scheduled injection.
type Occurrence struct {
	ID   string // e.g. pod-kill-1
	Spec Spec
	At   time.Duration // from the start of load
	For  time.Duration // 0 for faults that are not reverted after a while
}

// Plan expands specs into occurrences sorted by time, each with an ID of
// its type and ordinal.
func Plan(specs []Spec) []Occurrence {
	var out []Occurrence
	for _, s := range specs {
		n := max(s.Count, 1)
		for k := 0; k < n; k++ {
			out = append(out, Occurrence{Spec: s, At: s.At + time.Duration(k)*s.Every, For: s.duration()})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	seen := map[string]int{}
	for i := range out {
		seen[out[i].Spec.Type]++
		out[i].ID = fmt.Sprintf("%s-%d", out[i].Spec.Type, seen[out[i].Spec.Type])
	}
	return out
}

// End is when the last occurrence of the plan is over (from the start).
func End(plan []Occurrence) time.Duration {
	var end time.Duration
	for _, o := range plan {
		end = max(end, o.At+o.For)
	}
	return end
}

// Timeline collects events from many goroutines.
type Timeline struct {
	mu     sync.Mutex
	events []report.Event
	notify func(report.Event)
}

// NewTimeline returns a timeline that also calls notify (may be nil) for
// each event, e.g. to print progress.
func NewTimeline(notify func(report.Event)) *Timeline { return &Timeline{notify: notify} }

// Add records an event.
func (t *Timeline) Add(e report.Event) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	t.mu.Lock()
	t.events = append(t.events, e)
	t.mu.Unlock()
	if t.notify != nil {
		t.notify(e)
	}
}

// Events returns a sorted copy.
func (t *Timeline) Events() []report.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]report.Event(nil), t.events...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Runner applies a plan to a cluster.
type Runner struct {
	Env      *Env
	Reverts  *Reverts
	Timeline *Timeline
	// Pins are the victims to hit again, by occurrence ID (a replay).
	Pins map[string][]report.Victim
	// VerifyTimeout bounds each fault's Verify (default 90s).
	VerifyTimeout time.Duration
}

// Run applies plan relative to start: it waits for each occurrence,
// registers its revert, injects, verifies in the background, and reverts
// after its duration (occurrences of different specs may overlap). It
// returns the faults as report.Fault once all are done or ctx is cancelled
// (the caller's Reverts.RevertAll then undoes what is still active).
func (r *Runner) Run(ctx context.Context, start time.Time, plan []Occurrence) ([]report.Fault, error) {
	if r.VerifyTimeout == 0 {
		r.VerifyTimeout = 90 * time.Second
	}
	st := &runState{}
	for _, occ := range plan {
		if err := sleepUntil(ctx, start.Add(occ.At)); err != nil {
			st.fail(err)
			return st.result()
		}
		spec := occ.Spec
		if pin, ok := r.Pins[occ.ID]; ok {
			spec.Pin = pin
		}
		f, err := New(spec, r.Env)
		if err != nil {
			st.fail(fmt.Errorf("fault %s: %w", occ.ID, err))
			return st.result()
		}
		revert := r.Reverts.Push(occ.ID, f.Revert)
		injectAt := time.Now()
		r.Timeline.Add(report.Event{At: injectAt, Fault: occ.ID, Kind: "inject", Detail: occ.Spec.Type})
		inj, err := safeInject(ctx, f)
		i := st.add(report.Fault{ID: occ.ID, Type: occ.Spec.Type, Target: inj.Target, Victims: inj.Victims, Method: inj.Method, Inject: injectAt, ExpectedDelay: report.Duration(inj.ExpectedDelay), Deploy: occ.Spec.Deploy()})
		if err != nil {
			r.Timeline.Add(report.Event{Fault: occ.ID, Kind: "inject-failed", Detail: err.Error()})
			rerr := revert(context.WithoutCancel(ctx))
			st.fail(fmt.Errorf("inject %s: %w", occ.ID, errorsJoin(err, rerr)))
			return st.result()
		}
		inPlace := time.Now()
		st.set(i, func(f *report.Fault) { f.InPlace = &inPlace })
		r.Timeline.Add(report.Event{At: inPlace, Fault: occ.ID, Kind: "injected", Detail: fmt.Sprintf("%s (%s) in %s", inj.Target, inj.Method, inPlace.Sub(injectAt).Round(time.Millisecond))})
		if inj.Verify != nil {
			st.wg.Go(func() { r.verify(ctx, st, i, occ.ID, inj.Verify) })
		}
		if occ.For > 0 {
			st.wg.Go(func() { r.revertAt(ctx, st, i, occ.ID, injectAt.Add(occ.For), revert) })
		}
	}
	res, err := st.result()
	if err == nil {
		err = ctx.Err()
	}
	return res, err
}

// runState is what Run's occurrences and their background verifies and
// reverts share.
type runState struct {
	mu   sync.Mutex
	out  []report.Fault
	errs []error
	wg   sync.WaitGroup
}

func (st *runState) fail(err error) {
	st.mu.Lock()
	st.errs = append(st.errs, err)
	st.mu.Unlock()
}

// add appends a fault and returns its index.
func (st *runState) add(f report.Fault) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.out = append(st.out, f)
	return len(st.out) - 1
}

func (st *runState) set(i int, change func(*report.Fault)) {
	st.mu.Lock()
	change(&st.out[i])
	st.mu.Unlock()
}

// result waits for the background work and returns the faults and errors.
func (st *runState) result() ([]report.Fault, error) {
	st.wg.Wait()
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]report.Fault(nil), st.out...), errorsJoin(st.errs...)
}

// verify records whether fault i (id) was observed to land.
func (r *Runner) verify(ctx context.Context, st *runState, i int, id string, verify func(context.Context) (bool, string)) {
	defer func() {
		if p := recover(); p != nil {
			st.fail(fmt.Errorf("verify %s: panic: %v", id, p))
		}
	}()
	vctx, cancel := context.WithTimeout(ctx, r.VerifyTimeout)
	defer cancel()
	ok, why := verify(vctx)
	at := time.Now()
	st.set(i, func(f *report.Fault) {
		f.Landed, f.Evidence = &ok, why
		if ok {
			f.LandedAt = &at
		}
	})
	kind := "landed"
	if !ok {
		kind = "not-landed"
	}
	r.Timeline.Add(report.Event{Fault: id, Kind: kind, Detail: why})
}

// revertAt reverts fault i (id) at until, unless ctx ends first (the
// caller's RevertAll then undoes it).
func (r *Runner) revertAt(ctx context.Context, st *runState, i int, id string, until time.Time, revert func(context.Context) error) {
	if err := sleepUntil(ctx, until); err != nil {
		return
	}
	revertAt := time.Now()
	// a revert that has begun runs to its end: no cancel reaches it
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RevertTimeout)
	defer cancel()
	if err := revert(rctx); err != nil {
		r.Timeline.Add(report.Event{Fault: id, Kind: "revert-failed", Detail: err.Error()})
		st.fail(err)
		return
	}
	st.set(i, func(f *report.Fault) { f.Revert = revertAt })
	r.Timeline.Add(report.Event{At: revertAt, Fault: id, Kind: "revert", Detail: fmt.Sprintf("reverted in %s", time.Since(revertAt).Round(time.Millisecond))})
}

// safeInject runs Inject, turning a panic into an error (the caller then
// reverts whatever part of the fault was made).
func safeInject(ctx context.Context, f Fault) (inj Injected, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f.Inject(ctx)
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func errorsJoin(errs ...error) error {
	var keep []error
	for _, e := range errs {
		if e != nil {
			keep = append(keep, e)
		}
	}
	switch len(keep) {
	case 0:
		return nil
	case 1:
		return keep[0]
	}
	return fmt.Errorf("%w (and revert: %w)", keep[0], keep[1])
}
