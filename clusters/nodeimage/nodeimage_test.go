package nodeimage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
