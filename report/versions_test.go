package report

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A rollout's traffic by version: pods grouped by their ReplicaSet (the
// name without its random suffix), in the order they first served, each
// version's share per window; none without a deploy event or with one
// version only.
func TestVersionsFromPodNames(t *testing.T) {
	assert.Equal(t, "web-5d8f7c9b4", PodVersion("web-5d8f7c9b4-x2k9p"))
	assert.Equal(t, "", PodVersion("standalone"))
	assert.Equal(t, "db", PodVersion("db-0"), "a StatefulSet's pods are one version")

	old1, old2, new1 := "web-111-aaaaa", "web-111-bbbbb", "web-222-ccccc"
	r := &Result{Windows: []WindowStat{
		{Pods: map[string]PodCount{old1: {New: 5}, old2: {Reused: 5}}},
		{Pods: map[string]PodCount{old1: {New: 3}, new1: {New: 1}}},
		{Pods: map[string]PodCount{new1: {New: 4}}},
		{},
	}}
	assert.Nil(t, r.Versions(), "no deploy event")
	r.Faults = []FaultResult{{Fault: Fault{ID: "rollout-restart-1", Deploy: true, Inject: time.Now()}}}
	vs := r.Versions()
	assert.Equal(t, []string{"web-111", "web-222"}, vs, "the old version first")
	assert.Equal(t, []float64{1, 0}, VersionShare(r.Windows[0], vs))
	assert.Equal(t, []float64{0.75, 0.25}, VersionShare(r.Windows[1], vs))
	assert.Equal(t, []float64{0, 1}, VersionShare(r.Windows[2], vs))
	assert.Equal(t, []float64{0, 0}, VersionShare(r.Windows[3], vs), "nothing served")

	r.Windows = r.Windows[:1]
	assert.Nil(t, r.Versions(), "one version served: a scale, nothing to share")
}
