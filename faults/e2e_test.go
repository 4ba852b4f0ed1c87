package faults_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/loadgen"
	"github.com/aftershock-dev/aftershock/report"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

var appImage clusters.AppImage

// setup deploys the app (4 replicas over both workers) in a fresh namespace
// of the shared cluster and returns an Env; cleanup deletes the namespace
// and asserts that no fault left anything behind. The test holds the
// cluster alone: its faults (nodes) and its check (Leftovers, cluster-wide)
// reach beyond its namespace.
func setup(t *testing.T) (*clusters.Cluster, *faults.Env, *faults.Reverts) {
	t.Helper()
	c := clustertest.Hold(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if appImage.Ref == "" {
		img, err := clusters.BuildAppImage(ctx, t.TempDir())
		require.NoError(t, err)
		require.NoError(t, c.LoadImage(ctx, img))
		appImage = img
	}
	ns := clustertest.Namespace(t)
	app := clusters.App{Namespace: ns, Image: appImage.Ref, Replicas: 4, TolerationSeconds: 5}
	reverts := &faults.Reverts{}
	t.Cleanup(func() {
		require.NoError(t, reverts.RevertAll(), "reverts")
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		left, err := faults.Leftovers(cctx, c)
		require.NoError(t, err)
		assert.Empty(t, left, "nothing left behind")
		if len(left) > 0 {
			_, _ = faults.Clean(cctx, c)
		}
		require.NoError(t, c.DeleteNamespace(cctx, ns, 2*time.Minute))
	})
	require.NoError(t, c.DeployApp(ctx, app))
	_, err := c.WaitTrafficReachesAll(ctx, ns, app.Selector(), 2*time.Minute, 5000)
	require.NoError(t, err)
	env := &faults.Env{Cluster: c, Namespace: ns, Selector: app.Selector(), Rand: rand.New(rand.NewPCG(42, 0)), Log: clustertest.Logger(t)}
	return c, env, reverts
}

// inject runs one fault through the revert stack and its verification.
func inject(t *testing.T, env *faults.Env, reverts *faults.Reverts, s faults.Spec) (faults.Injected, func(context.Context) error, time.Duration) {
	t.Helper()
	f, err := faults.New(s, env)
	require.NoError(t, err)
	revert := reverts.Push(s.Type, f.Revert)
	start := time.Now()
	inj, err := f.Inject(context.Background())
	require.NoError(t, err)
	t.Logf("%s injected on %s via %s in %s", s.Type, inj.Target, inj.Method, time.Since(start).Round(time.Millisecond))
	var took time.Duration
	if inj.Verify != nil {
		vctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		ok, why := inj.Verify(vctx)
		took = time.Since(start)
		require.True(t, ok, "landed: %s", why)
		t.Logf("%s landed: %s (inject-to-effect %s)", s.Type, why, took.Round(10*time.Millisecond))
	}
	return inj, revert, took
}

func TestIntegrationPodKill(t *testing.T) {
	c, env, reverts := setup(t)
	ctx := context.Background()
	tl := faults.NewTimeline(nil)
	obs, err := faults.Observe(ctx, c, env.Namespace, faults.SampleApp(), tl)
	require.NoError(t, err)
	defer obs.Stop()
	before, _ := c.ReadyPods(ctx, env.Namespace, env.Selector)
	injectAt := time.Now()
	inj, revert, _ := inject(t, env, reverts, faults.Spec{Type: faults.PodKill})
	require.NoError(t, revert(ctx))
	require.NoError(t, c.WaitRolledOut(ctx, env.Namespace, "sampleapp", 2*time.Minute))
	require.Eventually(t, func() bool { return obs.ReadyEndpoints() == 4 }, time.Minute, 100*time.Millisecond)
	rec := obs.ClusterRecovery(injectAt, time.Now())
	require.NotNil(t, rec, "the cluster saw the pod go and come back")
	t.Logf("pod-kill cluster-seen recovery (deployment 4/4 ready + 4 ready endpoints): %s", rec.Round(10*time.Millisecond))
	after, _ := c.ReadyPods(ctx, env.Namespace, env.Selector)
	assert.Len(t, after, 4)
	assert.NotContains(t, after, inj.Target, "the victim was replaced")
	assert.Contains(t, before, inj.Target)
}

func TestIntegrationContainerKill(t *testing.T) {
	c, env, reverts := setup(t)
	_, revert, _ := inject(t, env, reverts, faults.Spec{Type: faults.ContainerKill})
	require.NoError(t, revert(context.Background()))
	require.NoError(t, c.WaitRolledOut(context.Background(), env.Namespace, "sampleapp", 2*time.Minute))
}

func TestIntegrationNodeDrain(t *testing.T) {
	c, env, reverts := setup(t)
	ctx := context.Background()
	inj, revert, _ := inject(t, env, reverts, faults.Spec{Type: faults.NodeDrain})
	require.NoError(t, c.WaitRolledOut(ctx, env.Namespace, "sampleapp", 2*time.Minute), "pods rescheduled on the other worker")
	pods, err := c.Clientset.CoreV1().Pods(env.Namespace).List(ctx, metav1.ListOptions{LabelSelector: env.Selector})
	require.NoError(t, err)
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			assert.NotEqual(t, inj.Target, p.Spec.NodeName)
		}
	}
	start := time.Now()
	require.NoError(t, revert(ctx))
	n, err := c.Clientset.CoreV1().Nodes().Get(ctx, inj.Target, metav1.GetOptions{})
	require.NoError(t, err)
	assert.False(t, n.Spec.Unschedulable, "uncordoned")
	t.Logf("node-drain revert-to-restored (uncordoned): %s", time.Since(start).Round(time.Millisecond))
	sys, err := c.Clientset.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + inj.Target})
	require.NoError(t, err)
	assert.NotEmpty(t, sys.Items, "kube-system pods were not evicted")
}

func TestIntegrationNodeStopAndPause(t *testing.T) {
	for _, typ := range []string{faults.NodePause, faults.NodeStop} {
		t.Run(typ, func(t *testing.T) {
			c, env, reverts := setup(t)
			ctx := context.Background()
			inj, revert, took := inject(t, env, reverts, faults.Spec{Type: typ})
			t.Logf("%s inject-to-NotReady %s", typ, took.Round(100*time.Millisecond))
			start := time.Now()
			require.NoError(t, revert(ctx))
			t.Logf("%s revert-to-Ready %s", typ, time.Since(start).Round(100*time.Millisecond))
			n, err := c.Clientset.CoreV1().Nodes().Get(ctx, inj.Target, metav1.GetOptions{})
			require.NoError(t, err)
			ready := false
			for _, cond := range n.Status.Conditions {
				ready = ready || (cond.Type == "Ready" && cond.Status == "True")
			}
			assert.True(t, ready)
			require.NoError(t, c.WaitRolledOut(ctx, env.Namespace, "sampleapp", 3*time.Minute))
		})
	}
}

// p50 of n sequential new-connection requests through the NodePort.
func measure(t *testing.T, c *clusters.Cluster, d time.Duration) (time.Duration, int) {
	url, err := c.AppURL()
	require.NoError(t, err)
	var lat []time.Duration
	failed := 0
	_, err = loadgen.Attack(context.Background(), loadgen.Options{URL: url, Rate: 40, Duration: d}, func(s report.Sample) {
		if s.OK() {
			lat = append(lat, s.Latency)
		} else {
			failed++
		}
	})
	require.NoError(t, err)
	require.NotEmpty(t, lat)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)/2], failed
}

func TestIntegrationNetworkDelay(t *testing.T) {
	c, env, reverts := setup(t)
	ctx := context.Background()
	base, _ := measure(t, c, 5*time.Second)
	inj, revert, took := inject(t, env, reverts, faults.Spec{Type: faults.NetworkDelay, Percent: 100, Delay: 200 * time.Millisecond})
	assert.Equal(t, 200*time.Millisecond, inj.ExpectedDelay)
	during, _ := measure(t, c, 5*time.Second)
	added := during - base
	t.Logf("network-delay 200ms via %s: client p50 %s -> %s (+%s); inject-to-effect %s", inj.Method, base, during, added, took.Round(time.Millisecond))
	assert.InDelta(t, 200, added.Milliseconds(), 40, "configured 200ms shows as +200ms +/- 20%% at p50")
	start := time.Now()
	require.NoError(t, revert(ctx))
	after, _ := measure(t, c, 3*time.Second)
	t.Logf("after revert p50 %s (revert took %s)", after, time.Since(start).Round(time.Millisecond))
	assert.Less(t, after, base+50*time.Millisecond)
}

func TestIntegrationNetworkLossAndPartition(t *testing.T) {
	t.Run("loss", func(t *testing.T) {
		c, env, reverts := setup(t)
		_, revert, took := inject(t, env, reverts, faults.Spec{Type: faults.NetworkLoss, Percent: 100, Loss: 0.5})
		t.Logf("network-loss inject-to-first-drop %s", took.Round(time.Millisecond))
		p50, failed := measure(t, c, 4*time.Second)
		t.Logf("with 50%% loss: p50 %s, %d failed", p50, failed)
		assert.True(t, p50 > 200*time.Millisecond || failed > 0, "loss is visible to clients (retransmits or failures)")
		require.NoError(t, revert(context.Background()))
		p50, failed = measure(t, c, 2*time.Second)
		assert.Less(t, p50, 100*time.Millisecond)
		assert.Zero(t, failed)
	})
	t.Run("partition pod", func(t *testing.T) {
		c, env, reverts := setup(t)
		ctx := context.Background()
		inj, revert, _ := inject(t, env, reverts, faults.Spec{Type: faults.NetworkPartition})
		// the partitioned pod fails its readiness probe and leaves the endpoints
		require.Eventually(t, func() bool {
			ready, _ := c.ReadyPods(ctx, env.Namespace, env.Selector)
			for _, p := range ready {
				if p == inj.Target {
					return false
				}
			}
			return true
		}, time.Minute, 200*time.Millisecond)
		start := time.Now()
		require.NoError(t, revert(ctx))
		require.NoError(t, c.WaitRolledOut(ctx, env.Namespace, "sampleapp", 2*time.Minute))
		t.Logf("partition revert-to-ready %s", time.Since(start).Round(10*time.Millisecond))
	})
	t.Run("partition node", func(t *testing.T) {
		_, env, reverts := setup(t)
		_, revert, took := inject(t, env, reverts, faults.Spec{Type: faults.NetworkPartition, Scope: faults.ScopeNode})
		t.Logf("node partition inject-to-first-drop %s", took.Round(time.Millisecond))
		start := time.Now()
		require.NoError(t, revert(context.Background()))
		t.Logf("node partition revert-to-Ready %s", time.Since(start).Round(10*time.Millisecond))
	})
}

// TestIntegrationInterruptedRunLeavesNothing cancels a run mid-fault (as
// Ctrl-C does) and then simulates a SIGKILL (no revert at all) and Clean.
func TestIntegrationInterruptedRunLeavesNothing(t *testing.T) {
	c, env, reverts := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := &faults.Runner{Env: env, Reverts: reverts, Timeline: faults.NewTimeline(nil), VerifyTimeout: 5 * time.Second}
	plan := faults.Plan([]faults.Spec{
		{Type: faults.NetworkDelay, Percent: 50, Delay: 100 * time.Millisecond, For: time.Minute},
	})
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, time.Now(), plan)
		done <- err
	}()
	require.Eventually(t, func() bool { return reverts.Pending() == 1 }, 30*time.Second, 50*time.Millisecond)
	time.Sleep(3 * time.Second) // mid-fault
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, reverts.RevertAll())
	left, err := faults.Leftovers(context.Background(), c)
	require.NoError(t, err)
	assert.Empty(t, left, "cancelled run reverted everything")

	// SIGKILL: faults injected, never reverted; Clean finds and removes them
	// (drain first: an eviction would take a pod's rules with it)
	for _, s := range []faults.Spec{
		{Type: faults.NodeDrain},
		{Type: faults.NetworkDelay, Pods: 1, Delay: 100 * time.Millisecond},
		{Type: faults.NetworkLoss, Pods: 1, Loss: 0.1},
	} {
		f, err := faults.New(s, env)
		require.NoError(t, err)
		_, err = f.Inject(context.Background())
		require.NoError(t, err)
		require.NoError(t, c.WaitRolledOut(context.Background(), env.Namespace, "sampleapp", 2*time.Minute))
	}
	left, err = faults.Leftovers(context.Background(), c)
	require.NoError(t, err)
	t.Logf("left behind by a killed run: %q", left)
	assert.GreaterOrEqual(t, len(left), 4, "agent, REDIRECT rule, DROP rule and cordon are found")
	removed, err := faults.Clean(context.Background(), c)
	require.NoError(t, err)
	assert.Len(t, removed, len(left))
	left, err = faults.Leftovers(context.Background(), c)
	require.NoError(t, err)
	assert.Empty(t, left)
}
