package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/aftershock-dev/aftershock/clusters"
)

// The manifest decodes to upstream's objects, in aftershock's namespace,
// with the image and the kubelet flags a kind cluster needs.
func TestObjects(t *testing.T) {
	objs, err := Objects("example.test/ms:1")
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		switch o.GetKind() {
		case "ServiceAccount", "Service", "Deployment":
			assert.Equal(t, Namespace, o.GetNamespace(), o.GetName())
		case "RoleBinding":
			assert.Equal(t, "kube-system", o.GetNamespace(), "the extension-apiserver-authentication-reader Role lives there")
		case "Namespace":
			// aftershock's, but not a scenario's: clean's namespace sweep
			// must leave it to Uninstall (the APIService first)
			l := labels.Set(o.GetLabels())
			assert.True(t, mustSelector(t, clusters.ManagedSelector).Matches(l), "labelled managed-by aftershock: %v", l)
			assert.False(t, mustSelector(t, clusters.ScenarioNamespaceSelector).Matches(l), "a component's, not a scenario's: %v", l)
		}
	}
	assert.Equal(t, map[string]int{"Namespace": 1, "ServiceAccount": 1, "ClusterRole": 2, "RoleBinding": 1, "ClusterRoleBinding": 2,
		"Service": 1, "Deployment": 1, "APIService": 1}, kinds)
	var dep, api *unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			dep = o
		case "APIService":
			api = o
		}
	}
	require.NotNil(t, dep)
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	require.Len(t, cs, 1)
	c := cs[0].(map[string]any)
	assert.Equal(t, "example.test/ms:1", c["image"])
	assert.Equal(t, "IfNotPresent", c["imagePullPolicy"], "loaded into the nodes, never pulled")
	args, _ := c["args"].([]any)
	assert.Contains(t, args, "--kubelet-insecure-tls")
	assert.Contains(t, args, "--metric-resolution=15s")
	require.NotNil(t, api)
	assert.Equal(t, APIService, api.GetName())
	svc, _, _ := unstructured.NestedString(api.Object, "spec", "service", "namespace")
	assert.Equal(t, Namespace, svc)
}

func mustSelector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	require.NoError(t, err)
	return sel
}
