package scenarios_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// A run's result.json embeds its scenario; replayed from it with the
// victims pinned, a pod kill hits a pod on the same node at the same
// position (pod names differ: the Deployment is new); pinned to the other
// worker, it hits that one.
func TestIntegrationReplayPinsVictims(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel() // its lease decides whether it runs beside the package's other tests
	e := sharedEnv(t)
	s := parse(t, `
name: replay-kill
seed: 42
app: {replicas: 3}
load: {rate: 50/s, duration: 16s}
faults:
  - {type: pod-kill, at: 5s, pods: 1}
slo: {availability: 95%}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // the lease may wait for scenarios side by side
	defer cancel()
	dir := t.TempDir()
	first, err := scenarios.Run(ctx, s, scenarios.Options{Env: e, Alone: true, Out: filepath.Join(dir, "first"), Progress: clustertest.LogWriter(t)})
	require.NoError(t, err)
	require.Len(t, first.Faults, 1)
	require.Len(t, first.Faults[0].Victims, 1)
	was := first.Faults[0].Victims[0]
	t.Logf("first run killed %s (node %s, position %d)", was.Pod, was.Node, was.Pos)

	// what `aftershock replay` does: the embedded spec, the same seed, the pins
	back, err := report.ReadFile(filepath.Join(dir, "first"))
	require.NoError(t, err)
	require.NotEmpty(t, back.Spec)
	again, err := scenarios.Parse([]byte(back.Spec), back.SpecFile)
	require.NoError(t, err)
	assert.Equal(t, s.Name, again.Name)
	pins := map[string][]report.Victim{}
	for _, f := range back.Faults {
		pins[f.ID] = f.Victims
	}
	second, err := scenarios.Run(ctx, again, scenarios.Options{Env: e, Alone: true, Seed: back.Seed, Pins: pins, Out: filepath.Join(dir, "second"), Progress: clustertest.LogWriter(t)})
	require.NoError(t, err)
	require.Len(t, second.Faults, 1)
	require.Len(t, second.Faults[0].Victims, 1)
	now := second.Faults[0].Victims[0]
	t.Logf("replay killed %s (node %s, position %d)", now.Pod, now.Node, now.Pos)
	assert.NotEqual(t, was.Pod, now.Pod, "a new Deployment: new pod names")
	assert.Equal(t, was.Node, now.Node, "the same node")
	assert.Equal(t, was.Pos, now.Pos, "the same position on it")

	// pinned elsewhere on purpose: the pin, not chance, picks the victim
	// (without pins each run hits one of 3 pods at random by name)
	other := report.Victim{Node: "worker", Pos: 0}
	if was.Node == "worker" {
		other.Node = "worker2"
	}
	third, err := scenarios.Run(ctx, again, scenarios.Options{Env: e, Alone: true, Seed: back.Seed, Pins: map[string][]report.Victim{"pod-kill-1": {other}}, Progress: clustertest.LogWriter(t)})
	require.NoError(t, err)
	require.Len(t, third.Faults[0].Victims, 1)
	assert.Equal(t, other.Node, third.Faults[0].Victims[0].Node)
	assert.Equal(t, 0, third.Faults[0].Victims[0].Pos)
}
