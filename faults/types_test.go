package faults

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The table decides, per type, what the runner and the parallel rule do:
// node-level types take the cluster alone, pod-scoped ones run side by side.
func TestTypeTable(t *testing.T) {
	want := map[string]struct{ kind, node, reversible, outage bool }{
		PodKill:          {false, false, false, false},
		ContainerKill:    {true, false, false, false},
		NodeDrain:        {false, true, true, false},
		NodeStop:         {true, true, true, true},
		NodePause:        {true, true, true, true},
		NetworkDelay:     {true, false, true, false},
		NetworkLoss:      {true, false, true, false},
		NetworkPartition: {true, false, true, false},
		RolloutRestart:   {false, false, false, false},
		Rollout:          {false, false, false, false},
		Rollback:         {false, false, false, false},
		HelmUpgrade:      {false, false, false, false},
		Scale:            {false, false, true, false},
	}
	require.Len(t, Types, len(want))
	for _, name := range Types {
		w, ok := want[name]
		require.True(t, ok, name)
		s := Spec{Type: name}
		assert.Equal(t, w.kind, NeedsKind(name), "%s kind", name)
		assert.Equal(t, w.node, s.NodeLevel(), "%s node-level", name)
		assert.Equal(t, w.reversible, Reversible(name), "%s reversible", name)
		assert.Equal(t, w.outage, s.NodeOutage(), "%s takes a node down", name)
		tt, err := TypeOf(name)
		require.NoError(t, err)
		if tt.Reversible {
			assert.NotEmpty(t, tt.Leaves, "%s: a reversible fault says what it may leave behind", name)
		}
		f := tt.new(s, &Env{}, "tag")
		require.NotNil(t, f, name)
	}
	assert.True(t, Spec{Type: NetworkPartition, Scope: ScopeNode}.NodeLevel(), "a node-scoped partition is node-level")
	assert.True(t, Spec{Type: NetworkPartition, Scope: ScopeNode}.NodeOutage(), "a node-scoped partition cuts the node off")
	assert.True(t, AnyNodeOutage([]Spec{{Type: PodKill}, {Type: NodePause}}))
	assert.False(t, AnyNodeOutage([]Spec{{Type: NodeDrain}, {Type: NetworkPartition, Scope: ScopePods}}), "a drained node keeps running")
	assert.Equal(t, "*faults.nodePartition", fmt.Sprintf("%T", typeOf(NetworkPartition).new(Spec{Type: NetworkPartition, Scope: ScopeNode}, &Env{}, "t")))
	assert.Equal(t, "*faults.podNetwork", fmt.Sprintf("%T", typeOf(NetworkPartition).new(Spec{Type: NetworkPartition}, &Env{}, "t")))
	assert.Equal(t, []string{PodKill, NodeDrain, RolloutRestart, Rollout, Rollback, HelmUpgrade, Scale}, APIOnly())
	assert.Equal(t, []string{RolloutRestart, Rollout, Rollback, HelmUpgrade, Scale}, DeployTypes)
	assert.True(t, AnyNodeLevel([]Spec{{Type: PodKill}, {Type: NodeDrain}}))
	assert.False(t, AnyNodeLevel([]Spec{{Type: PodKill}, {Type: NetworkDelay}}))
	_, err := TypeOf("node-explode")
	assert.ErrorContains(t, err, `type "node-explode": want one of pod-kill, container-kill`)
	assert.ErrorContains(t, Spec{Type: PodKill, Scope: ScopeNode}.Validate(), "only network-partition has a scope")
	// a field the type does not read is refused, not ignored
	assert.ErrorContains(t, Spec{Type: NodeDrain, Pods: 2}.Validate(), "pods: node-drain does not take it (its options: node, for)")
	assert.ErrorContains(t, Spec{Type: RolloutRestart, Delay: 1}.Validate(), "delay: rollout-restart does not take it")
	assert.NoError(t, Spec{Type: RolloutRestart, Target: "app=api"}.Validate())
	assert.ErrorContains(t, Spec{Type: Rollout}.Validate(), "rollout needs a change: image, env or patch")
	assert.ErrorContains(t, Spec{Type: RolloutRestart, Image: "x:1"}.Validate(), "image: rollout-restart does not take it")
	assert.ErrorContains(t, Spec{Type: Rollout, Image: "x:1", Patch: map[string]any{"spec": map[string]any{}}}.Validate(), "put the image and env in it too")
	assert.NoError(t, Spec{Type: Rollout, Env: map[string]string{"V": "2"}}.Validate())
}
