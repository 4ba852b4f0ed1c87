package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	kindv1 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/report"
)

// foreignScenario runs on any cluster: load from pods inside it, a fault
// that works through the API alone.
const foreignScenario = `name: foreign-pod-kill
seed: 5
app: {replicas: 2}
load: {via: inCluster, pods: 2, rate: 100/s, duration: 16s, keepAlive: false}
faults:
  - {type: pod-kill, at: 5s, pods: 1}
slo: {availability: 99%, recovery: 15s}
`

// createForeignCluster makes a kind cluster the way a user would, outside
// aftershock: its own name, no aftershock label on its nodes, its
// kubeconfig in a file of the test's, and the NodePort of an Ingress
// controller published on 127.0.0.1 (kind's own ingress recipe:
// extraPortMappings), whose host port it returns. Deleted when the test
// ends.
func createForeignCluster(t *testing.T, ctx context.Context, nodeImage string) (string, kubernetes.Interface, string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ingressPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "theirs-" + hex.EncodeToString(b)
	kcfg := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := &kindv1.Cluster{TypeMeta: kindv1.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		// these machines are cgroup v1 hybrids (ENVIRONMENT.md)
		KubeadmConfigPatches: []string{"kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\nfailCgroupV1: false\n"},
		Nodes: []kindv1.Node{{Role: kindv1.ControlPlaneRole, ExtraPortMappings: []kindv1.PortMapping{{
			ContainerPort: clusters.IngressNodePort, HostPort: int32(ingressPort), ListenAddress: "127.0.0.1", Protocol: kindv1.PortMappingProtocolTCP,
		}}}, {Role: kindv1.WorkerRole}},
	}
	p := cluster.NewProvider(cluster.ProviderWithDocker())
	// as clusters.Create does: one cluster creation at a time on this machine
	creating, err := (&clusters.Cluster{Name: "machine.create"}).Lease(ctx, true, nil)
	require.NoError(t, err)
	start := time.Now()
	err = p.Create(name, cluster.CreateWithV1Alpha4Config(cfg), cluster.CreateWithNodeImage(nodeImage),
		cluster.CreateWithWaitForReady(3*time.Minute), cluster.CreateWithKubeconfigPath(kcfg),
		cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false))
	t.Cleanup(func() {
		if os.Getenv("AFTERSHOCK_KEEP_CLUSTER") == "1" {
			t.Logf("keeping cluster %s (kubeconfig %s)", name, kcfg)
			return
		}
		if err := p.Delete(name, kcfg); err != nil {
			t.Errorf("delete cluster %s: %v", name, err)
		}
		// the runs' lease files of this cluster (its kubeconfig context)
		if d, err := os.UserCacheDir(); err == nil {
			left, _ := filepath.Glob(filepath.Join(d, "aftershock", "locks", "kind-"+name+".*"))
			for _, f := range left {
				_ = os.Remove(f)
			}
		}
	})
	creating.Release()
	require.NoError(t, err, "create the foreign kind cluster")
	t.Logf("foreign cluster %s created in %s", name, time.Since(start).Round(100*time.Millisecond))
	rc, err := clientcmd.BuildConfigFromFlags("", kcfg)
	require.NoError(t, err)
	cs, err := kubernetes.NewForConfig(rc)
	require.NoError(t, err)
	return name, cs, kcfg, ingressPort
}

// loadInto loads an image archive into every node, as a registry the
// nodes pull from would serve it.
func loadInto(t *testing.T, ns []nodes.Node, archive string) {
	t.Helper()
	for _, n := range ns {
		f, err := os.Open(archive)
		require.NoError(t, err)
		require.NoError(t, nodeutils.LoadImageArchive(n, f), "load %s into %s", archive, n)
		f.Close()
	}
}

// scenarioNamespaces lists what runs left in a cluster (not the stand-in
// for the owner's Ingress controller this test installs: its namespace is
// labelled as a component of aftershock's).
func scenarioNamespaces(t *testing.T, ctx context.Context, cs kubernetes.Interface) []string {
	t.Helper()
	l, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: clusters.ScenarioNamespaceSelector})
	require.NoError(t, err)
	var out []string
	for _, n := range l.Items {
		out = append(out, n.Name+" ("+string(n.Status.Phase)+")")
	}
	return out
}

// badWindows lists the windows with failed requests (offset, failed of
// total, classes): what a failed assertion on a verdict needs to be read.
func badWindows(r *report.Result) string {
	var out []string
	for _, w := range r.Windows {
		if w.Requests > w.OK {
			out = append(out, fmt.Sprintf("%s %d/%d %v", w.Offset, w.Requests-w.OK, w.Requests, w.Errors))
		}
	}
	return strings.Join(out, "; ")
}

// A kind cluster created outside aftershock stands in for a real cluster:
// the run is refused without the allow flag (nothing created); with it and
// an image repository the nodes cannot pull from, it fails at once naming
// the image (nothing left); with the image where the nodes find it (loaded
// by the test, as a registry would serve it), an in-cluster pod-kill scenario
// runs to a pass, its report naming the path and the cluster; so does the
// same scenario through the cluster's own Ingress controller at a
// port-forward's address; clean --kubeconfig then finds nothing.
func TestIntegrationForeignCluster(t *testing.T) {
	clustertest.RequireDocker(t)
	// not beside the interruption tests: with their node faults and
	// restarts on the shared cluster, this cluster's pod kill lost 35, 216,
	// 180 and 572 of 1600 requests to timeouts (CI of stop 28, run of
	// session 14, run 34 of session 13); alone it loses none. It runs after
	// the installed-binary test, before the parallel ones.
	ownCluster(t) // creates a cluster of its own: one such test at a time
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	img, err := clustertest.NodeImage(ctx)
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "aftershock")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	name, cs, kcfg, ingressPort := createForeignCluster(t, ctx, img)
	work := t.TempDir()
	spec := filepath.Join(work, "foreign.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(foreignScenario), 0o644))
	aftershock := func(args ...string) (string, int) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = work
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		t.Logf("aftershock %s: exit %d\n%s", strings.Join(args, " "), code, out)
		return string(out), code
	}

	// 1. refused without the allow flag, before anything is created
	out1, code := aftershock("run", "--kubeconfig", kcfg, "--image-repo", "foreign.test/team", "--out", "r1", spec)
	assert.Equal(t, 1, code)
	assert.Contains(t, out1, "needs the explicit allow flag")
	assert.Empty(t, scenarioNamespaces(t, ctx, cs), "nothing created on a refused run")

	// 2. an image its nodes cannot pull: a clear failure, at once, named
	t0 := time.Now()
	out2, code := aftershock("run", "--kubeconfig", kcfg, "--allow-foreign-cluster", "--image-repo", "localhost:1/absent", "--out", "r2", spec)
	took := time.Since(t0)
	assert.Equal(t, 1, code)
	assert.Regexp(t, `image localhost:1/absent/aftershock:[0-9a-f]{12} cannot be pulled by node `+name+`-worker`, out2)
	assert.Less(t, took, 90*time.Second, "fails on the pull error, not a rollout timeout")
	assert.Empty(t, scenarioNamespaces(t, ctx, cs), "the failed run's namespace is gone")
	t.Logf("unpullable image refused in %s", took.Round(100*time.Millisecond))

	// 3. the image where the nodes find it: the run passes
	outImg, code := aftershock("image", "--image-repo", "foreign.test/team", "--out", filepath.Join(work, "images"))
	require.Equal(t, 0, code)
	lines := strings.Fields(outImg)
	require.Len(t, lines, 2, "image prints its reference and archive: %q", outImg)
	ref, archive := lines[0], lines[1]
	assert.Regexp(t, `^foreign.test/team/aftershock:[0-9a-f]{12}$`, ref)
	nodes, err := cluster.NewProvider(cluster.ProviderWithDocker()).ListNodes(name)
	require.NoError(t, err)
	loadInto(t, nodes, archive)
	out3, code := aftershock("run", "--kubeconfig", kcfg, "--allow-foreign-cluster", "--image-repo", "foreign.test/team", "--out", "r3", spec)
	assert.Equal(t, 0, code)
	assert.Contains(t, out3, "its nodes pull "+ref)
	res, err := report.ReadFile(filepath.Join(work, "r3", "foreign-pod-kill", report.FileJSON))
	require.NoError(t, err)
	assert.Equal(t, report.Pass, res.Verdict, "%v; failed by class: %v; windows with failures: %s", res.Reasons, res.Errors, badWindows(res))
	assert.True(t, strings.HasPrefix(res.Path, "inCluster: 2 load pods"), res.Path)
	assert.Contains(t, res.Info["cluster"], "not created by aftershock")
	assert.Contains(t, res.Info["cluster"], ref)
	assert.Equal(t, "kind-"+name, res.Cluster, "named by its kubeconfig context")
	require.Len(t, res.LoadSources, 2)
	sent := 0
	for _, src := range res.LoadSources {
		assert.True(t, src.Complete, "%+v", src)
		sent += src.Samples
	}
	assert.InDelta(t, 1600, sent, 80, "100/s for 16 s from the pods")
	require.Len(t, res.Faults, 1)
	assert.True(t, res.Faults[0].LandedVerdict, res.Faults[0].LandedWhy)
	assert.Empty(t, scenarioNamespaces(t, ctx, cs), "the run's namespace is gone")

	// 4. through the cluster's own Ingress controller (aftershock's Traefik
	// stands in for it, installed here as its owner would), reached on
	// 127.0.0.1 where the cluster publishes its NodePort (kind's ingress
	// recipe; a port-forward dies with the first connection reset through
	// it, kubernetes/kubernetes#103526, and took the run down with it)
	ctlImg, err := ingress.EnsureImage(ctx, clustertest.LogWriter(t))
	require.NoError(t, err)
	loadInto(t, nodes, ctlImg.Archive)
	rc, err := clientcmd.BuildConfigFromFlags("", kcfg)
	require.NoError(t, err)
	owner := &clusters.Cluster{Name: name, REST: rc, Clientset: cs, IngressPort: ingressPort}
	_, err = ingress.Install(ctx, owner, ctlImg.Ref, 1)
	require.NoError(t, err)
	port := ingressPort
	ingSpec := filepath.Join(work, "foreign-ingress.yaml")
	require.NoError(t, os.WriteFile(ingSpec, []byte(strings.NewReplacer("name: foreign-pod-kill", "name: foreign-ingress",
		"via: inCluster, pods: 2", "via: ingress").Replace(foreignScenario)), 0o644))
	out5, code := aftershock("run", "--kubeconfig", kcfg, "--allow-foreign-cluster", "--image-repo", "foreign.test/team",
		"--ingress-address", fmt.Sprintf("127.0.0.1:%d", port), "--ingress-class", ingress.Class, "--out", "r5", ingSpec)
	assert.Equal(t, 0, code)
	assert.Contains(t, out5, "the cluster's own controller (IngressClass aftershock)")
	res, err = report.ReadFile(filepath.Join(work, "r5", "foreign-ingress", report.FileJSON))
	require.NoError(t, err)
	assert.Equal(t, report.Pass, res.Verdict, "%v; failed by class: %v; windows with failures: %s", res.Reasons, res.Errors, badWindows(res))
	assert.True(t, strings.HasPrefix(res.Path, "ingress: the cluster's own controller"), res.Path)
	assert.InDelta(t, 1600, res.Requests, 80)
	require.NotNil(t, res.Baseline())
	even, _ := res.Baseline().Evenness()
	require.NotNil(t, even)
	assert.Len(t, even.Pods, 2, "attribution names the app's pods through the controller")
	assert.Empty(t, scenarioNamespaces(t, ctx, cs), "the run's namespace is gone")
	require.NoError(t, ingress.Uninstall(ctx, owner))

	// 5. clean finds nothing, and leaves the cluster
	out4, code := aftershock("clean", "--kubeconfig", kcfg, "--allow-foreign-cluster")
	assert.Equal(t, 0, code)
	assert.Contains(t, out4, "nothing left by aftershock")
	ns, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, ns.Items, 2, "the cluster is still there")
}
