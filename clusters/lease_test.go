package clusters

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func leaseCluster(t *testing.T) *Cluster {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	sideBySide(t, 8)
	return &Cluster{Name: "aftershock-lease", AppPort: 40000, Managed: true, Kind: true,
		appSlots: []appSlot{{AppNodePort, 40000}, {30082, 40002}, {30083, 40003}}}
}

// Shared holders run side by side, each on its own published NodePort;
// an exclusive one waits for all of them and keeps the others out.
func TestLeaseSharedSideBySideExclusiveAlone(t *testing.T) {
	c := leaseCluster(t)
	ctx := context.Background()
	a, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	b, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	assert.True(t, a.View.Leased())
	assert.False(t, c.Leased(), "the cluster itself is not a lease")
	assert.NotEqual(t, a.View.AppNodePort(), b.View.AppNodePort(), "each shared holder its own NodePort")
	assert.NotEqual(t, a.View.AppPort, b.View.AppPort)
	assert.EqualValues(t, AppNodePort, a.View.AppNodePort())
	assert.Equal(t, 40000, a.View.AppPort)
	assert.EqualValues(t, 30082, b.View.AppNodePort())
	assert.Equal(t, 40002, b.View.AppPort)

	var waited atomic.Bool
	got := make(chan *Lease)
	go func() {
		l, err := c.Lease(ctx, true, func() { waited.Store(true) })
		assert.NoError(t, err)
		got <- l
	}()
	select {
	case <-got:
		t.Fatal("an exclusive lease was granted while shared ones were held")
	case <-time.After(500 * time.Millisecond):
	}
	assert.True(t, waited.Load(), "the waiting callback ran")
	a.Release()
	b.Release()
	b.Release() // idempotent
	var x *Lease
	select {
	case x = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the exclusive lease was not granted after the shared ones ended")
	}
	assert.Positive(t, x.Waited)
	// while it is held, a shared lease waits until the context ends
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = c.Lease(cctx, false, nil)
	assert.ErrorContains(t, err, "waiting for the scenarios that hold it")
	x.Release()
	y, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	y.Release()
}

// An exclusive lease that waits goes before shared ones asked for after
// it: side-by-side scenarios that keep arriving do not starve it.
func TestLeaseExclusiveWaitingGoesBeforeNewSharedOnes(t *testing.T) {
	c := leaseCluster(t)
	ctx := context.Background()
	a, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	var order []string
	var mu sync.Mutex
	done := make(chan struct{}, 2)
	got := func(name string, exclusive bool, hold time.Duration) {
		l, err := c.Lease(ctx, exclusive, nil)
		if !assert.NoError(t, err) {
			done <- struct{}{}
			return
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		time.Sleep(hold)
		l.Release()
		done <- struct{}{}
	}
	go got("exclusive", true, 300*time.Millisecond)
	time.Sleep(3 * leasePoll) // it waits for a, at the gate
	go got("shared", false, 0)
	time.Sleep(3 * leasePoll)
	mu.Lock()
	assert.Empty(t, order, "neither got the cluster while a held it (the shared one: an exclusive one waits before it)")
	mu.Unlock()
	a.Release()
	for range 2 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("a lease was not granted after the holder ended")
		}
	}
	assert.Equal(t, []string{"exclusive", "shared"}, order)
}

// sideBySide sets SideBySide for one test.
func sideBySide(t *testing.T, n int) {
	was := SideBySide
	SideBySide = n
	t.Cleanup(func() { SideBySide = was })
}

// On a kind cluster no more scenarios than SideBySide (this machine's
// cores) hold it at once, although NodePorts are free; other clusters are
// not capped.
func TestLeaseSideBySideCapsKindClusters(t *testing.T) {
	c := leaseCluster(t)
	sideBySide(t, 2)
	ctx := context.Background()
	a, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	b, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	var waited atomic.Bool
	cctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel()
	_, err = c.Lease(cctx, false, func() { waited.Store(true) })
	require.Error(t, err, "a third scenario side by side on 2 cores")
	assert.True(t, waited.Load())
	b.Release()
	l, err := c.Lease(ctx, false, nil)
	require.NoError(t, err, "the freed place")
	assert.EqualValues(t, 30082, l.View.AppNodePort())
	l.Release()

	c.Kind = false // e.g. a cluster of real nodes: the host runs only load
	b, err = c.Lease(ctx, false, nil)
	require.NoError(t, err)
	l, err = c.Lease(ctx, false, nil)
	require.NoError(t, err, "not capped: all 3 published NodePorts")
	assert.EqualValues(t, 30083, l.View.AppNodePort())
	for _, x := range []*Lease{a, b, l} {
		x.Release()
	}
}

// More shared holders than published NodePorts: the next waits for a port.
func TestLeaseWaitsForAFreeNodePort(t *testing.T) {
	c := leaseCluster(t)
	ctx := context.Background()
	var ls []*Lease
	for range c.appSlots {
		l, err := c.Lease(ctx, false, nil)
		require.NoError(t, err)
		ls = append(ls, l)
	}
	cctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel()
	_, err := c.Lease(cctx, false, nil)
	require.Error(t, err, "a fourth holder got a NodePort although all three were taken")
	ls[1].Release()
	l, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 30082, l.View.AppNodePort(), "the freed one")
	for _, l := range append(ls, l) {
		l.Release()
	}
}

// The lease holds across processes: a child holding the cluster
// exclusively keeps this process's shared lease out until it exits.
func TestLeaseHoldsAcrossProcesses(t *testing.T) {
	if os.Getenv("AFTERSHOCK_LEASE_CHILD") == "1" {
		c := &Cluster{Name: "aftershock-lease"}
		l, err := c.Lease(context.Background(), true, nil)
		if err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		time.Sleep(time.Second)
		l.Release()
		os.Exit(0)
	}
	c := leaseCluster(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaseHoldsAcrossProcesses$")
	cmd.Env = append(os.Environ(), "AFTERSHOCK_LEASE_CHILD=1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 5)
	_, err = out.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "held\n", string(buf))
	t0 := time.Now()
	l, err := c.Lease(context.Background(), false, nil)
	require.NoError(t, err)
	defer l.Release()
	assert.Greater(t, time.Since(t0), 600*time.Millisecond, "the shared lease did not wait for the other process")
	require.NoError(t, cmd.Wait())
}

// A NodePort a Service still holds (a killed run's namespace) is skipped;
// when every one is held so, the lease says which Services and how to
// clean them, instead of waiting forever.
func TestLeaseSkipsNodePortsServicesHold(t *testing.T) {
	c := leaseCluster(t)
	svc := func(ns string, port int32) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "sampleapp", Namespace: ns},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, NodePort: port}}}}
	}
	cs := fake.NewClientset(svc("as-killed-1", AppNodePort))
	c.Clientset = cs
	l, err := c.Lease(context.Background(), false, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 30082, l.View.AppNodePort(), "30080 is held by a killed run's Service")
	l.Release()

	for _, p := range []int32{30082, 30083} {
		_, err := cs.CoreV1().Services("as-killed-"+fmt.Sprint(p)).Create(context.Background(), svc("as-killed-"+fmt.Sprint(p), p), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	_, err = c.Lease(context.Background(), false, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "30080 by Service as-killed-1/sampleapp")
	assert.Contains(t, err.Error(), "aftershock clean --keep aftershock-lease")
}

// Holders side by side see each other's names while they hold the
// cluster, and no longer once one releases; an exclusive holder has none.
func TestLeaseBesideNamesTheOtherHolders(t *testing.T) {
	c := leaseCluster(t)
	ctx := context.Background()
	a, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	defer a.Release()
	require.NoError(t, a.Announce("pod-kill"))
	assert.Empty(t, a.Beside(), "alone on the cluster so far")
	b, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	require.NoError(t, b.Announce("steady-state"))
	assert.Equal(t, []string{"steady-state"}, a.Beside())
	assert.Equal(t, []string{"pod-kill"}, b.Beside())
	other, err := (&Cluster{Name: "aftershock-lease-2", Kind: true}).Lease(ctx, false, nil)
	require.NoError(t, err)
	require.NoError(t, other.Announce("elsewhere"))
	defer other.Release()
	assert.Equal(t, []string{"steady-state"}, a.Beside(), "another cluster's holders are not beside")
	b.Release()
	assert.Empty(t, a.Beside(), "a released holder is gone")
	a.Release()
	x, err := c.Lease(ctx, true, nil)
	require.NoError(t, err)
	defer x.Release()
	require.NoError(t, x.Announce("node-drain"))
	assert.Empty(t, x.Beside())
	files, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "aftershock", "locks", "*.holder-*"))
	assert.Len(t, files, 2, "released holders' files are removed: %v", files)
}

// A deleted cluster's lease files go with it; another cluster's stay.
func TestRemoveLeaseFilesOfDeletedCluster(t *testing.T) {
	c := leaseCluster(t)
	ctx := context.Background()
	ex, err := c.Lease(ctx, true, nil)
	require.NoError(t, err)
	ex.Release()
	sh, err := c.Lease(ctx, false, nil)
	require.NoError(t, err)
	sh.Release()
	other := &Cluster{Name: "aftershock-lease2", AppPort: 40000, appSlots: c.appSlots}
	o, err := other.Lease(ctx, false, nil)
	require.NoError(t, err)
	defer o.Release()

	dir := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "aftershock", "locks")
	mine, _ := filepath.Glob(filepath.Join(dir, "aftershock-lease.*"))
	require.NotEmpty(t, mine, "the leases made files")
	theirs, _ := filepath.Glob(filepath.Join(dir, "aftershock-lease2.*"))
	require.NotEmpty(t, theirs)

	require.NoError(t, removeLeaseFiles(c.Name))
	left, _ := filepath.Glob(filepath.Join(dir, "aftershock-lease.*"))
	assert.Empty(t, left)
	still, _ := filepath.Glob(filepath.Join(dir, "aftershock-lease2.*"))
	assert.Equal(t, theirs, still, "another cluster's lease files stay")
	require.NoError(t, removeLeaseFiles(c.Name), "idempotent")
}

func TestStaleLeaseFiles(t *testing.T) {
	files := []string{
		"aftershock-aa.lock", "aftershock-aa.port-30080.lock", "aftershock-aa.gate",
		"aftershock-bb.gate", "aftershock-bb.lock", "aftershock-bb.port-30082.lock",
		"aftershock-a.b.lock", "aftershock-a.lock",
		"machine.create.lock", "kind-theirs.lock",
	}
	existing := []string{"aftershock-aa", "aftershock-a.b"}
	assert.Equal(t, []string{"aftershock-bb.gate", "aftershock-bb.lock", "aftershock-bb.port-30082.lock", "aftershock-a.lock"},
		staleLeaseFiles(files, existing))
	assert.Empty(t, staleLeaseFiles([]string{"machine.create.lock"}, nil), "machine-wide locks are never stale")
}
