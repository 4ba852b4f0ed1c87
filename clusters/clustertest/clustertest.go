// Package clustertest gives tests a real kind cluster: RequireDocker makes a
// test skip under -short and fail (not skip) when no Docker engine answers,
// and Shared creates one cluster per test process (deleted by Main), reused
// by every test of the package with one namespace each.
//
// Environment: AFTERSHOCK_NODE_IMAGE uses that node image instead of building
// or reusing the offline one; AFTERSHOCK_KEEP_CLUSTER=1 keeps the cluster
// after the tests (its name is logged).
package clustertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/goimage"
	"github.com/aftershock-dev/aftershock/clusters/multicall"
	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
)

// RequireDocker skips t under -short; otherwise it fails t unless a Docker
// engine answers. Tests that need Docker never skip silently in CI.
func RequireDocker(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Docker and a kind cluster; skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := clusters.DockerAvailable(ctx); err != nil {
		t.Fatalf("this test needs a Docker engine (run `sudo .ci/prepare`, or -short to skip): %v", err)
	}
}

// NodeImage returns the node image tests use: AFTERSHOCK_NODE_IMAGE, else
// the offline one (built when missing in aftershock's source tree, the newest
// built one elsewhere).
func NodeImage(ctx context.Context) (string, error) {
	if img := os.Getenv("AFTERSHOCK_NODE_IMAGE"); img != "" {
		return img, nil
	}
	if _, err := nodeimage.FindSourceDir(); err != nil {
		// outside aftershock's source tree (a user's module): the newest built
		return nodeimage.Newest(ctx)
	}
	return nodeimage.Ensure(ctx, nodeimage.Options{Progress: os.Stderr})
}

var (
	once    sync.Once
	shared  *clusters.Cluster
	errOnce error
	mu      sync.Mutex
	// external: the cluster is the run's (TestClusterEnv), not this binary's
	external bool
	// binaryLease is this binary's turn on an external cluster
	binaryLease *clusters.Lease
)

// Shared returns the test process's cluster, creating it on first use.
// With AFTERSHOCK_TEST_CLUSTER=NAME (an aftershock- name) every test binary
// of the run shares that one cluster: the first creates it, the others
// open it, and none deletes it (the caller does: `make test` runs
// `aftershock clean NAME` at the end).
//
// Scenarios (scenarios.Run) take their own lease on it; a test that acts on
// the cluster itself takes one with Hold.
func Shared(t testing.TB) *clusters.Cluster {
	t.Helper()
	RequireDocker(t)
	aloneMu.Lock()
	by := aloneBy
	aloneMu.Unlock()
	if by != "" && by != t.Name() && !strings.HasPrefix(t.Name(), by+"/") {
		t.Fatalf("the shared test cluster is %s's alone (clustertest.Extra): a test beside it needs a cluster of its own", by)
	}
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		shared, errOnce = sharedCluster(ctx)
	})
	if errOnce != nil {
		t.Fatalf("shared test cluster: %v", errOnce)
	}
	return shared
}

var (
	extraMu sync.Mutex // one test at a time has the cluster alone
	aloneMu sync.Mutex
	aloneBy string // the test that has it alone ("" when none)
)

// Extra returns the shared cluster for the rest of t, to t alone: for
// tests whose runs leave faults in place until `clean` (interruptions),
// which would reach every test beside them. Such tests run one at a time,
// and while one runs no other test of the binary may take the shared
// cluster (Shared fails it): the binary's other tests make clusters of
// their own (cmd/aftershock). With AFTERSHOCK_TEST_CLUSTER no other test
// binary is on it either: test binaries take that cluster one at a time.
// (It was a second cluster of the binary's own until session 9: creating
// it cost 1-2 minutes of CI while the shared one sat idle.)
func Extra(t testing.TB) *clusters.Cluster {
	t.Helper()
	RequireDocker(t)
	extraMu.Lock()
	t.Cleanup(extraMu.Unlock)
	c := Shared(t)
	aloneMu.Lock()
	aloneBy = t.Name()
	aloneMu.Unlock()
	t.Cleanup(func() {
		aloneMu.Lock()
		aloneBy = ""
		aloneMu.Unlock()
	})
	return c
}

// TestClusterEnv names the cluster every test binary of a run shares.
const TestClusterEnv = "AFTERSHOCK_TEST_CLUSTER"

func sharedCluster(ctx context.Context) (*clusters.Cluster, error) {
	img, err := NodeImage(ctx)
	if err != nil {
		return nil, fmt.Errorf("node image: %w", err)
	}
	opts := clusters.Options{NodeImage: img, NodeMonitorGracePeriod: clusters.ShortNodeMonitorGracePeriod}
	name := os.Getenv(TestClusterEnv)
	if name != "" {
		opts.Name, external = name, true
		// one test binary at a time on it, held until this one exits (a test
		// may have it alone: Extra); -p 1 in `make test` already runs them so
		wait, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
		defer cancel()
		turn, err := (&clusters.Cluster{Name: name + ".binary"}).Lease(wait, true, nil)
		if err != nil {
			return nil, err
		}
		binaryLease = turn // kept: a lost *os.File would be closed by its finalizer, and the lock with it
		// the first binary's turn creates it, the later ones open it
		if names, err := clusters.List(ctx); err == nil && slices.Contains(names, name) {
			c, err := clusters.Open(ctx, name, nil)
			if err == nil {
				fmt.Fprintf(os.Stderr, "clustertest: sharing cluster %s (%s)\n", name, TestClusterEnv)
			}
			return c, err
		}
	}
	start := time.Now()
	c, err := clusters.Create(ctx, opts)
	if err == nil {
		fmt.Fprintf(os.Stderr, "clustertest: cluster %s created in %s (app port 127.0.0.1:%d)\n", c.Name, time.Since(start).Round(100*time.Millisecond), c.AppPort)
	}
	return c, err
}

// Hold leases the shared cluster for the rest of t (released in its
// Cleanup): exclusive for a test whose faults or checks reach beyond its
// own namespace (node faults, Leftovers, clean), shared otherwise. The view
// it returns has a published NodePort of its own. A test that holds the
// cluster must not run scenarios on it (they lease it themselves).
func Hold(t testing.TB, exclusive bool) *clusters.Cluster {
	t.Helper()
	c := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	start := time.Now()
	l, err := c.Lease(ctx, exclusive, nil)
	if err != nil {
		t.Fatalf("hold cluster %s: %v", c.Name, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Logf("held cluster %s (exclusive %v) after waiting %s", c.Name, exclusive, d.Round(100*time.Millisecond))
	}
	t.Cleanup(l.Release)
	return l.View
}

// Namespace returns a fresh namespace name for t.
func Namespace(t testing.TB) string {
	n := strings.ToLower(t.Name())
	n = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, n)
	if len(n) > 40 {
		n = n[:40]
	}
	return strings.Trim(fmt.Sprintf("t-%s-%d", n, time.Now().UnixNano()%100000), "-")
}

// Main runs the tests and then deletes the shared cluster, unless
// AFTERSHOCK_KEEP_CLUSTER=1. Use it from TestMain. It first makes the test
// binary multi-call (clusters/multicall): the sample app image and the delay
// agent are the test binary itself.
func Main(m *testing.M) {
	multicall.Main()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil && !external {
		if os.Getenv("AFTERSHOCK_KEEP_CLUSTER") == "1" {
			fmt.Fprintf(os.Stderr, "clustertest: keeping cluster %s (kubeconfig %s)\n", shared.Name, shared.Kubeconfig)
		} else if err := shared.Delete(context.Background()); err != nil {
			fmt.Fprintf(os.Stderr, "clustertest: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Logger returns a slog.Logger that writes to t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(LogWriter(t), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// LogWriter returns a writer whose every write becomes a t.Log line.
func LogWriter(t testing.TB) io.Writer { return tWriter{t} }

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// PodinfoImage is the image of podinfo (github.com/stefanprodan/podinfo),
// the open-source gRPC service of the own-service examples and tests
// (scenarios/examples/podinfo).
const PodinfoImage = "aftershock.dev/examples/podinfo:6.9.2"

// podinfo is podinfo's program: not a dependency of this module (its own
// go.mod is built as it is), so goimage compiles it in a copy of its
// module source and caches the archive.
var podinfo = goimage.Program{
	Name: "podinfo", Module: "github.com/stefanprodan/podinfo", Version: "v1.8.1-0.20250910200901-e86405a8674e",
	Package: "./cmd/podinfo", Ref: PodinfoImage, Cache: "examples", File: "podinfo-6.9.2.tar",
	About: "about 3 min on 2 cores", Command: "make example-images",
}

// EnsurePodinfoImage makes PodinfoImage present in the local Docker
// engine: built from the Go module proxy (cached under
// ~/.cache/aftershock/examples) and docker-loaded.
func EnsurePodinfoImage(ctx context.Context, progress io.Writer) (string, error) {
	if exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", PodinfoImage).Run() == nil {
		return PodinfoImage, nil
	}
	img, err := podinfo.Ensure(ctx, progress)
	if err != nil {
		return "", err
	}
	if out, err := exec.CommandContext(ctx, "docker", "load", "-i", img.Archive).CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker load %s: %w: %s", img.Archive, err, out)
	}
	return PodinfoImage, nil
}

// HTTPBinImage is the image of go-httpbin (github.com/mccutchen/go-httpbin),
// the foreign app of the own-service examples and tests.
const HTTPBinImage = "aftershock.dev/examples/go-httpbin:v2.26.0"

// EnsureHTTPBinImage makes HTTPBinImage present in the local Docker engine:
// go-httpbin is compiled from the Go module proxy (a tool of this module,
// so its version is pinned in go.mod), packed with go-containerregistry and
// docker-loaded. It needs the Go toolchain and the aftershock source tree.
func EnsureHTTPBinImage(ctx context.Context) (string, error) {
	if exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", HTTPBinImage).Run() == nil {
		return HTTPBinImage, nil
	}
	src, err := nodeimage.FindSourceDir()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "aftershock-httpbin-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "go-httpbin")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "github.com/mccutchen/go-httpbin/v2/cmd/go-httpbin")
	build.Dir, build.Env = src, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build go-httpbin: %w: %s", err, out)
	}
	archive := filepath.Join(dir, "go-httpbin.tar")
	if err := clusters.PackBinary(archive, HTTPBinImage, bin); err != nil {
		return "", err
	}
	if out, err := exec.CommandContext(ctx, "docker", "load", "-i", archive).CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker load %s: %w: %s", archive, err, out)
	}
	return HTTPBinImage, nil
}
