package clusters

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	kindv1 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/aftershock-dev/aftershock/clusters/appsource"
)

func TestKindConfigPublishesAppPortOnLoopbackOnly(t *testing.T) {
	opts := Options{Name: "aftershock-x", Workers: 2, NodeImage: "img", NodeMonitorGracePeriod: 20 * time.Second}
	require.NoError(t, opts.defaults())
	cfg := kindConfig(opts, 34567, 34568, []appSlot{{30082, 34569}, {30083, 34570}})
	require.Len(t, cfg.Nodes, 3)
	assert.Equal(t, kindv1.ControlPlaneRole, cfg.Nodes[0].Role)
	require.Len(t, cfg.Nodes[0].ExtraPortMappings, 4)
	for i, want := range [][2]int32{{34567, AppNodePort}, {34568, IngressNodePort}, {34569, 30082}, {34570, 30083}} {
		pm := cfg.Nodes[0].ExtraPortMappings[i]
		assert.Equal(t, "127.0.0.1", pm.ListenAddress)
		assert.Equal(t, want[0], pm.HostPort)
		assert.Equal(t, want[1], pm.ContainerPort)
	}
	for _, n := range cfg.Nodes {
		assert.Equal(t, "true", n.Labels[ManagedLabel])
		assert.Equal(t, "img", n.Image)
	}
	assert.Contains(t, cfg.KubeadmConfigPatches[1], "node-monitor-grace-period")
	assert.Contains(t, cfg.KubeadmConfigPatches[1], "20s")
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
		workers int
	}{
		{"defaults", Options{NodeImage: "i"}, "", 2},
		{"no workers", Options{NodeImage: "i", Workers: -1}, "", 0},
		{"foreign name", Options{NodeImage: "i", Name: "prod"}, `"prod": must start with "aftershock-"`, 0},
		{"no image", Options{}, "NodeImage is empty", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.defaults()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.workers, tt.opts.Workers)
			assert.Regexp(t, `^aftershock-[0-9a-f]{6}$`, tt.opts.Name)
		})
	}
}

func TestAppObjects(t *testing.T) {
	dep, svc, pdb := App{Namespace: "ns", Image: "img", Replicas: 4, PDBMinAvailable: 2}.objects()
	assert.EqualValues(t, 4, *dep.Spec.Replicas)
	c := dep.Spec.Template.Spec.Containers[0]
	assert.Equal(t, corev1.PullNever, c.ImagePullPolicy)
	require.NotNil(t, c.ReadinessProbe)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	tols := dep.Spec.Template.Spec.Tolerations
	require.Len(t, tols, 2)
	assert.EqualValues(t, 10, *tols[0].TolerationSeconds)
	assert.Equal(t, corev1.DoNotSchedule, dep.Spec.Template.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable)
	assert.EqualValues(t, AppNodePort, svc.Spec.Ports[0].NodePort)
	require.NotNil(t, pdb)
	assert.EqualValues(t, 2, pdb.Spec.MinAvailable.IntVal)

	dep, _, pdb = App{Namespace: "ns", Image: "img", NoReadinessProbe: true}.objects()
	assert.Nil(t, dep.Spec.Template.Spec.Containers[0].ReadinessProbe)
	assert.EqualValues(t, 3, *dep.Spec.Replicas)
	assert.Nil(t, pdb)
}

func TestDeleteRefusesForeignClusters(t *testing.T) {
	require.ErrorContains(t, DeleteByName("kind"), "not an aftershock cluster")
	c := &Cluster{Name: "https://prod:6443"}
	require.ErrorContains(t, c.Delete(t.Context()), "refusing")
	_, err := FromKubeconfig("/nonexistent", false)
	require.ErrorContains(t, err, "explicit allow flag")
}

func TestDeleteServicesFreesNodePorts(t *testing.T) {
	_, svc, _ := App{Namespace: "ns", Image: "img"}.objects()
	c := &Cluster{Clientset: fake.NewClientset(svc)}
	require.NoError(t, c.DeleteServices(t.Context(), "ns"))
	list, err := c.Clientset.CoreV1().Services("ns").List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items)
}

func TestWorkloadsBehindReadsReplicasAsDecoded(t *testing.T) {
	objs, err := appsource.Decode([]byte(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  template: {metadata: {labels: {app: web}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template: {metadata: {labels: {app: db}}}
`))
	require.NoError(t, err)
	ws, err := workloadsBehind(objs, map[string]string{"app": "web"})
	require.NoError(t, err)
	assert.Equal(t, []Workload{{Kind: "Deployment", Name: "web", Replicas: 4}}, ws)
	ws, _ = workloadsBehind(objs, map[string]string{"app": "db"})
	assert.Equal(t, []Workload{{Kind: "StatefulSet", Name: "db", Replicas: 1}}, ws)
}

// clean --keep: the namespaces runs created go (a killed run's Service holds
// the NodePort); others stay, aftershock's components' too (only their own
// uninstall removes them: metrics-server's namespace before its APIService
// blocks every namespace deletion); a second call finds nothing.
func TestDeleteScenarioNamespaces(t *testing.T) {
	mk := func(name string, ours bool) *corev1.Namespace {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if ours {
			ns.Labels = map[string]string{"app.kubernetes.io/managed-by": "aftershock"}
		}
		return ns
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "sampleapp", Namespace: "as-pod-kill-1"}}
	metrics := mk("aftershock-metrics", true)
	metrics.Labels[ComponentLabel] = "metrics"
	cs := fake.NewClientset(mk("as-pod-kill-1", true), mk("team-prod", false), mk("kube-system", false), svc, metrics)
	c := &Cluster{Clientset: cs}
	gone, err := c.DeleteScenarioNamespaces(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"namespace as-pod-kill-1"}, gone)
	left, err := cs.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var names []string
	for _, n := range left.Items {
		names = append(names, n.Name)
	}
	assert.ElementsMatch(t, []string{"team-prod", "kube-system", "aftershock-metrics"}, names)
	gone, err = c.DeleteScenarioNamespaces(context.Background())
	require.NoError(t, err)
	assert.Empty(t, gone)
}

// Ownership is the label on the nodes, not the name.
func TestCheckManaged(t *testing.T) {
	node := func(name string, ours bool) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if ours {
			n.Labels = map[string]string{ManagedLabel: "true"}
		}
		return n
	}
	ctx := context.Background()
	require.NoError(t, checkManaged(ctx, fake.NewClientset(node("aftershock-x-control-plane", true), node("aftershock-x-worker", true))))
	err := checkManaged(ctx, fake.NewClientset(node("aftershock-x-control-plane", true), node("aftershock-x-worker", false)))
	require.ErrorContains(t, err, "node aftershock-x-worker lacks the label aftershock.dev/managed=true")
	require.Error(t, checkManaged(ctx, fake.NewClientset()))
}

func TestNodeMonitorGracePeriodFromControllerManager(t *testing.T) {
	kcm := func(args ...string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kube-controller-manager-cp", Namespace: "kube-system", Labels: map[string]string{"component": "kube-controller-manager"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "kcm", Command: append([]string{"kube-controller-manager"}, args...)}}}}
	}
	ctx := context.Background()
	d, err := (&Cluster{Clientset: fake.NewClientset(kcm("--leader-elect=true", "--node-monitor-grace-period=20s"))}).NodeMonitorGracePeriod(ctx)
	require.NoError(t, err)
	assert.Equal(t, 20*time.Second, d)
	d, err = (&Cluster{Clientset: fake.NewClientset(kcm("--leader-elect=true"))}).NodeMonitorGracePeriod(ctx)
	require.NoError(t, err)
	assert.Equal(t, 40*time.Second, d, "Kubernetes' default")
	_, err = (&Cluster{Clientset: fake.NewClientset()}).NodeMonitorGracePeriod(ctx)
	require.Error(t, err)
}

func readyPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

// A path that refuses every connection (a node whose kube-proxy is not
// running yet) must not spend the request budget in a burst: the wait lasts
// its time, and the error says what the requests met.
func TestWaitTrafficPacesRefusedRequests(t *testing.T) {
	c := &Cluster{Clientset: fake.NewClientset(readyPod("ns", "a"), readyPod("ns", "b"))}
	refused := func(context.Context) (string, error) { return "", errors.New("connect: connection refused") }
	t0 := time.Now()
	res, err := c.WaitTrafficReachesAllVia(t.Context(), "ns", "app=web", refused, 1500*time.Millisecond, 5000)
	require.Error(t, err)
	assert.GreaterOrEqual(t, time.Since(t0), 1400*time.Millisecond, "waited its time")
	assert.LessOrEqual(t, res.Requests, 80, "at most two rounds of 40 in 1.5 s, not the whole budget")
	assert.Contains(t, err.Error(), "2 pods ready")
	assert.Contains(t, err.Error(), "last error: connect: connection refused")

	// once both answer, it returns with both
	n := 0
	alternate := func(context.Context) (string, error) { n++; return []string{"a", "b"}[n%2], nil }
	res, err = c.WaitTrafficReachesAllVia(t.Context(), "ns", "app=web", alternate, time.Second, 5000)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, res.Pods)
}

// Only a failure in kubeadm (a deadline on a loaded machine) is tried again.
func TestKubeadmFailed(t *testing.T) {
	assert.True(t, kubeadmFailed(errors.New(`failed to init node with kubeadm: command "docker exec --privileged x-control-plane kubeadm init" failed with error: exit status 1`)))
	assert.True(t, kubeadmFailed(errors.New("failed to join node with kubeadm: exit status 1")))
	assert.False(t, kubeadmFailed(errors.New(`failed to ensure node image: image "nope" not present locally`)))
}

// The headless Service resolves to the pods themselves, on their port.
func TestAppHeadlessService(t *testing.T) {
	h := App{Namespace: "ns", Image: "img", Headless: true}.headless()
	assert.Equal(t, "sampleapp-pods", h.Name)
	assert.Equal(t, "ns", h.Namespace)
	assert.Equal(t, corev1.ClusterIPNone, h.Spec.ClusterIP)
	assert.Equal(t, map[string]string{"app": "sampleapp"}, h.Spec.Selector)
	require.Len(t, h.Spec.Ports, 1)
	assert.EqualValues(t, sampleapp.Port, h.Spec.Ports[0].Port)
	assert.False(t, h.Spec.PublishNotReadyAddresses, "only ready pods resolve")
}

// The cluster goes to the next scenario when the namespace's pods are gone,
// not when the namespace is: here the namespace never goes (a finalizer
// the fake does not run), yet podsGone is called, and the wait for the
// namespace still fails by name.
func TestDeleteNamespaceThenGivesUpTheClusterWhenPodsAreGone(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "as-x-1"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "app-1", Namespace: "as-x-1"}}
	cs := fake.NewClientset(ns, pod)
	cs.PrependReactor("delete", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil // accepted, but the namespace stays (terminating)
	})
	go func() { // the kubelet: the pod ends a moment after the deletion
		time.Sleep(200 * time.Millisecond)
		_ = cs.CoreV1().Pods("as-x-1").Delete(context.Background(), "app-1", metav1.DeleteOptions{})
	}()
	c := &Cluster{Name: "x", Clientset: cs}
	var gone []string
	err := c.DeleteNamespaceThen(context.Background(), "as-x-1", time.Second, func() {
		pods, lerr := cs.CoreV1().Pods("as-x-1").List(context.Background(), metav1.ListOptions{})
		require.NoError(t, lerr)
		gone = append(gone, fmt.Sprintf("pods %d", len(pods.Items)))
	})
	require.Equal(t, []string{"pods 0"}, gone, "called once, with the pods gone")
	require.ErrorContains(t, err, "delete namespace as-x-1: not gone within 1s")

	// without podsGone nothing changes: the namespace is waited for
	cs2 := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "as-y-1"}})
	require.NoError(t, (&Cluster{Clientset: cs2}).DeleteNamespace(context.Background(), "as-y-1", time.Second))
}

// After a node fault the cluster is settled only when every node is Ready
// and every kube-system pod is Ready again; the error names what is not.
func TestWaitSettledNamesWhatIsNotBack(t *testing.T) {
	node := func(name string, ready corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
	}
	pod := func(name, node string, ready corev1.ConditionStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}, Spec: corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
	}
	c := &Cluster{Name: "x", Clientset: fake.NewClientset(node("w1", corev1.ConditionTrue), node("w2", corev1.ConditionTrue),
		pod("kube-proxy-a", "w1", corev1.ConditionTrue), pod("kube-proxy-b", "w2", corev1.ConditionFalse))}
	err := c.WaitSettled(context.Background(), time.Second)
	require.Error(t, err)
	assert.Equal(t, "cluster x not settled within 1s: pod kube-system/kube-proxy-b (w2) not Ready", err.Error())

	c = &Cluster{Name: "x", Clientset: fake.NewClientset(node("w1", corev1.ConditionFalse), pod("kube-proxy-a", "w1", corev1.ConditionTrue))}
	assert.ErrorContains(t, c.WaitSettled(context.Background(), time.Second), "node w1 not Ready")

	c = &Cluster{Name: "x", Clientset: fake.NewClientset(node("w1", corev1.ConditionTrue), pod("kube-proxy-a", "w1", corev1.ConditionTrue))}
	assert.NoError(t, c.WaitSettled(context.Background(), time.Second))
}
