package clusters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Scenarios share a cluster side by side, each in its own namespace, while
// their faults cannot reach each other; a scenario whose faults hit whole
// nodes (or the shared Ingress controller) takes it alone. The rule is a
// reader-writer lock per cluster on this machine (flock(2) on a file in the
// user cache dir, so it holds across processes: the CLI's --parallel, the
// parallel tests of one test binary, and test binaries of several packages
// sharing one cluster), and each holder of a shared lease gets a NodePort
// of its own from the cluster's published ones.

// ExtraAppNodePorts are NodePorts published on 127.0.0.1 besides
// AppNodePort, so that scenarios side by side each have their own path from
// this host (kind publishes ports only at creation).
var ExtraAppNodePorts = []int32{30082, 30083, 30084, 30085, 30086, 30087}

// SideBySide is how many scenarios may hold a kind cluster at once on this
// machine: one per CPU core. A kind cluster runs on this machine's cores
// beside the load generators, so scenarios beyond that starve each other
// and their verdicts measure the neighbours: on 2 cores, 4 pod-kill-type
// scenarios side by side failed 3 of 5 expected passes (p99 798 ms-2.2 s,
// recoveries 14-25 s), 2 side by side passed every one (session 7).
// Leases beyond it wait. Clusters not made of kind nodes are not capped.
var SideBySide = runtime.NumCPU()

// appSlot is one published NodePort and the 127.0.0.1 port that reaches it.
type appSlot struct {
	NodePort int32
	HostPort int
}

// leasePoll is how often a lease that must wait tries again.
const leasePoll = 200 * time.Millisecond

// Lease is a hold on a cluster: View is the cluster as its holder uses it
// (its own published NodePort); Release gives both back (idempotent).
type Lease struct {
	View      *Cluster
	Exclusive bool
	Waited    time.Duration // how long the lease waited for others
	files     []*os.File
	base      string // the cluster's lock files' common prefix
	holder    string // this lease's holder file (Announce), removed on Release
}

// Release gives the lease back.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	if l.holder != "" {
		_ = os.Remove(l.holder) // before unlocking: no one reads it as stale
		l.holder = ""
	}
	for _, f := range l.files {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
	l.files = nil
}

// Announce names this lease's holder (a scenario) to the holders beside
// it (Beside): a file of its own, locked for the lease's life.
func (l *Lease) Announce(label string) error {
	if l.holder != "" {
		return nil
	}
	dir := filepath.Dir(l.base)
	prefix := filepath.Base(l.base) + ".holder-"
	// a killed holder's file stays, unlocked: gone after a day
	if old, _ := filepath.Glob(filepath.Join(dir, prefix+"*")); len(old) > 0 {
		for _, p := range old {
			if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				if f, ok, _ := tryLock(p, syscall.LOCK_EX); ok {
					_ = os.Remove(p)
					_ = f.Close()
				}
			}
		}
	}
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return fmt.Errorf("cluster lease: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("cluster lease: lock %s: %w", f.Name(), err)
	}
	if _, err := f.WriteString(label); err != nil {
		f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("cluster lease: %w", err)
	}
	l.files = append(l.files, f)
	l.holder = f.Name()
	return nil
}

// Beside lists the holders (Announce's labels) that hold the cluster now
// beside this lease, on this machine: none for an exclusive lease.
func (l *Lease) Beside() []string {
	if l == nil || l.Exclusive || l.base == "" {
		return nil
	}
	files, _ := filepath.Glob(l.base + ".holder-*")
	var out []string
	for _, p := range files {
		if p == l.holder {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue // its holder ended meanwhile
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == nil {
			f.Close() // a holder that ended (or was killed): not beside us
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(f, 256))
		f.Close()
		if len(b) == 0 {
			b = []byte("another holder")
		}
		out = append(out, string(b))
	}
	return out
}

// Leased reports whether c is the view of a lease (a scenario handed a
// leased view must not lease again: it would wait for itself).
func (c *Cluster) Leased() bool { return c.leased }

// AppNodePort is the NodePort this view of the cluster publishes on
// c.AppPort (AppNodePort unless a lease gave it another).
func (c *Cluster) AppNodePort() int32 {
	if c.appNodePort != 0 {
		return c.appNodePort
	}
	return AppNodePort
}

// Lease takes the cluster for one scenario: shared (side by side with other
// shared holders) or exclusive (alone), waiting (bounded by ctx) for the
// holders in the way; waiting, if not nil, is called once when it must
// wait. The view it returns has a published NodePort no other holder uses.
func (c *Cluster) Lease(ctx context.Context, exclusive bool, waiting func()) (*Lease, error) {
	dir, err := lockDir()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, lockName(c.Name))
	l := &Lease{Exclusive: exclusive, base: base}
	start := time.Now()
	said := false
	wait := func() error {
		if !said && waiting != nil {
			waiting()
		}
		said = true
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s: waiting for the scenarios that hold it: %w", c.Name, ctx.Err())
		case <-time.After(leasePoll):
			return nil
		}
	}
	if exclusive {
		// one exclusive lease waits at a time, holding the gate until it
		// has the cluster: shared leases asked for meanwhile wait behind
		// it, so a scenario that must run alone is not starved by
		// side-by-side ones that keep arriving (one waited 13m53s in CI)
		g, err := lockWhen(base+".gate", syscall.LOCK_EX, wait)
		if err != nil {
			return nil, err
		}
		defer g.Close() // closing drops the lock
	}
	take := func() error {
		var f *os.File
		var err error
		if exclusive {
			f, err = lockWhen(base+".lock", syscall.LOCK_EX, wait)
		} else {
			f, err = lockShared(base, wait)
		}
		if err == nil {
			l.files = append(l.files, f)
		}
		return err
	}
	if err := take(); err != nil {
		return nil, err
	}
	v := *c
	v.leased = true
	if slots := c.slots(); len(slots) > 0 {
		// the first published NodePort no other holder uses, and no Service
		// holds (a killed run's namespace keeps its Service until clean)
		for {
			got, stale, err := c.takeSlot(ctx, base, l, &v, slots)
			if err != nil {
				l.Release()
				return nil, err
			}
			if got {
				break
			}
			if len(stale) == len(slots) {
				l.Release()
				return nil, fmt.Errorf("cluster %s: every published NodePort is held by a Service no running scenario owns (%s): a killed run's namespace? `aftershock clean --keep %s` removes them", c.Name, strings.Join(stale, ", "), c.Name)
			}
			// wait without the cluster: an exclusive lease asked for
			// meanwhile goes first
			l.Release()
			if err := wait(); err != nil {
				return nil, err
			}
			if err := take(); err != nil {
				return nil, err
			}
		}
	}
	l.View, l.Waited = &v, time.Since(start)
	return l, nil
}

// slots are the published NodePorts leases hand out: on a kind cluster no
// more than SideBySide.
func (c *Cluster) slots() []appSlot {
	if c.Kind && SideBySide >= 1 && len(c.appSlots) > SideBySide {
		return c.appSlots[:SideBySide]
	}
	return c.appSlots
}

// takeSlot locks the first free one of slots into v; stale lists the ones
// it could lock but a Service in the cluster holds.
func (c *Cluster) takeSlot(ctx context.Context, base string, l *Lease, v *Cluster, slots []appSlot) (got bool, stale []string, err error) {
	used, err := c.nodePortsInUse(ctx)
	if err != nil {
		return false, nil, err
	}
	for _, s := range slots {
		f, ok, err := tryLock(fmt.Sprintf("%s.port-%d.lock", base, s.NodePort), syscall.LOCK_EX)
		if err != nil {
			return false, nil, err
		}
		if !ok {
			continue
		}
		if svc := used[s.NodePort]; svc != "" {
			stale = append(stale, fmt.Sprintf("%d by Service %s", s.NodePort, svc))
			_ = f.Close() // closing drops the lock
			continue
		}
		l.files = append(l.files, f)
		v.AppPort, v.appNodePort = s.HostPort, s.NodePort
		return true, nil, nil
	}
	return false, stale, nil
}

// nodePortsInUse maps each NodePort a Service of the cluster holds to that
// Service (namespace/name); nil without a client (unit tests).
func (c *Cluster) nodePortsInUse(ctx context.Context) (map[int32]string, error) {
	if c.Clientset == nil {
		return nil, nil
	}
	svcs, err := c.Clientset.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: list Services for their NodePorts: %w", c.Name, err)
	}
	used := map[int32]string{}
	for _, s := range svcs.Items {
		for _, p := range s.Spec.Ports {
			if p.NodePort != 0 {
				used[p.NodePort] = s.Namespace + "/" + s.Name
			}
		}
	}
	return used, nil
}

// lockShared takes the cluster's lock shared once no exclusive lease waits
// for it (its gate is free), calling wait between tries.
func lockShared(base string, wait func() error) (*os.File, error) {
	for {
		g, ok, err := tryLock(base+".gate", syscall.LOCK_SH)
		if err != nil {
			return nil, err
		}
		if ok {
			f, ok, err := tryLock(base+".lock", syscall.LOCK_SH)
			_ = g.Close()
			if err != nil || ok {
				return f, err
			}
		}
		if err := wait(); err != nil {
			return nil, err
		}
	}
}

// lockWhen takes a flock on path, calling wait between tries.
func lockWhen(path string, how int, wait func() error) (*os.File, error) {
	for {
		f, ok, err := tryLock(path, how)
		if err != nil || ok {
			return f, err
		}
		if err := wait(); err != nil {
			return nil, err
		}
	}
}

// tryLock takes a flock on path without blocking; ok false: held by others.
func tryLock(path string, how int) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("cluster lease: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("cluster lease: lock %s: %w", path, err)
	}
	return f, true, nil
}

// lockDir is where the lease files live.
func lockDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cluster lease: %w", err)
	}
	d = filepath.Join(d, "aftershock", "locks")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", fmt.Errorf("cluster lease: %w", err)
	}
	return d, nil
}

// lockName is a file name for a cluster name (a kubeconfig context may
// hold any character).
func lockName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, name)
}

// removeLeaseFiles removes the lease files of a deleted cluster (its lock,
// gate and NodePort slot files), so none stays on the machine after it.
func removeLeaseFiles(name string) error {
	dir, err := lockDir()
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, lockName(name)) + ".*")
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveStaleLeaseFiles removes the lease files of aftershock clusters that
// no longer exist (deletes before 8422f99 left them) and returns their
// names. A file some process holds a lock on stays.
func RemoveStaleLeaseFiles(ctx context.Context) ([]string, error) {
	names, err := List(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := lockDir()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cluster lease: %w", err)
	}
	var files, removed []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	for _, f := range staleLeaseFiles(files, names) {
		p := filepath.Join(dir, f)
		l, ok, err := tryLock(p, syscall.LOCK_EX)
		if err != nil || !ok {
			continue
		}
		if os.Remove(p) == nil {
			removed = append(removed, f)
		}
		_ = l.Close()
	}
	return removed, nil
}

// staleLeaseFiles picks, of the lease files' names, those of aftershock
// clusters not among existing.
func staleLeaseFiles(files, existing []string) []string {
	var stale []string
	for _, f := range files {
		if !strings.HasPrefix(f, NamePrefix) {
			continue // machine-wide locks, foreign clusters' contexts
		}
		live := slices.ContainsFunc(existing, func(n string) bool { return strings.HasPrefix(f, lockName(n)+".") })
		if !live {
			stale = append(stale, f)
		}
	}
	return stale
}
