package clusters

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
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
}

// Release gives the lease back.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}
	l.files = nil
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
	l := &Lease{Exclusive: exclusive}
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
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	f, err := lockWhen(base+".lock", how, wait)
	if err != nil {
		return nil, err
	}
	l.files = append(l.files, f)
	v := *c
	v.leased = true
	if len(c.appSlots) > 0 {
		// the first published NodePort no other holder uses
		for {
			got := false
			for _, s := range c.appSlots {
				f, ok, err := tryLock(fmt.Sprintf("%s.port-%d.lock", base, s.NodePort), syscall.LOCK_EX)
				if err != nil {
					l.Release()
					return nil, err
				}
				if ok {
					l.files = append(l.files, f)
					v.AppPort, v.appNodePort, got = s.HostPort, s.NodePort, true
					break
				}
			}
			if got {
				break
			}
			if err := wait(); err != nil {
				l.Release()
				return nil, err
			}
		}
	}
	l.View, l.Waited = &v, time.Since(start)
	return l, nil
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
