package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// interruptFaults is one fault of each type, lasting long enough that a kill
// during it finds it in place. The first seven leave something on the
// cluster when killed (a cordon, a paused or stopped node, iptables rules in
// a pod or a node, a netem qdisc or delay agent, a workload mid-rollout to
// an image no node can pull, so the kill always finds it mid-way);
// pod-kill and container-kill leave only the namespace, which every kill
// leaves. The CI count (AFTERSHOCK_INTERRUPTS unset) is the first six, for
// CI time (network-loss leaves a tagged iptables rule in a pod, as the
// pod-scoped partition does); AFTERSHOCK_INTERRUPTS=9 kills once per fault
// type, 20 cycles again.
var interruptFaults = []string{
	"{type: node-drain, at: 2s, for: 20s}",
	"{type: network-delay, at: 2s, for: 20s, delay: 100ms}",
	"{type: node-pause, at: 2s, for: 20s}",
	"{type: network-partition, at: 2s, for: 20s, scope: pods}",
	"{type: node-stop, at: 2s, for: 20s}",
	"{type: rollout, at: 2s, image: \"aftershock.dev/never-built:0\"}",
	"{type: network-loss, at: 2s, for: 20s, loss: 30%}",
	"{type: pod-kill, at: 2s, every: 2s, count: 10, pods: 1}",
	"{type: container-kill, at: 2s, every: 2s, count: 10}",
}

// interruptsInCI is the default count: every fault type that leaves
// something behind when killed.
const interruptsInCI = 6

// injectedLine is a fault in place (the runner's "injected" progress line).
var injectedLine = regexp.MustCompile(`^[a-z0-9-]+: [a-z-]+-\d+ injected\b`)

// TestMain deletes the shared cluster of the interruption test.
func TestMain(m *testing.M) { clustertest.Main(m) }

// A run killed with SIGKILL at a random (seeded) moment in the 8 s after its
// fault is in place leaves things behind; `aftershock clean --keep` removes all of
// them (no cordon, paused or stopped node, tagged iptables rule, qdisc,
// agent or scenario namespace), and the next scenario on the same cluster
// runs to a pass. AFTERSHOCK_INTERRUPTS sets the count (default 6; 9 is one per
// fault type), AFTERSHOCK_INTERRUPT_SEED the seed.
func TestIntegrationSIGKILLThenCleanKeep(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel()              // after the package's serial tests
	c := clustertest.Extra(t) // its runs leave faults in place until clean: the shared cluster, alone
	count := envInt(t, "AFTERSHOCK_INTERRUPTS", interruptsInCI)
	seed := envInt(t, "AFTERSHOCK_INTERRUPT_SEED", 1)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count)*4*time.Minute+30*time.Minute) // leases may wait for scenarios side by side
	defer cancel()

	bin := filepath.Join(t.TempDir(), "aftershock")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	work := t.TempDir()

	for i := range count {
		fault := interruptFaults[i%len(interruptFaults)]
		spec := filepath.Join(work, fmt.Sprintf("interrupt-%d.yaml", i))
		require.NoError(t, os.WriteFile(spec, interruptSpec(i, fault), 0o644))
		_, err := scenarios.ParseFile(spec)
		require.NoError(t, err)
		after := time.Duration(rng.Int64N(int64(8 * time.Second))) // a moment while the fault is in place
		what := killDuringFault(ctx, t, bin, work, c.Name, spec, after)
		t.Logf("run %d (%s): killed %s after it was in place; %s", i, fault, after.Round(time.Millisecond), what)

		left, err := faults.Leftovers(ctx, c)
		require.NoError(t, err)
		t.Logf("run %d: left behind before clean: %d items %v", i, len(left), left)
		cl := exec.CommandContext(ctx, bin, "clean", "--keep", c.Name)
		cl.Dir = work
		out, err := cl.CombinedOutput()
		require.NoError(t, err, "clean --keep: %s", out)
		t.Logf("run %d: clean --keep: %s", i, strings.TrimSpace(string(out)))
		assertNothingRemains(ctx, t, c)
		// idempotent: a second clean finds nothing
		out, err = exec.CommandContext(ctx, bin, "clean", "--keep", c.Name).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.NotContains(t, string(out), "removed", "a second clean --keep removes nothing")
	}

	// the next scenario on the same cluster runs to a pass
	next := filepath.Join(work, "next.yaml")
	require.NoError(t, os.WriteFile(next, []byte(`name: after-interrupts
cluster: {workers: 2}
app: {replicas: 3}
load: {rate: 50/s, duration: 20s, keepAlive: false}
faults:
  - {type: pod-kill, at: 5s, pods: 1}
slo: {availability: 95%, recovery: 10s}
`), 0o644))
	run := exec.CommandContext(ctx, bin, "run", "--cluster", c.Name, "--out", filepath.Join(work, "reports"), next)
	run.Dir = work
	out, err = run.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "the next scenario on the same cluster")
	res, err := report.ReadFile(filepath.Join(work, "reports", "after-interrupts"))
	require.NoError(t, err)
	assert.Equal(t, report.Pass, res.Verdict, res.Reasons)
	assertNothingRemains(ctx, t, c)
}

func interruptSpec(i int, fault string) []byte {
	return fmt.Appendf(nil, `name: interrupt-%d
cluster: {workers: 2}
app: {replicas: 3, terminationGracePeriod: 2s}
load: {rate: 20/s, duration: 40s}
faults:
  - %s
slo: {availability: 50%%}
`, i, fault)
}

// Every interruption spec is valid (checked without a cluster).
func TestInterruptSpecsParse(t *testing.T) {
	for i, f := range interruptFaults {
		p := filepath.Join(t.TempDir(), "s.yaml")
		require.NoError(t, os.WriteFile(p, interruptSpec(i, f), 0o644))
		_, err := scenarios.ParseFile(p)
		assert.NoError(t, err, f)
	}
}

// killDuringFault starts `aftershock run` on the cluster and SIGKILLs it
// `after` past its first "injected" line; it fails t when none comes.
func killDuringFault(ctx context.Context, t *testing.T, bin, dir, cluster, spec string, after time.Duration) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, "run", "--cluster", cluster, "--out", filepath.Join(dir, "killed"), spec)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	injected := make(chan string, 1)
	var mu sync.Mutex
	var lines []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if injectedLine.MatchString(sc.Text()) {
				select {
				case injected <- sc.Text():
				default:
				}
			}
		}
	}()
	var what string
	select {
	case l := <-injected:
		what = l
		time.Sleep(after)
	case <-time.After(20 * time.Minute):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("no fault injected within 4 minutes: %s", strings.Join(lines, "\n"))
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "killed")
	assert.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal(), "the run was still going when killed")
	return what
}

// assertNothingRemains: no fault leftover, no scenario namespace, and every
// node Ready and schedulable (a restarted node needs a moment to be Ready).
func assertNothingRemains(ctx context.Context, t *testing.T, c *clusters.Cluster) {
	t.Helper()
	defer holdCluster(ctx, t, c)()
	left, err := faults.Leftovers(ctx, c)
	require.NoError(t, err)
	assert.Empty(t, left, "fault leftovers after clean --keep")
	// every namespace of aftershock: its components' too
	nss, err := c.Clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: clusters.ManagedSelector})
	require.NoError(t, err)
	assert.Empty(t, nss.Items, "aftershock's namespaces after clean --keep")
	var notReady []string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		notReady = nil
		for _, n := range nodes.Items {
			require.False(t, n.Spec.Unschedulable, "node %s cordoned after clean --keep", n.Name)
			ready := false
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			if !ready {
				notReady = append(notReady, n.Name)
			}
		}
		if len(notReady) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	assert.Empty(t, notReady, "nodes not Ready 2 minutes after clean --keep")
}

// holdCluster waits until no scenario runs on c (other tests and packages
// share it) and keeps it so until the returned func: checks that reach the
// whole cluster (leftovers, scenario namespaces, nodes) see only this
// test's doing.
func holdCluster(ctx context.Context, t *testing.T, c *clusters.Cluster) func() {
	t.Helper()
	l, err := c.Lease(ctx, true, nil)
	require.NoError(t, err)
	return l.Release
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%s=%q", name, v)
	return n
}

func TestInjectLine(t *testing.T) {
	assert.False(t, injectedLine.MatchString("interrupt-3: network-partition-1 inject network-partition"))
	assert.True(t, injectedLine.MatchString("interrupt-3: network-partition-1 injected sampleapp-x in 5ms"))
	assert.False(t, injectedLine.MatchString("interrupt-3: app ready: 3 pods"))
}

// SIGINT then SIGTERM (as GitHub Actions cancels a job) during a node
// pause, with load whose requests time out only after 30 s: the run stops
// its load at once, unpauses the node and removes its namespace by itself,
// within the bound, without `clean`.
func TestIntegrationSIGINTThenSIGTERMReverts(t *testing.T) {
	clustertest.RequireDocker(t)
	t.Parallel()              // after the package's serial tests
	c := clustertest.Extra(t) // its runs leave faults in place until clean: the shared cluster, alone
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "aftershock")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	work := t.TempDir()
	spec := filepath.Join(work, "sigint.yaml")
	require.NoError(t, os.WriteFile(spec, []byte(`name: sigint-pause
cluster: {workers: 2}
app: {replicas: 3, terminationGracePeriod: 2s}
load: {rate: 20/s, duration: 60s, timeout: 30s}
faults:
  - {type: node-pause, at: 2s, for: 40s}
slo: {availability: 50%}
`), 0o644))
	cmd := exec.CommandContext(ctx, bin, "run", "--cluster", c.Name, "--out", filepath.Join(work, "reports"), spec)
	cmd.Dir = work
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	injected := make(chan struct{})
	var mu sync.Mutex
	var lines []string
	go func() {
		once := sync.Once{}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if injectedLine.MatchString(sc.Text()) {
				once.Do(func() { close(injected) })
			}
		}
	}()
	select {
	case <-injected:
	case <-time.After(20 * time.Minute): // its lease may wait for scenarios side by side
		_ = cmd.Process.Kill()
		t.Fatalf("no fault injected within 20 minutes")
	}
	time.Sleep(3 * time.Second) // requests to the paused node are in flight
	sent := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	time.Sleep(3 * time.Second)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	took := time.Since(sent)
	mu.Lock()
	t.Logf("%s", strings.Join(lines, "\n"))
	mu.Unlock()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	ws := ee.Sys().(syscall.WaitStatus)
	assert.False(t, ws.Signaled(), "the run exited by itself, not by a signal")
	assert.Less(t, took, InterruptBound, "within the bound")
	t.Logf("SIGINT, SIGTERM 3 s later: exited %s after SIGINT with code %d", took.Round(100*time.Millisecond), ws.ExitStatus())
	defer holdCluster(ctx, t, c)()
	left, err := faults.Leftovers(ctx, c)
	require.NoError(t, err)
	assert.Empty(t, left, "nothing left without clean: the node was unpaused")
	nss, err := c.Clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: clusters.ScenarioNamespaceSelector})
	require.NoError(t, err)
	for _, ns := range nss.Items {
		assert.NotNil(t, ns.DeletionTimestamp, "namespace %s is being deleted", ns.Name)
	}
}
