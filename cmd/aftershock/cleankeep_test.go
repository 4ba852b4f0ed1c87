package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/clusters/metrics"
)

// `clean --keep` on a cluster where a scenario installed metrics-server
// removes it whole, its APIService included: until session 19 it deleted
// metrics-server's namespace (labelled like a scenario's) and left the
// APIService pointing at a Service that no longer existed, and from then on
// no namespace of the cluster could be deleted (each stayed Terminating,
// DiscoveryFailed for metrics.k8s.io; seen on a kept cluster after a
// --parallel run of the shipped scenarios).
func TestIntegrationCleanKeepRemovesMetricsServer(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel()              // after the package's serial tests
	c := clustertest.Extra(t) // clean --keep reaches every namespace: the shared cluster, alone
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := metrics.EnsureImage(ctx, io.Discard)
	require.NoError(t, err)
	require.NoError(t, c.LoadImage(ctx, img))
	require.NoError(t, metrics.Install(ctx, c, img.Ref, 3*time.Minute))

	var out strings.Builder
	ok := cleanCluster(ctx, &out, c.Name, true)
	t.Logf("clean --keep:\n%s", out.String())
	require.True(t, ok, out.String())
	assert.Contains(t, out.String(), "removed metrics-server")

	_, err = c.Clientset.CoreV1().RESTClient().Get().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices/" + metrics.APIService).DoRaw(ctx)
	assert.True(t, apierrors.IsNotFound(err), "the APIService is gone: %v", err)
	assert.False(t, metrics.Installed(ctx, c))
	// namespaces can be deleted again: metrics-server's own, and one created now
	probe, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "as-probe-"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, c.DeleteNamespace(ctx, probe.Name, time.Minute), "a namespace deleted after clean --keep goes")
	t.Logf("namespace %s deleted in %s", probe.Name, time.Since(start).Round(100*time.Millisecond))
	require.Eventually(t, func() bool {
		_, err := c.Clientset.CoreV1().Namespaces().Get(ctx, metrics.Namespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, time.Second, "namespace %s gone", metrics.Namespace)
}
