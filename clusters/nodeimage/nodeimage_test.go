package nodeimage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTagIsDerivedFromInputs(t *testing.T) {
	src, err := FindSourceDir()
	require.NoError(t, err)
	a, err := Tag(Options{SourceDir: src, CacheDir: t.TempDir()})
	require.NoError(t, err)
	b, err := Tag(Options{SourceDir: src, CacheDir: t.TempDir()})
	require.NoError(t, err)
	assert.Equal(t, a, b, "same inputs, same tag (cache dir is not an input)")
	assert.Regexp(t, `^aftershock/node:v1\.37\.2-[0-9a-f]{12}$`, a)

	v := DefaultVersions
	v.Etcd = "v3.7.1"
	c, err := Tag(Options{SourceDir: src, Versions: v})
	require.NoError(t, err)
	assert.NotEqual(t, a, c, "a component version is an input")

	// the nodenet source is an input
	fake := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(fake, "cmd", "nodenet"), 0o755))
	gosum, _ := os.ReadFile(filepath.Join(src, "go.sum"))
	require.NoError(t, os.WriteFile(filepath.Join(fake, "go.sum"), gosum, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(fake, "cmd", "nodenet", "main.go"), []byte("package main\n"), 0o644))
	d, err := Tag(Options{SourceDir: fake})
	require.NoError(t, err)
	assert.NotEqual(t, a, d)
}

func TestFailuresNameTheStep(t *testing.T) {
	if _, err := os.Stat("/nonexistent-mirror"); err == nil {
		t.Skip()
	}
	var progress bytes.Buffer
	dir := t.TempDir()
	// a Kubernetes version that does not exist fails in step 1, and says so
	v := DefaultVersions
	v.Kubernetes = "v1.0.0-does-not-exist"
	err := Build(context.Background(), Options{Versions: v, CacheDir: dir, Progress: &progress, DebianMirror: "http://127.0.0.1:9/debian"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "node image step 1/5 (compile Kubernetes v1.0.0-does-not-exist)")
	assert.True(t, strings.HasPrefix(progress.String(), "[1/5] compile Kubernetes"), progress.String())
}

// A long step says it is alive, with its elapsed time and the last build's
// figure; the figures survive between builds.
func TestHeartbeatAndTimings(t *testing.T) {
	old := HeartbeatEvery
	HeartbeatEvery = 20 * time.Millisecond
	defer func() { HeartbeatEvery = old }()
	var mu sync.Mutex
	var b bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return b.Write(p) })
	stop := heartbeat(w, "[1/5] compile Kubernetes", time.Now(), ", about 8m12s the last time it ran")
	time.Sleep(75 * time.Millisecond)
	stop()
	stop() // idempotent
	mu.Lock()
	out := b.String()
	mu.Unlock()
	n := strings.Count(out, "[1/5] compile Kubernetes: still running, ")
	assert.GreaterOrEqual(t, n, 2, out)
	assert.Contains(t, out, "elapsed, about 8m12s the last time it ran\n")
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	assert.Equal(t, out, b.String(), "silent after stop")
	mu.Unlock()

	dir := t.TempDir()
	assert.Empty(t, loadTimings(dir))
	saveTimings(dir, map[string]time.Duration{"step1": 8*time.Minute + 12*time.Second})
	assert.Equal(t, 8*time.Minute+12*time.Second, loadTimings(dir)["step1"])
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
