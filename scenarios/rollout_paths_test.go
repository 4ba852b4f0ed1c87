package scenarios_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// The shipped rollout-zero-downtime.yaml (TestScenarios runs it from the
// host through the NodePort) through the two other paths: from load pods
// inside the cluster, and through the Ingress controller. A rollout restart
// of 4 replicas under 150/s with the app's readiness probe and graceful
// shutdown: not one request of at least 6000 fails on either path, the
// rollout is complete and its duration reported.
//
// From load pods it failed 3 of 4 runs in session 13 and in session 15's
// first run (128 of 6000 timed out) while the NodePort path never failed:
// the load pods were BestEffort, under their node's cgroup of cpu.shares
// 2, and on a node busy with the rollout they waited on the run queue for
// 1-3 s of every second (schedstat of their threads) until their own
// requests timed out. With a CPU request (loadgen.PodResources) it passed
// 4 runs of 4 with 0 of 6000 failed, one of them in CI.
//
// Through the Ingress: Traefik's CPU request (ingress.CPURequest) took the
// 17 timeouts of a run under extra load to 0. In session 15's CI run 496 of
// 6000 timed out over 16 s (about one request in five: one backend of five)
// after the restart, as if Traefik kept a gone pod among its backends; it
// was then opt-in while 32 runs here (fresh clusters, beside compiles,
// after node stops of Traefik's own node, right after each shipped
// scenario) passed with 0 of 6000 failed. Back in CI since session 19; when
// it fails, it logs Traefik's pods, logs and events beside the verdict.
func TestIntegrationRolloutZeroDowntimeOtherPaths(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel() // each path's lease takes the cluster alone (a deploy event on 2 cores)
	src, err := os.ReadFile("rollout-zero-downtime.yaml")
	require.NoError(t, err)
	const load = "load: {rate: 150/s"
	require.Contains(t, string(src), load)
	for path, via := range map[string]string{
		scenarios.ViaInCluster: "load: {via: inCluster, pods: 2, rate: 150/s",
		scenarios.ViaIngress:   "load: {via: ingress, rate: 150/s",
	} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			yaml := strings.Replace(string(src), load, via, 1)
			yaml = strings.Replace(yaml, "name: rollout-zero-downtime", "name: rollout-zero-downtime-"+strings.ToLower(path), 1)
			f := filepath.Join(t.TempDir(), "s.yaml")
			require.NoError(t, os.WriteFile(f, []byte(yaml), 0o644))
			s, err := scenarios.ParseFile(f)
			require.NoError(t, err)
			require.Equal(t, path, s.Load.Via)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			res, err := scenarios.Run(ctx, s, scenarios.Options{Env: sharedEnv(t), Progress: clustertest.LogWriter(t)})
			require.NoError(t, err)
			deploys := res.DeployEvents()
			require.Len(t, deploys, 1)
			d := deploys[0]
			t.Logf("%s", render.Summary(res))
			t.Logf("%s: verdict %s, %d requests, %d failed %v; rollout complete in %s; path %s", path, res.Verdict, res.Requests, res.Failed, res.Errors, d.CompleteIn(), res.Path)
			assert.True(t, strings.HasPrefix(res.Path, path+":"), res.Path)
			require.NotNil(t, d.LandedAt, "the rollout observed complete")
			assert.GreaterOrEqual(t, res.Requests, 6000)
			assert.Zero(t, res.Failed, "not one request failed: %v", res.Errors)
			assert.Equal(t, report.Pass, res.Verdict, "reasons: %v", res.Reasons)
			if path == scenarios.ViaInCluster {
				assertLoadPodsCounted(t, s, res)
			}
			if path == scenarios.ViaIngress && t.Failed() {
				logIngressController(t, sharedEnv(t).Cluster)
			}
		})
	}
}

// logIngressController logs what the shared Ingress controller went through
// (its pods with node and restarts, their last log lines, its namespace's
// events), for a failure through it to be read from the test's log alone.
func logIngressController(t *testing.T, c *clusters.Cluster) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs := c.Clientset
	pods, err := cs.CoreV1().Pods(ingress.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("ingress controller: pods: %v", err)
		return
	}
	tail := int64(40)
	for _, p := range pods.Items {
		restarts := int32(0)
		for _, st := range p.Status.ContainerStatuses {
			restarts += st.RestartCount
		}
		t.Logf("ingress controller pod %s on %s: phase %s, %d restarts, started %v", p.Name, p.Spec.NodeName, p.Status.Phase, restarts, p.Status.StartTime)
		logs, err := cs.CoreV1().Pods(ingress.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
		t.Logf("its last log lines (%v):\n%s", err, logs)
	}
	evs, err := cs.CoreV1().Events(ingress.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Logf("ingress controller: events: %v", err)
		return
	}
	for _, e := range evs.Items {
		t.Logf("event %s %s/%s: %s %s (x%d, last %s)", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message, e.Count, e.LastTimestamp.Format(time.RFC3339))
	}
}
