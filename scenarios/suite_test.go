package scenarios

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/report"
)

// Scenarios side by side: at most Parallel at once, outcomes in the specs'
// order whatever order they end in, repeats with their own seeds and
// folders, an errored run counted.
func TestSuiteRunsSideBySideInOrder(t *testing.T) {
	var specs []*Spec
	for i := range 6 {
		specs = append(specs, &Spec{Name: fmt.Sprintf("s%d", i), Seed: 10})
	}
	var (
		now, most atomic.Int32
		mu        sync.Mutex
		seen      []string
	)
	su := Suite{Options: Options{Out: "out"}, Parallel: 3, Repeat: 2, run: func(ctx context.Context, s *Spec, o Options) (*report.Result, error) {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		// later specs end first
		time.Sleep(time.Duration(60-10*int(s.Name[1]-'0')) * time.Millisecond)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s seed %d in %s", s.Name, o.Seed, o.Out))
		mu.Unlock()
		if s.Name == "s4" && o.Seed == 11 {
			return nil, errors.New("boom")
		}
		return &report.Result{Scenario: s.Name, Verdict: report.Pass, Requests: 100}, nil
	}}
	outs := su.Run(context.Background(), specs)
	require.Len(t, outs, 6)
	assert.EqualValues(t, 3, most.Load(), "three at once, never more")
	for i, o := range outs {
		assert.Equal(t, specs[i], o.Spec, "outcome %d in the specs' order", i)
	}
	assert.Contains(t, seen, "s0 seed 10 in "+filepath.Join("out", "s0-1"))
	assert.Contains(t, seen, "s0 seed 11 in "+filepath.Join("out", "s0-2"))
	assert.Len(t, outs[0].Runs, 2)
	require.Len(t, outs[0].Gated, 1)
	assert.NotNil(t, outs[0].Gated[0].Repeats, "the gate follows the verdict over the repeats")
	assert.Len(t, outs[4].Runs, 1)
	assert.ErrorContains(t, outs[4].Err, "s4: boom")
	require.Len(t, outs[4].Gated, 1)
	assert.Equal(t, 1, outs[4].Gated[0].Repeats.Errored, "the errored repeat counts in the verdict over the repeats")
}

// Side by side, the scenarios that take the cluster alone start after the
// others (their outcomes still in the specs' order); one at a time, in the
// specs' order.
func TestSuiteStartsAloneOnesLast(t *testing.T) {
	drain := &Spec{Name: "drain", Faults: []faults.Spec{{Type: faults.NodeDrain}}}
	ing := &Spec{Name: "ing", Load: LoadSpec{Via: ViaIngress}}
	specs := []*Spec{drain, {Name: "a"}, ing, {Name: "b"}}
	for par, want := range map[int][]string{1: {"drain", "a", "ing", "b"}, 2: {"a", "b", "drain", "ing"}} {
		var mu sync.Mutex
		var started []string
		su := Suite{Parallel: par, run: func(_ context.Context, s *Spec, _ Options) (*report.Result, error) {
			mu.Lock()
			started = append(started, s.Name)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			return &report.Result{Scenario: s.Name, Verdict: report.Pass}, nil
		}}
		outs := su.Run(context.Background(), specs)
		if par == 2 { // the two alone ones start after both side by side ones
			assert.ElementsMatch(t, want[:2], started[:2], "parallel %d", par)
			assert.ElementsMatch(t, want[2:], started[2:], "parallel %d", par)
		} else {
			assert.Equal(t, want, started)
		}
		for i, o := range outs {
			assert.Equal(t, specs[i], o.Spec, "outcome %d in the specs' order", i)
		}
	}
}

// One at a time by default; a cancelled suite starts nothing more.
func TestSuiteStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran []string
	su := Suite{run: func(_ context.Context, s *Spec, _ Options) (*report.Result, error) {
		ran = append(ran, s.Name)
		cancel()
		return nil, context.Canceled
	}}
	outs := su.Run(ctx, []*Spec{{Name: "a"}, {Name: "b"}})
	assert.Equal(t, []string{"a"}, ran)
	require.Len(t, outs, 2)
	assert.Error(t, outs[1].Err)
	assert.Equal(t, "b", outs[1].Errored[0].Scenario)
}

// The parallel rule: node-level faults, the shared Ingress controller and
// a scenario that expects to fail take the cluster alone; pod-level and
// pod-scoped network faults do not.
func TestShippedScenariosAlone(t *testing.T) {
	files, err := Files(".")
	require.NoError(t, err)
	alone := func(cores int) map[string]string {
		was := clusters.SideBySide
		defer func() { clusters.SideBySide = was }()
		clusters.SideBySide = cores
		got := map[string]string{}
		for _, f := range files {
			s, err := ParseFile(f)
			require.NoError(t, err)
			if alone, why := s.Alone(); alone {
				got[s.Name] = why
			}
		}
		return got
	}
	want := map[string]string{
		"node-drain":              "node-drain hits whole nodes",
		"node-stop":               "node-stop hits whole nodes",
		"ingress-controller-kill": "pod-kill hits pods in namespace aftershock-ingress, shared by every scenario",
		"ingress-steady-state":    "its load goes through the shared Ingress controller, which it scales",
		"grpc-ingress":            "its load goes through the shared Ingress controller, which it scales",
		"autoscale-spike":         "its autoscaler scales on CPU use, which neighbours' load on the same nodes would move",
		// negative controls: a fail side by side was run again alone anyway
		"fragile-pod-kill":       "it expects to fail, and a fail counts only as seen alone",
		"grpc-clusterip-pinning": "it expects to fail, and a fail counts only as seen alone",
		"rollout-no-prestop":     "it expects to fail, and a fail counts only as seen alone",
		"rollout-no-readiness":   "it expects to fail, and a fail counts only as seen alone",
	}
	assert.Equal(t, want, alone(4))
	got := alone(2)
	for name := range want {
		if strings.HasPrefix(name, "rollout-") {
			continue // on 2 cores its deploy event is said first, below
		}
		assert.Equal(t, want[name], got[name])
		delete(got, name)
	}
	for name, why := range got {
		assert.True(t, strings.HasPrefix(name, "rollout-") || name == "scale-down" || name == "helm-upgrade", name)
		assert.Contains(t, why, "starts and stops the app's pods in bulk, which on 2 cores", name)
	}
	assert.GreaterOrEqual(t, len(got), 4, "the deploy scenarios take the cluster alone on 2 cores: %v", got)
	s := &Spec{Faults: []faults.Spec{{Type: faults.NetworkDelay}, {Type: faults.NetworkPartition, Scope: faults.ScopeNode}}}
	isAlone, why := s.Alone()
	assert.True(t, isAlone)
	assert.True(t, strings.HasPrefix(why, "network-partition"), why)
	s.Faults = s.Faults[:1]
	isAlone, _ = s.Alone()
	assert.False(t, isAlone, "a network fault on the scenario's own pods runs side by side")
}
