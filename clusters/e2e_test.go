package clusters_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

// TestIntegrationClusterSpreadsTraffic is issue 2's acceptance test: a real
// 1+2 kind cluster from the offline node image, 4 replicas over both
// workers, 400 new-connection requests through the NodePort on 127.0.0.1,
// every pod's share within 15-35%, then deletion leaves no node container.
func TestIntegrationClusterSpreadsTraffic(t *testing.T) {
	t.Parallel()
	clustertest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()

	t0 := time.Now()
	img, err := clustertest.NodeImage(ctx)
	require.NoError(t, err)
	t.Logf("node image %s ready in %s", img, time.Since(t0).Round(10*time.Millisecond))

	t0 = time.Now()
	c, err := clusters.Create(ctx, clusters.Options{NodeImage: img, Logger: clustertest.Logger(t)})
	require.NoError(t, err)
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = c.Delete(context.Background())
		}
	})
	t.Logf("cluster %s created in %s, app port 127.0.0.1:%d", c.Name, time.Since(t0).Round(100*time.Millisecond), c.AppPort)
	names, err := clusters.List(ctx)
	require.NoError(t, err)
	assert.Contains(t, names, c.Name)

	nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: clusters.ManagedLabel + "=true"})
	require.NoError(t, err)
	require.Len(t, nodes.Items, 3, "1 control plane + 2 workers, all labelled as ours")

	t0 = time.Now()
	appImg, err := clusters.BuildAppImage(ctx, t.TempDir())
	require.NoError(t, err)
	require.NoError(t, c.LoadImage(ctx, appImg))
	t.Logf("sample app image %s built and loaded in %s", appImg.Ref, time.Since(t0).Round(10*time.Millisecond))

	t0 = time.Now()
	app := clusters.App{Namespace: "spread", Image: appImg.Ref, Replicas: 4, PDBMinAvailable: 2}
	require.NoError(t, c.DeployApp(ctx, app))
	rolled := time.Since(t0)
	check, err := c.WaitTrafficReachesAll(ctx, app.Namespace, app.Selector(), 2*time.Minute, 5000)
	require.NoError(t, err)
	t.Logf("app rolled out in %s; traffic on every pod after %s more (%d requests)", rolled.Round(10*time.Millisecond), check.Took.Round(10*time.Millisecond), check.Requests)
	require.Len(t, check.Pods, 4)

	// the 4 pods sit on both workers
	pods, err := c.Clientset.CoreV1().Pods(app.Namespace).List(ctx, metav1.ListOptions{LabelSelector: app.Selector()})
	require.NoError(t, err)
	perNode := map[string]int{}
	for _, p := range pods.Items {
		perNode[p.Spec.NodeName]++
	}
	assert.Len(t, perNode, 2, "pods over both workers: %v", perNode)

	// 400 requests, each on a new connection
	url, err := c.AppURL()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	served := map[string]int{}
	for i := 0; i < 400; i++ {
		resp, err := client.Get(url)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		served[resp.Header.Get(clusters.HeaderPod)]++
	}
	t.Logf("400 new-connection requests: %v", served)
	require.Len(t, served, 4, "all 4 pods answered")
	for pod, n := range served {
		share := float64(n) / 400
		assert.True(t, share >= 0.15 && share <= 0.35, "pod %s share %.1f%% outside 15-35%%", pod, 100*share)
	}

	t0 = time.Now()
	require.NoError(t, c.Delete(ctx))
	deleted = true
	t.Logf("cluster deleted in %s", time.Since(t0).Round(100*time.Millisecond))
	out, err := exec.CommandContext(ctx, "docker", "ps", "-a", "-q", "--filter", "label=io.x-k8s.kind.cluster="+c.Name).Output()
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(string(out)), "no kind container left")
	_, err = os.Stat(c.Kubeconfig)
	assert.True(t, os.IsNotExist(err), "kubeconfig removed")
}
