package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/report"
)

// Marker is put on everything a fault leaves in a cluster while it is
// active (annotation key, iptables comment prefix, agent name), so Clean can
// find leftovers.
const Marker = "aftershock.dev/fault"

// Fault is one change to a running cluster.
type Fault interface {
	// Inject makes the change. Whatever part of it was made, Revert undoes,
	// also when Inject fails half-way.
	Inject(ctx context.Context) (Injected, error)
	// Revert undoes Inject. It is idempotent and safe before Inject.
	Revert(ctx context.Context) error
}

// Injected says what Inject did.
type Injected struct {
	Target        string          // e.g. pod or node names
	Victims       []report.Victim // what it hit (node, position), for replay
	Method        string          // how, e.g. "tc netem" or "userspace proxy (toxiproxy)"
	ExpectedDelay time.Duration   // latency faults: what clients should see added
	// Verify waits (bounded by ctx) until the fault's effect is observed in
	// the cluster and says whether it was, with evidence. Nil: not checkable.
	Verify func(ctx context.Context) (bool, string)
}

// Env is what faults act on.
type Env struct {
	Cluster   *clusters.Cluster
	Namespace string // the scenario's namespace
	Selector  string // label selector of the app's pods
	// AppPort is the container port the app's pods serve on (default
	// AppPort, the sample app's): network faults act on it.
	AppPort int
	Rand    *rand.Rand
	Log     *slog.Logger
	// AllowForeignCluster permits destructive faults on clusters aftershock
	// did not create.
	AllowForeignCluster bool
	// AllowNamespaces lists namespaces besides Namespace that faults may
	// touch. kube-system is never touched unless listed here.
	AllowNamespaces []string
	// RunID marks what this run leaves behind (defaults to a random id).
	RunID string
	// Upgrade renders the app's Helm chart again with set and values on
	// top of its own and applies it as the new state (helm-upgrade); it
	// says what it applied. Nil: the app is no Helm chart.
	Upgrade func(ctx context.Context, set map[string]string, values []string) (string, error)

	// nodeList lists the cluster's node containers (tests replace it);
	// nil: kind's own node list (Cluster.NodeContainers).
	nodeList func() ([]string, error)
}

// kindNode refuses a node name that is not one of this kind cluster's own
// node containers (as kind lists them), before any Docker call acts on it:
// a Node object named like another local container never reaches Docker.
func (e *Env) kindNode(node string) error {
	list := e.nodeList
	if list == nil {
		list = e.Cluster.NodeContainers
	}
	names, err := list()
	if err != nil {
		return fmt.Errorf("list the node containers of cluster %q: %w", e.Cluster.Name, err)
	}
	if !slices.Contains(names, node) {
		return fmt.Errorf("node %q is not a node container of kind cluster %q (its nodes: %s); refusing to act on a Docker container by name", node, e.Cluster.Name, strings.Join(names, ", "))
	}
	return nil
}

// selector is the label selector of the pods a fault of spec s targets.
func (e *Env) selector(s Spec) string {
	if s.Target != "" {
		return s.Target
	}
	return e.Selector
}

// namespace is where the pods a fault of spec s targets live.
func (e *Env) namespace(s Spec) string {
	if s.TargetNamespace != "" {
		return s.TargetNamespace
	}
	return e.Namespace
}

// port is the container port network faults of spec s act on.
func (e *Env) port(s Spec) int {
	switch {
	case s.TargetPort > 0:
		return s.TargetPort
	case e.AppPort > 0:
		return e.AppPort
	}
	return AppPort
}

func (e *Env) log() *slog.Logger {
	if e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// checkNamespace refuses namespaces the fault may not touch.
func (e *Env) checkNamespace(ns string) error {
	if ns == e.Namespace && ns != "kube-system" {
		return nil
	}
	if slices.Contains(e.AllowNamespaces, ns) {
		return nil
	}
	return fmt.Errorf("namespace %q: faults touch only the scenario's namespace %q unless allowed", ns, e.Namespace)
}

// checkDestructive refuses clusters aftershock did not create.
func (e *Env) checkDestructive(what string) error {
	if e.Cluster == nil {
		return errors.New(what + ": no cluster")
	}
	if !e.Cluster.Managed && !e.AllowForeignCluster {
		return fmt.Errorf("%s: cluster %q was not created by aftershock; refusing without the explicit allow flag", what, e.Cluster.Name)
	}
	return nil
}

// checkKind refuses faults that need kind node containers on other clusters.
func (e *Env) checkKind(what string) error {
	if err := e.checkDestructive(what); err != nil {
		return err
	}
	if !e.Cluster.Kind {
		return fmt.Errorf("%s: needs a kind cluster (nodes are Docker containers)", what)
	}
	return nil
}

// Reverts is a stack of revert functions. Register before Inject; RevertAll
// runs every one (last first) and joins their errors. Safe for concurrent use.
type Reverts struct {
	mu  sync.Mutex
	fns []*revertFn
}

type revertFn struct {
	name string
	fn   func(context.Context) error
	mu   sync.Mutex // one run at a time: the schedule's and RevertAll's
	done bool       // set only when the revert succeeded
}

// Push registers a revert; it returns a func that runs it now (once it has
// succeeded; a failed revert stays pending for RevertAll to retry).
func (r *Reverts) Push(name string, fn func(context.Context) error) func(context.Context) error {
	f := &revertFn{name: name, fn: fn}
	r.mu.Lock()
	r.fns = append(r.fns, f)
	r.mu.Unlock()
	return func(ctx context.Context) error { return f.run(ctx) }
}

// RevertRetryFor bounds how long one call retries a failing revert (with
// backoff from 100 ms doubling to 5 s), within its context's deadline.
var RevertRetryFor = 30 * time.Second

// run runs the revert until it succeeds, retrying with backoff until the
// context's deadline or RevertRetryFor; it is a no-op once it succeeded.
func (f *revertFn) run(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return nil
	}
	deadline := time.Now().Add(RevertRetryFor)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := safeCall(ctx, f.fn)
		if err == nil {
			f.done = true
			return nil
		}
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("revert %s (%d attempt(s)): %w", f.name, attempt, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// safeCall runs fn, turning a panic into an error.
func safeCall(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx)
}

// Pending is the number of reverts that have not succeeded yet.
func (r *Reverts) Pending() int {
	r.mu.Lock()
	fns := append([]*revertFn(nil), r.fns...)
	r.mu.Unlock()
	n := 0
	for _, f := range fns {
		f.mu.Lock()
		if !f.done {
			n++
		}
		f.mu.Unlock()
	}
	return n
}

// RevertTimeout bounds each revert on its own: one slow revert (a node that
// takes long to be Ready again) never leaves the others an expired context.
var RevertTimeout = 3 * time.Minute

// RevertAll runs every pending revert, last registered first, each with a
// fresh context of its own (RevertTimeout) that no cancel reaches (the
// caller's may already be cancelled), each retried with backoff; it joins
// every error. In all it takes at most Pending() x RevertTimeout.
func (r *Reverts) RevertAll() error {
	r.mu.Lock()
	fns := append([]*revertFn(nil), r.fns...)
	r.mu.Unlock()
	var errs []error
	for i := len(fns) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), RevertTimeout)
		errs = append(errs, fns[i].run(ctx))
		cancel()
	}
	return errors.Join(errs...)
}

// Event is a timeline entry (alias of report.Event: faults produce them,
// report reads them).
type Event = report.Event
