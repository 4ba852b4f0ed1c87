package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/loadgen"
	"github.com/aftershock-dev/aftershock/report"
)

func pod(name, node string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "web"}, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func node(name string, cp bool) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if cp {
		n.Labels["node-role.kubernetes.io/control-plane"] = ""
	}
	return n
}

func env(objs ...runtime.Object) (*Env, *fake.Clientset) {
	cs := fake.NewClientset(objs...)
	return &Env{Cluster: &clusters.Cluster{Name: "aftershock-test", Clientset: cs, Managed: true, Kind: true}, Namespace: "ns", Selector: "app=web", Rand: rand.New(rand.NewPCG(42, 0)), RunID: "run1"}, cs
}

func TestPickPodsIsSeededAndSkipsUnready(t *testing.T) {
	objs := []runtime.Object{pod("a", "w1", true), pod("b", "w1", true), pod("c", "w2", true), pod("d", "w2", false), pod("e", "w2", true)}
	choose := func(seed uint64, count, pct int) []string {
		e, cs := env(objs...)
		got, err := pickPods(context.Background(), cs, "ns", "app=web", count, pct, rand.New(rand.NewPCG(seed, 0)))
		require.NoError(t, err)
		_ = e
		return podNames(got)
	}
	assert.Equal(t, choose(7, 2, 0), choose(7, 2, 0), "same seed, same victims")
	assert.Len(t, choose(7, 2, 0), 2)
	assert.Len(t, choose(7, 0, 50), 2, "50% of 4 ready pods")
	assert.Len(t, choose(7, 0, 0), 1, "default one pod")
	assert.Len(t, choose(7, 10, 0), 4, "never more than the ready pods")
	for seed := uint64(0); seed < 20; seed++ {
		assert.NotContains(t, choose(seed, 3, 0), "d", "unready pods are never victims")
	}
	seen := map[string]bool{}
	for seed := uint64(0); seed < 40; seed++ {
		seen[choose(seed, 1, 0)[0]] = true
	}
	assert.Len(t, seen, 4, "every ready pod can be chosen")
}

func TestPickNode(t *testing.T) {
	_, cs := env(node("cp", true), node("w1", false), node("w2", false), node("w3", false), pod("a", "w1", true), pod("b", "w2", true))
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 20; i++ {
		n, err := pickNode(context.Background(), cs, "", "ns", "app=web", r)
		require.NoError(t, err)
		assert.Contains(t, []string{"w1", "w2"}, n.Name, "a worker that runs app pods")
	}
	_, err := pickNode(context.Background(), cs, "cp", "ns", "app=web", r)
	require.ErrorContains(t, err, "control-plane")
	_, err = pickNode(context.Background(), cs, "nope", "ns", "app=web", r)
	require.ErrorContains(t, err, `node "nope" not found`)
	n, err := pickNode(context.Background(), cs, "w3", "ns", "app=web", r)
	require.NoError(t, err)
	assert.Equal(t, "w3", n.Name)
}

func TestPodKillDeletesChosenPodsWithGrace(t *testing.T) {
	e, cs := env(pod("a", "w1", true), pod("b", "w1", true), pod("c", "w2", true))
	var graces []int64
	cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteAction)
		graces = append(graces, *d.GetDeleteOptions().GracePeriodSeconds)
		return false, nil, nil
	})
	g := 5 * time.Second
	f, err := New(Spec{Type: PodKill, Pods: 2, GracePeriod: &g}, e)
	require.NoError(t, err)
	inj, err := f.Inject(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []int64{5, 5}, graces)
	left, _ := cs.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	assert.Len(t, left.Items, 1)
	ok, why := inj.Verify(context.Background())
	assert.True(t, ok, why)
	require.NoError(t, f.Revert(context.Background()))
}

func TestSafetyRefusals(t *testing.T) {
	e, _ := env(pod("a", "w1", true), node("w1", false))
	e.Cluster.Managed = false
	for _, typ := range []string{NodeDrain, NodeStop, NodePause, NetworkDelay, ContainerKill} {
		s := Spec{Type: typ}
		if typ == NetworkDelay {
			s.Delay = time.Millisecond
		}
		f, err := New(s, e)
		require.NoError(t, err)
		_, err = f.Inject(context.Background())
		require.ErrorContains(t, err, "not created by aftershock", typ)
	}
	e.AllowForeignCluster = true
	e.Cluster.Kind = false
	f, _ := New(Spec{Type: NodeStop}, e)
	_, err := f.Inject(context.Background())
	require.ErrorContains(t, err, "needs a kind cluster")

	e2, _ := env()
	e2.Namespace = "kube-system"
	require.ErrorContains(t, e2.checkNamespace("kube-system"), "only the scenario's namespace")
	e2.AllowNamespaces = []string{"kube-system"}
	require.NoError(t, e2.checkNamespace("kube-system"))
	e3, _ := env()
	require.Error(t, e3.checkNamespace("other"))
	require.NoError(t, e3.checkNamespace("ns"))
}

func TestDrainEvictsOnlyScenarioPodsAndUncordons(t *testing.T) {
	sys := pod("coredns", "w1", true)
	sys.Namespace = "kube-system"
	e, cs := env(node("cp", true), node("w1", false), node("w2", false), pod("a", "w1", true), pod("b", "w2", true), sys,
		&policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}})
	var evicted []string
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := a.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		evicted = append(evicted, ev.Namespace+"/"+ev.Name)
		return true, nil, cs.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), ev.Namespace, ev.Name)
	})
	cs.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods/eviction", Kind: "Eviction", Group: "policy", Version: "v1"}}}}
	// the fake clientset ignores field selectors; drain lists by node
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		fs := a.(k8stesting.ListAction).GetListRestrictions().Fields
		if fs.Empty() {
			return false, nil, nil
		}
		all, err := cs.Tracker().List(corev1.SchemeGroupVersion.WithResource("pods"), corev1.SchemeGroupVersion.WithKind("Pod"), a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		out := &corev1.PodList{}
		for _, p := range all.(*corev1.PodList).Items {
			if fs.Matches(fields.Set{"spec.nodeName": p.Spec.NodeName}) {
				out.Items = append(out.Items, p)
			}
		}
		return true, out, nil
	})
	f, err := New(Spec{Type: NodeDrain, Node: "w1"}, e)
	require.NoError(t, err)
	_, err = f.Inject(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"ns/a"}, evicted, "kube-system pods are never evicted")
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w1", metav1.GetOptions{})
	assert.True(t, n.Spec.Unschedulable)
	assert.Equal(t, "drain:run1", n.Annotations[Marker])

	require.NoError(t, f.Revert(context.Background()))
	require.NoError(t, f.Revert(context.Background()), "idempotent")
	n, _ = cs.CoreV1().Nodes().Get(context.Background(), "w1", metav1.GetOptions{})
	assert.False(t, n.Spec.Unschedulable)
	assert.NotContains(t, n.Annotations, Marker)
}

func TestSpecValidation(t *testing.T) {
	tests := []struct {
		spec Spec
		err  string
	}{
		{Spec{Type: "pod-kil"}, `type "pod-kil": want one of`},
		{Spec{Type: PodKill, Count: 3}, "count 3 needs every > 0"},
		{Spec{Type: PodKill, For: time.Second}, "cannot be undone"},
		{Spec{Type: NetworkDelay}, "network-delay needs delay > 0"},
		{Spec{Type: NetworkDelay, Delay: time.Millisecond, Jitter: time.Second}, "jitter 1s: must not exceed delay 1ms"},
		{Spec{Type: NetworkLoss, Loss: 1.5}, "loss 1.5"},
		{Spec{Type: PodKill, Pods: 1, Percent: 10}, "give one, not both"},
		{Spec{Type: NodeDrain, Every: 10 * time.Second, Count: 2, For: 20 * time.Second}, "occurrences of one fault must not overlap"},
		{Spec{Type: NodeStop, Scope: "node"}, "only network-partition has a scope"},
		{Spec{Type: NetworkPartition, Scope: "zone"}, `scope "zone"`},
		{Spec{Type: PodKill, At: -time.Second}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.err, func(t *testing.T) { require.ErrorContains(t, tt.spec.Validate(), tt.err) })
	}
	require.NoError(t, Spec{Type: NetworkPartition, Scope: ScopeNode}.Validate())
}

func TestPlan(t *testing.T) {
	plan := Plan([]Spec{
		{Type: PodKill, At: 20 * time.Second, Every: 20 * time.Second, Count: 3},
		{Type: NetworkDelay, At: 5 * time.Second, For: 10 * time.Second, Delay: time.Millisecond},
	})
	require.Len(t, plan, 4)
	var ids []string
	for _, o := range plan {
		ids = append(ids, fmt.Sprintf("%s@%s+%s", o.ID, o.At, o.For))
	}
	assert.Equal(t, []string{"network-delay-1@5s+10s", "pod-kill-1@20s+0s", "pod-kill-2@40s+0s", "pod-kill-3@1m0s+0s"}, ids)
	assert.Equal(t, 60*time.Second, End(plan))
	assert.Equal(t, DefaultFor, Plan([]Spec{{Type: NodeStop}})[0].For)
}

// fakeFault records calls; injectErr makes Inject fail half-way.
type fakeFault struct {
	log       *[]string
	id        string
	injectErr error
}

func (f *fakeFault) Inject(context.Context) (Injected, error) {
	*f.log = append(*f.log, "inject "+f.id)
	return Injected{Target: f.id}, f.injectErr
}

func (f *fakeFault) Revert(context.Context) error {
	*f.log = append(*f.log, "revert "+f.id)
	return nil
}

func TestRevertsRunLastFirstWithFreshContextAndRetryFailures(t *testing.T) {
	defer func(d time.Duration) { RevertRetryFor = d }(RevertRetryFor)
	RevertRetryFor = 350 * time.Millisecond
	var r Reverts
	var got []string
	bFails := true
	r.Push("a", func(ctx context.Context) error { got = append(got, "a"); return ctx.Err() })
	now := r.Push("b", func(ctx context.Context) error {
		got = append(got, "b")
		if bFails {
			return errors.New("b failed")
		}
		return nil
	})
	r.Push("c", func(ctx context.Context) error { got = append(got, "c"); return nil })
	err := now(context.Background())
	require.ErrorContains(t, err, "revert b (3 attempt(s)): b failed", "retried with backoff (100 ms, 200 ms) within the bound")
	assert.Equal(t, 3, r.Pending(), "a failed revert is not marked done")
	bFails = false
	require.NoError(t, r.RevertAll(), "RevertAll retries b; the caller's context does not matter")
	assert.Equal(t, []string{"b", "b", "b", "c", "b", "a"}, got, "last registered first, b once more")
	assert.Zero(t, r.Pending())
	require.NoError(t, r.RevertAll())
	assert.Len(t, got, 6, "nothing runs twice once it succeeded")
}

func TestRevertRetriesUntilSuccess(t *testing.T) {
	var r Reverts
	calls := 0
	now := r.Push("flaky", func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("api server busy")
		}
		return nil
	})
	require.NoError(t, now(context.Background()))
	assert.Equal(t, 3, calls)
	assert.Zero(t, r.Pending())
}

func TestRevertPanicIsAnError(t *testing.T) {
	defer func(d time.Duration) { RevertRetryFor = d }(RevertRetryFor)
	RevertRetryFor = 50 * time.Millisecond
	var r Reverts
	r.Push("p", func(context.Context) error { panic("nil map") })
	require.ErrorContains(t, r.RevertAll(), "revert p (1 attempt(s)): panic: nil map")
}

type panicFault struct{ reverted bool }

func (p *panicFault) Inject(context.Context) (Injected, error) { panic("inject bug") }
func (p *panicFault) Revert(context.Context) error             { p.reverted = true; return nil }

func TestInjectPanicIsAnError(t *testing.T) {
	_, err := safeInject(context.Background(), &panicFault{})
	require.ErrorContains(t, err, "panic: inject bug")
}

func TestRevertsSurvivePanic(t *testing.T) {
	var r Reverts
	reverted := false
	func() {
		defer func() { _ = recover() }()
		defer func() { _ = r.RevertAll() }()
		r.Push("x", func(context.Context) error { reverted = true; return nil })
		panic("boom")
	}()
	assert.True(t, reverted)
}

func TestClusterRecovery(t *testing.T) {
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	series := []readiness{
		{at(0), 3, 3, 3}, {at(10.2), 2, 3, 3}, {at(10.3), 2, 2, 3}, {at(12.5), 3, 2, 3}, {at(13.1), 3, 3, 3},
	}
	d := clusterRecovery(series, at(10), at(60))
	require.NotNil(t, d)
	assert.InDelta(t, 3.1, d.Seconds(), 0.01)
	assert.Nil(t, clusterRecovery(series[:1], at(10), at(60)), "never fell short")
	assert.Nil(t, clusterRecovery(series[:3], at(10), at(60)), "never came back")
}

func TestRunnerFollowsThePlan(t *testing.T) {
	e, cs := env(pod("a", "w1", true), pod("b", "w1", true), pod("c", "w2", true))
	tl := NewTimeline(nil)
	r := &Runner{Env: e, Reverts: &Reverts{}, Timeline: tl, VerifyTimeout: time.Second}
	plan := Plan([]Spec{{Type: PodKill, At: 50 * time.Millisecond, Every: 150 * time.Millisecond, Count: 2}})
	start := time.Now()
	out, err := r.Run(context.Background(), start, plan)
	require.NoError(t, err)
	require.Len(t, out, 2)
	assert.Equal(t, "pod-kill-1", out[0].ID)
	assert.InDelta(t, 50, out[0].Inject.Sub(start).Milliseconds(), 30)
	assert.InDelta(t, 200, out[1].Inject.Sub(start).Milliseconds(), 30)
	for _, f := range out {
		require.NotNil(t, f.Landed)
		assert.True(t, *f.Landed, f.Evidence)
	}
	left, _ := cs.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	assert.Len(t, left.Items, 1)
	var kinds []string
	for _, ev := range tl.Events() {
		kinds = append(kinds, ev.Kind)
	}
	assert.Contains(t, kinds, "inject")
	assert.Contains(t, kinds, "landed")
}

func TestRunnerStopsOnCancelAndInjectFailure(t *testing.T) {
	e, _ := env(pod("a", "w1", true))
	r := &Runner{Env: e, Reverts: &Reverts{}, Timeline: NewTimeline(nil)}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Run(ctx, start, Plan([]Spec{{Type: PodKill, At: time.Hour}}))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)

	e2, _ := env() // no pods: inject fails, and is reverted
	r2 := &Runner{Env: e2, Reverts: &Reverts{}, Timeline: NewTimeline(nil)}
	out, err := r2.Run(context.Background(), time.Now(), Plan([]Spec{{Type: PodKill}}))
	require.ErrorContains(t, err, "inject pod-kill-1: no ready pod")
	require.Len(t, out, 1)
	assert.Zero(t, r2.Reverts.Pending())
}

func TestUnstableSpans(t *testing.T) {
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	series := []readiness{
		{at(0), 3, 3, 3}, {at(10.2), 3, 2, 3}, {at(10.3), 2, 2, 3}, {at(13.1), 3, 3, 3}, {at(30), 3, 2, 3},
	}
	spans := unstableSpans(series, at(0), at(40))
	require.Len(t, spans, 2)
	assert.Equal(t, at(10.2), spans[0].From)
	assert.Equal(t, at(13.1).Add(SettleMargin), spans[0].To)
	assert.Equal(t, at(30), spans[1].From)
	assert.Equal(t, at(40), spans[1].To, "still open at the end")
	assert.Empty(t, unstableSpans(series[:1], at(0), at(40)))
}

// Load pods are never victims, even under a selector that matches them.
func TestLoadPodsAreNeverVictims(t *testing.T) {
	load := pod("load-0", "w1", true)
	load.Labels["aftershock.dev/role"] = "load"
	_, cs := env(pod("a", "w1", true), load)
	for seed := uint64(0); seed < 20; seed++ {
		got, err := pickPods(context.Background(), cs, "ns", "app=web", 2, 0, rand.New(rand.NewPCG(seed, 0)))
		require.NoError(t, err)
		assert.Equal(t, []string{"a"}, podNames(got))
		got, err = pickPods(context.Background(), cs, "ns", "", 2, 0, rand.New(rand.NewPCG(seed, 0)))
		require.NoError(t, err)
		assert.Equal(t, []string{"a"}, podNames(got), "an empty selector too")
	}
	assert.Equal(t, NotLoadPods, loadgen.LabelRole+"!="+loadgen.RoleLoad)
}

// Cleaning a cluster aftershock did not create uncordons only the nodes a
// drain marked, never one its owner cordoned.
func TestCleanForeignUncordonsOnlyMarkedNodes(t *testing.T) {
	ours := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Annotations: map[string]string{Marker: "drain:abc"}}, Spec: corev1.NodeSpec{Unschedulable: true}}
	theirs := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}, Spec: corev1.NodeSpec{Unschedulable: true}}
	cs := fake.NewClientset(ours, theirs)
	c := &clusters.Cluster{Name: "kind-theirs", Clientset: cs}
	done, err := CleanForeign(context.Background(), c)
	require.NoError(t, err)
	assert.Equal(t, []string{"node n1 uncordoned (marked by a drain)"}, done)
	n1, err := cs.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	require.NoError(t, err)
	assert.False(t, n1.Spec.Unschedulable)
	assert.NotContains(t, n1.Annotations, Marker)
	n2, err := cs.CoreV1().Nodes().Get(context.Background(), "n2", metav1.GetOptions{})
	require.NoError(t, err)
	assert.True(t, n2.Spec.Unschedulable, "the owner's cordon stays")
	done, err = CleanForeign(context.Background(), c)
	require.NoError(t, err)
	assert.Empty(t, done, "idempotent")
}

// A replay's pins take the pod at the same position on the same node (by
// the node's name without the cluster prefix); a pin whose node has no
// ready pod falls back to the seeded choice; every pick records its
// victims' nodes and positions.
func TestPickPinnedFollowsNodeAndPosition(t *testing.T) {
	pod := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "web"}},
			Spec:   corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	}
	// a new cluster (c2): other pod names, same shape
	cs := fake.NewClientset(pod("web-b", "c2-worker"), pod("web-a", "c2-worker"), pod("web-c", "c2-worker2"))
	r := func() *rand.Rand { return rand.New(rand.NewPCG(42, 0)) }

	got, victims, err := pickPinned(context.Background(), cs, "ns", "app=web", 1, 0, r(), []report.Victim{{Node: "worker2"}}, "c2")
	require.NoError(t, err)
	assert.Equal(t, []string{"web-c"}, podNames(got))
	assert.Equal(t, []report.Victim{{Pod: "web-c", Node: "worker2", Pos: 0}}, victims)

	got, victims, err = pickPinned(context.Background(), cs, "ns", "app=web", 1, 0, r(), []report.Victim{{Node: "worker", Pos: 1}}, "c2")
	require.NoError(t, err)
	assert.Equal(t, []string{"web-b"}, podNames(got), "second by name on worker")
	assert.Equal(t, []report.Victim{{Pod: "web-b", Node: "worker", Pos: 1}}, victims)

	seeded, _, err := pickPinned(context.Background(), cs, "ns", "app=web", 1, 0, r(), nil, "c2")
	require.NoError(t, err)
	got, _, err = pickPinned(context.Background(), cs, "ns", "app=web", 1, 0, r(), []report.Victim{{Node: "worker9"}}, "c2")
	require.NoError(t, err)
	assert.Equal(t, podNames(seeded), podNames(got), "no such node: the seeded choice")

	got, victims, err = pickPinned(context.Background(), cs, "ns", "app=web", 2, 0, r(), []report.Victim{{Node: "worker2"}, {Node: "worker", Pos: 0}}, "c2")
	require.NoError(t, err)
	assert.Equal(t, []string{"web-c", "web-a"}, podNames(got))
	assert.Len(t, victims, 2)

	env := &Env{Cluster: &clusters.Cluster{Name: "c2", Clientset: fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c2-worker"}}, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c2-worker2"}})}}
	assert.Equal(t, "c2-worker2", env.nodeFor(context.Background(), Spec{Pin: []report.Victim{{Node: "worker2"}}}))
	assert.Equal(t, "", env.nodeFor(context.Background(), Spec{Pin: []report.Victim{{Node: "worker7"}}}))
	assert.Equal(t, "x", env.nodeFor(context.Background(), Spec{Node: "x", Pin: []report.Victim{{Node: "worker2"}}}))
	assert.Equal(t, []report.Victim{{Node: "worker2"}}, env.nodeVictim("c2-worker2"))
}

// One revert that blocks until its budget is spent must not leave the next
// one an expired context: each revert gets a budget of its own.
func TestEachRevertGetsItsOwnBudget(t *testing.T) {
	defer func(d, r time.Duration) { RevertTimeout, RevertRetryFor = d, r }(RevertTimeout, RevertRetryFor)
	RevertTimeout, RevertRetryFor = 200*time.Millisecond, 200*time.Millisecond
	var r Reverts
	var secondCtxErr error
	called := false
	r.Push("second", func(ctx context.Context) error {
		called = true
		secondCtxErr = ctx.Err()
		return ctx.Err()
	})
	r.Push("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	err := r.RevertAll()
	require.ErrorContains(t, err, "revert slow")
	require.True(t, called)
	assert.NoError(t, secondCtxErr, "the second revert ran with a live context")
	assert.Equal(t, 1, r.Pending(), "only the slow one is still pending")
}

// A drain never picks a node its owner cordoned, and a revert leaves such
// a node cordoned.
func TestDrainNeverTouchesAnOwnerCordonedNode(t *testing.T) {
	w1 := node("w1", false)
	w1.Spec.Unschedulable = true
	e, cs := env(node("cp", true), w1, node("w2", false), pod("a", "w1", true), pod("b", "w2", true))
	for i := 0; i < 10; i++ {
		n, err := pickNode(context.Background(), cs, "", "ns", "app=web", e.Rand)
		require.NoError(t, err)
		assert.Equal(t, "w2", n.Name, "the cordoned worker is never picked")
	}
	f, err := New(Spec{Type: NodeDrain, Node: "w1"}, e)
	require.NoError(t, err)
	_, err = f.Inject(context.Background())
	require.ErrorContains(t, err, `node "w1" is cordoned`)
	require.NoError(t, f.Revert(context.Background()))
	// a drain whose node was cordoned by someone else after it picked it:
	// revert only uncordons with this run's marker
	d := &nodeDrain{env: e, spec: Spec{Type: NodeDrain}, node: "w1"}
	require.NoError(t, d.Revert(context.Background()))
	n, _ := cs.CoreV1().Nodes().Get(context.Background(), "w1", metav1.GetOptions{})
	assert.True(t, n.Spec.Unschedulable, "the owner's cordon stays after revert")
}

// Node faults act only on the cluster's own node containers: a Node object
// named like another local container is refused before any Docker call.
func TestNodeFaultsOnlyTouchTheClustersContainers(t *testing.T) {
	e, _ := env(node("cp", true), node("postgres", false), pod("a", "postgres", true))
	e.nodeList = func() ([]string, error) {
		return []string{"aftershock-test-control-plane", "aftershock-test-worker"}, nil
	}
	for _, s := range []Spec{
		{Type: NodeStop, Node: "postgres"}, {Type: NodePause},
		{Type: NetworkPartition, Scope: ScopeNode}, {Type: NetworkPartition},
		{Type: ContainerKill}, {Type: NetworkDelay, Delay: time.Millisecond}, {Type: NetworkLoss, Loss: 0.5},
	} {
		typ := s.Type + "/" + s.Scope
		f, err := New(s, e)
		require.NoError(t, err, typ)
		_, err = f.Inject(context.Background())
		require.ErrorContains(t, err, `node "postgres" is not a node container of kind cluster "aftershock-test"`, typ)
	}
}
