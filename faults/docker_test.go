package faults

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tar copied into a node holds the file's parent folders first, then
// the file whole, executable, at its path below /.
func TestFileTar(t *testing.T) {
	content := bytes.Repeat([]byte("agent"), 300_000)
	var buf bytes.Buffer
	require.NoError(t, fileTar(&buf, "/usr/local/lib/aftershock/abc/agent", bytes.NewReader(content), int64(len(content))))
	tr := tar.NewReader(&buf)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeReg {
			assert.Equal(t, int64(0o755), h.Mode)
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			assert.Equal(t, content, b)
		}
	}
	assert.Equal(t, []string{"usr/", "usr/local/", "usr/local/lib/", "usr/local/lib/aftershock/", "usr/local/lib/aftershock/abc/", "usr/local/lib/aftershock/abc/agent"}, names)
	// a source shorter than its size fails instead of copying part of it
	assert.Error(t, fileTar(io.Discard, "/a/b", bytes.NewReader(content[:10]), int64(len(content))))
}
