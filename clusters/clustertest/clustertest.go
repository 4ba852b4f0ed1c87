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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
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
)

// Shared returns the test process's cluster, creating it on first use.
func Shared(t testing.TB) *clusters.Cluster {
	t.Helper()
	RequireDocker(t)
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		img, err := NodeImage(ctx)
		if err != nil {
			errOnce = fmt.Errorf("node image: %w", err)
			return
		}
		start := time.Now()
		shared, errOnce = clusters.Create(ctx, clusters.Options{NodeImage: img, NodeMonitorGracePeriod: clusters.ShortNodeMonitorGracePeriod})
		if errOnce == nil {
			fmt.Fprintf(os.Stderr, "clustertest: cluster %s created in %s (app port 127.0.0.1:%d)\n", shared.Name, time.Since(start).Round(100*time.Millisecond), shared.AppPort)
		}
	})
	if errOnce != nil {
		t.Fatalf("shared test cluster: %v", errOnce)
	}
	return shared
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
	if shared != nil {
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
