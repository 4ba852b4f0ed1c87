package scenarios_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// assertForeignApp checks what the own-service work promises for an app
// aftershock did not write: the baseline attributes requests to each of the
// app's pods (names from the app's own responses), evenness has a Jain index
// over those pods, and every pod kill has a recovery figure.
func assertForeignApp(t *testing.T, res *report.Result, podPrefix string) {
	t.Helper()
	b := res.Baseline()
	require.NotNil(t, b, "a baseline phase")
	require.NotNil(t, b.New, "evenness over new connections in the baseline")
	require.GreaterOrEqual(t, len(b.New.Pods), 2, "requests attributed to several pods: %+v", b.New.Pods)
	for _, p := range b.New.Pods {
		assert.True(t, strings.HasPrefix(p.Pod, podPrefix), "pod %q named by the app's response", p.Pod)
		assert.Positive(t, p.Requests, "pod %s got requests", p.Pod)
	}
	assert.Greater(t, b.New.Jain, 0.5, "a Jain index over the app's pods")
	assert.LessOrEqual(t, b.New.Jain, 1.0)
	t.Logf("baseline: %d pods, Jain %.3f (p=%.2f), attribution %s", len(b.New.Pods), b.New.Jain, b.New.PValue, res.Info["attribution"])
	kills := 0
	for _, f := range res.Faults {
		if f.Deploy {
			// a deploy event on the app's workload: landed when its rollout
			// was observed complete
			kills++
			assert.True(t, f.LandedVerdict, "deploy event %s landed: %s", f.ID, f.LandedWhy)
			require.NotNil(t, f.LandedAt, "deploy event %s: its rollout observed complete", f.ID)
			t.Logf("deploy event %s on %s: complete in %s, %d failed requests", f.ID, f.Target, f.CompleteIn(), f.Errors.Total())
			continue
		}
		if f.Type != faults.PodKill {
			continue
		}
		kills++
		require.NotNil(t, f.ClusterRecovery, "fault %s: cluster-seen recovery after the pod kill", f.ID)
		assert.Positive(t, f.ClusterRecovery.D())
		assert.True(t, f.LandedVerdict, "fault %s landed: %s", f.ID, f.LandedWhy)
		client := "no client-visible impact"
		if f.Recovery != nil {
			client = f.Recovery.String()
		}
		t.Logf("fault %s on %s: cluster recovery %s, client recovery %s, disruption %s", f.ID, f.Target, f.ClusterRecovery, client, f.Disruption)
	}
	assert.Positive(t, kills, "a pod-kill fault or a deploy event on the app's pods")
}

// assertDrainLanded checks a node drain in res landed (its node cordoned,
// the app's pods evicted and back elsewhere).
func assertDrainLanded(t *testing.T, res *report.Result) {
	t.Helper()
	var drain *report.FaultResult
	for i := range res.Faults {
		if res.Faults[i].Type == faults.NodeDrain {
			drain = &res.Faults[i]
		}
	}
	require.NotNil(t, drain, "a node drain in the run")
	assert.True(t, drain.LandedVerdict, "drain landed: %s", drain.LandedWhy)
}

// The foreign app from its Helm chart (Helm Go SDK, values overridden, its
// own release name) through a pod kill, side by side with the package's
// other tests. The same chart through a node drain and a pod kill is
// TestIntegrationDraftedScenarioPasses (a drain takes the cluster alone).
func TestIntegrationForeignAppHelmValuesAndPodKill(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel() // its lease decides whether it runs beside the package's other tests
	env := sharedEnv(t)
	_, err := clustertest.EnsureHTTPBinImage(context.Background())
	require.NoError(t, err)
	s, err := scenarios.Parse([]byte(`
name: httpbin-helm
seed: 7
app:
  helm: {chart: examples/httpbin/chart, set: {replicaCount: "4"}, release: web}
  images: [aftershock.dev/examples/go-httpbin:v2.26.0]
  service: web
  request: {path: /hostname}
  attribution: {json: hostname}
load: {rate: 100/s, duration: 30s}
faults:
  - {type: pod-kill, at: 12s, pods: 1}
slo: {availability: 99%, jain: 0.8}
`), filepath.Join(".", "helm-test.yaml"))
	require.NoError(t, err)
	alone, why := s.Alone()
	require.False(t, alone, "runs side by side: %s", why)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute) // the lease may wait for scenarios side by side
	defer cancel()
	res, err := scenarios.Run(ctx, s, scenarios.Options{Env: env, Out: filepath.Join(outDir(t), s.Name), Progress: clustertest.LogWriter(t)})
	require.NoError(t, err)
	t.Logf("%s", render.Summary(res))
	assert.Contains(t, res.Info["app"], "Deployment/web (4)")
	assertForeignApp(t, res, "web-")
	assert.Equal(t, report.Pass, res.Verdict, "reasons: %v", res.Reasons)
}
