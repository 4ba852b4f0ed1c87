package multicall_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

func TestMain(m *testing.M) {
	multicall.Main()
	os.Exit(m.Run())
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// The test binary, copied with its bundle as a node would get it and run
// through Command, acts as the role its name says: this is how the delay
// agent runs in a kind node, with the node's own libraries out of the way.
func TestBundleRunsRoleByName(t *testing.T) {
	b, err := multicall.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	copyFile(t, b.Exe, filepath.Join(dir, multicall.Agent))
	for _, l := range b.Libs {
		copyFile(t, l.Src, filepath.Join(dir, "lib", filepath.Base(l.Dest)))
	}
	argv := b.Command(dir, multicall.Agent)
	if b.Static() {
		assert.Empty(t, b.Libs)
		assert.Equal(t, []string{filepath.Join(dir, multicall.Agent)}, argv)
	} else {
		assert.Equal(t, "--library-path", argv[1], "a dynamic executable runs through its own loader: %v", argv)
		assert.Equal(t, b.Interpreter, b.Libs[0].Dest, "the interpreter comes first")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "the agent without arguments exits 2 (stderr %q)", stderr.String())
	assert.Equal(t, 2, ee.ExitCode())
	assert.Contains(t, stderr.String(), "usage: aftershock-agent delay")
}

func TestBundleOfRejectsNonELF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "script")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
	_, err := multicall.BundleOf(p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), p)
}

func TestRunUnknownRole(t *testing.T) {
	code, err := multicall.Run("nope", nil)
	require.Error(t, err)
	assert.Equal(t, 2, code)
}

func TestDigestIsTheFilesSHA256(t *testing.T) {
	f := filepath.Join(t.TempDir(), "exe")
	require.NoError(t, os.WriteFile(f, []byte("abc"), 0o755))
	d, err := multicall.Bundle{Exe: f}.Digest()
	require.NoError(t, err)
	// sha256("abc")
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", d)
}
