package ociutil

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An archive holds each spec's files at their place with their content
// and mode; the same inputs give the same image digest; nothing is left
// beside the archive.
func TestWriteArchive(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	content := bytes.Repeat([]byte("aftershock"), 100_000)
	require.NoError(t, os.WriteFile(bin, content, 0o755))
	spec := Spec{Ref: "example.test/tool:v1", Files: []File{{Src: bin, Dest: "/usr/local/bin/tool"}, {Src: bin, Dest: "/etc/tool.conf", Mode: 0o644}}, Entrypoint: []string{"/usr/local/bin/tool"}}
	out := filepath.Join(dir, "out")
	require.NoError(t, os.Mkdir(out, 0o755))
	digest := func(name string) string {
		archive := filepath.Join(out, name)
		require.NoError(t, WriteArchive(archive, spec))
		img, err := tarball.ImageFromPath(archive, nil)
		require.NoError(t, err)
		d, err := img.Digest()
		require.NoError(t, err)
		layers, err := img.Layers()
		require.NoError(t, err)
		require.Len(t, layers, 1)
		rc, err := layers[0].Uncompressed()
		require.NoError(t, err)
		defer rc.Close()
		got := map[string]*tar.Header{}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			got[h.Name] = h
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				require.NoError(t, err)
				assert.Equal(t, content, b, h.Name)
			}
		}
		require.Contains(t, got, "usr/local/bin/tool")
		assert.Equal(t, int64(0o755), got["usr/local/bin/tool"].Mode)
		assert.Equal(t, int64(0o644), got["etc/tool.conf"].Mode)
		assert.Contains(t, got, "usr/local/", "parent directories come first")
		return d.String()
	}
	assert.Equal(t, digest("a.tar"), digest("b.tar"), "reproducible")
	left, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"a.tar", "b.tar"}, names, "no layer files left")
}

// A build killed mid-way leaves its layers directory beside the archive;
// the next build removes those over an hour old, never a fresh one (a build
// running beside it) nor anything else.
func TestWriteArchiveRemovesStaleLayers(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	require.NoError(t, os.WriteFile(bin, []byte("x"), 0o755))
	out := filepath.Join(dir, "out")
	old, fresh, other := filepath.Join(out, ".layers-111"), filepath.Join(out, ".layers-222"), filepath.Join(out, "keep")
	for _, d := range []string{old, fresh, other} {
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "layer-1.tar"), []byte("left"), 0o644))
	}
	twoHours := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(old, twoHours, twoHours))
	require.NoError(t, os.Chtimes(other, twoHours, twoHours))
	require.NoError(t, WriteArchive(filepath.Join(out, "a.tar"), Spec{Ref: "example.test/tool:v1", Files: []File{{Src: bin, Dest: "/tool"}}}))
	assert.NoDirExists(t, old, "a killed build's layers")
	assert.DirExists(t, fresh, "maybe a running build's")
	assert.DirExists(t, other)
	assert.FileExists(t, filepath.Join(out, "a.tar"))
}

// Memory of an image of a 64 MB binary: the binary is streamed through a
// layer file, not held (B/op stays far under the binary's size; it was
// 3x the binary's size when the layer was built in memory).
func BenchmarkWriteArchive64MB(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "tool")
	require.NoError(b, os.WriteFile(bin, bytes.Repeat([]byte{0, 1, 2, 3, 4, 5, 6, 7}, 8<<20), 0o755))
	spec := Spec{Ref: "example.test/tool:v1", Files: []File{{Src: bin, Dest: "/tool"}}, Entrypoint: []string{"/tool"}}
	b.ReportAllocs()
	for b.Loop() {
		require.NoError(b, WriteArchive(filepath.Join(dir, "a.tar"), spec))
	}
}
