package clusters_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
)

func objects(t *testing.T, docs ...string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, d := range docs {
		m := map[string]any{}
		require.NoError(t, yaml.Unmarshal([]byte(d), &m))
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

const (
	roleDoc = `{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: %s}, rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]}`
	svcDoc  = `{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}}`
	depDoc  = `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {replicas: 1, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: example.invalid/web:1}]}}}}`
)

// A ClusterRole that exists before the run and is named in the app's
// manifests survives the failed deploy and every cleanup; one the run
// created (labelled) is deleted with its scenario.
func TestIntegrationPreexistingClusterScopedSurvives(t *testing.T) {
	t.Parallel()
	c := clustertest.Hold(t, true) // DeleteScenarioNamespaces reaches every scenario's namespace
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := clustertest.Namespace(t)
	theirs := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name + "-theirs"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"}}}}
	_, err := c.Clientset.RbacV1().ClusterRoles().Create(ctx, theirs, metav1.CreateOptions{})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = c.Clientset.RbacV1().ClusterRoles().Delete(context.Background(), theirs.Name, metav1.DeleteOptions{})
	})
	t.Cleanup(func() { _ = c.DeleteNamespace(context.Background(), name, 2*time.Minute) })

	objs := objects(t, fmt.Sprintf(roleDoc, theirs.Name), svcDoc, depDoc)
	_, err = c.DeployUserApp(ctx, clusters.UserApp{Namespace: name, Objects: objs, AllowClusterScoped: true})
	require.ErrorContains(t, err, "ClusterRole/"+theirs.Name+" already exists")
	require.NoError(t, c.DeleteClusterScoped(ctx, name, objs))
	_, err = c.DeleteScenarioNamespaces(ctx)
	require.NoError(t, err)
	got, err := c.Clientset.RbacV1().ClusterRoles().Get(ctx, theirs.Name, metav1.GetOptions{})
	require.NoError(t, err, "the owner's ClusterRole survives the failed deploy and the cleanup")
	assert.Equal(t, theirs.Rules, got.Rules, "and is unchanged")
	assert.NotContains(t, got.Labels, clusters.NamespaceLabel)

	// a ClusterRole the run creates carries the label and goes with it
	ns2 := name + "-b"
	t.Cleanup(func() { _ = c.DeleteNamespace(context.Background(), ns2, 2*time.Minute) })
	ours := objects(t, fmt.Sprintf(roleDoc, ns2+"-ours"), svcDoc, depDoc)
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	_, _ = c.DeployUserApp(dctx, clusters.UserApp{Namespace: ns2, Objects: ours, AllowClusterScoped: true}) // its image cannot start: only the objects matter
	dcancel()
	made, err := c.Clientset.RbacV1().ClusterRoles().Get(ctx, ns2+"-ours", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, ns2, made.Labels[clusters.NamespaceLabel])
	require.NoError(t, c.DeleteClusterScoped(ctx, ns2, ours))
	_, err = c.Clientset.RbacV1().ClusterRoles().Get(ctx, ns2+"-ours", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the run's own ClusterRole is deleted: %v", err)
}
