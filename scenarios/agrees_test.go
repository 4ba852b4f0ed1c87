package scenarios

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters"
)

// On a cluster aftershock did not create, every part of a scenario it
// cannot honour is refused at once, named by file and field, before
// anything is deployed.
func TestForeignClusterRefusesWhatItCannotDo(t *testing.T) {
	foreign := &clusters.Cluster{Name: "kind-theirs"}
	s, err := Parse([]byte(`
name: all-wrong
load: {rate: 10/s, duration: 10s}
faults:
  - {type: pod-kill, at: 2s}
  - {type: node-stop, at: 3s, for: 2s}
  - {type: network-delay, at: 3s, for: 2s, delay: 100ms}
slo: {availability: 99%}
`), "w.yaml")
	require.NoError(t, err)
	err = (&Env{Cluster: foreign}).agrees(context.Background(), s)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		"w.yaml: load.via: nodePort: cluster kind-theirs was not created by aftershock and publishes no NodePort on 127.0.0.1",
		"w.yaml: faults[1].type: node-stop: needs a kind cluster aftershock created",
		"w.yaml: faults[2].type: network-delay: needs a kind cluster",
		"the sample app run(s) the aftershock image, which its nodes must pull",
	} {
		assert.Contains(t, msg, want)
	}
	assert.NotContains(t, msg, "faults[0]", "pod-kill works through the API: %s", msg)

	s, err = Parse([]byte(`
name: ingress-own
load: {rate: 10/s, duration: 10s, via: ingress}
faults: [{type: pod-kill, at: 2s, target: {ingress: true}}]
slo: {availability: 99%}
`), "i.yaml")
	require.NoError(t, err)
	err = (&Env{Cluster: foreign, ImageRepo: "reg.example/team"}).agrees(context.Background(), s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "i.yaml: load.via: ingress: cluster kind-theirs was not created by aftershock: give its Ingress controller's address on this machine with --ingress-address")
	assert.Contains(t, err.Error(), "i.yaml: faults[0].target.ingress: true: cluster kind-theirs's Ingress controller was not installed by aftershock")

	s, err = Parse([]byte(`
name: fine
load: {rate: 30/s, duration: 10s, via: inCluster}
faults: [{type: pod-kill, at: 2s}, {type: node-drain, at: 4s, for: 3s}]
slo: {availability: 99%}
`), "ok.yaml")
	require.NoError(t, err)
	require.NoError(t, (&Env{Cluster: foreign, ImageRepo: "reg.example/team"}).agrees(context.Background(), s))
	err = (&Env{Cluster: foreign}).agrees(context.Background(), s)
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "--image-repo REPO"), err.Error())
	// aftershock's own clusters are not held to it
	require.NoError(t, (&Env{Cluster: &clusters.Cluster{Name: "aftershock-x", Managed: true, Kind: true}}).agrees(context.Background(), s))
}

// An own app's cluster-scoped objects on a foreign cluster need their own
// explicit flag.
func TestForeignClusterScopedNeedsItsOwnFlag(t *testing.T) {
	s, err := Parse([]byte(`
name: cs
load: {rate: 30/s, duration: 10s, via: inCluster}
faults: [{type: pod-kill, at: 2s}]
slo: {availability: 99%}
`), "cs.yaml")
	require.NoError(t, err)
	s.App.Own = &OwnApp{AllowClusterScoped: true}
	e := &Env{Cluster: &clusters.Cluster{Name: "kind-theirs"}, ImageRepo: "reg.example/team", AllowForeignCluster: true}
	err = e.foreignAgrees(s, func(f string) string { return "cs.yaml: " + f })
	require.ErrorContains(t, err, "cs.yaml: app.allowClusterScoped: true: cluster kind-theirs was not created by aftershock; creating cluster-scoped objects there needs the explicit flag --allow-foreign-cluster-scoped")
	e.AllowForeignClusterScoped = true
	require.NoError(t, e.foreignAgrees(s, func(f string) string { return f }))
}
