package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/report"
)

// copyTree copies src into dst (files and folders).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	}))
}

// pathWithoutGo is PATH less every folder that holds a go command.
func pathWithoutGo() string {
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(d, "go")); err == nil {
			continue
		}
		keep = append(keep, d)
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

// An aftershock binary built into a temporary folder runs a shipped sample
// app scenario and the foreign-app scenario to a verdict from a folder
// outside the repository, with no Go toolchain on PATH: the sample app's
// image is the binary itself, the node image the newest one built.
func TestIntegrationInstalledBinaryRunsAnywhere(t *testing.T) {
	clustertest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	_, err := clustertest.NodeImage(ctx) // built (or present) before go leaves PATH
	require.NoError(t, err)
	_, err = clustertest.EnsureHTTPBinImage(ctx)
	require.NoError(t, err)

	bin := filepath.Join(t.TempDir(), "aftershock")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	work := t.TempDir() // outside the repository: no go.mod above it
	require.NoError(t, os.MkdirAll(filepath.Join(work, "examples"), 0o755))
	copyTree(t, filepath.Join("..", "..", "scenarios", "examples", "httpbin"), filepath.Join(work, "examples", "httpbin"))
	for _, f := range []string{"steady-state.yaml", "httpbin-pod-kill.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "scenarios", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(work, f), b, 0o644))
	}
	run := exec.CommandContext(ctx, bin, "run", "--out", "reports", "steady-state.yaml", "httpbin-pod-kill.yaml")
	run.Dir = work
	run.Env = append(os.Environ(), "PATH="+pathWithoutGo(), "HOME="+os.Getenv("HOME"))
	_, lookErr := exec.LookPath("go")
	require.NoError(t, lookErr, "go is on this test's PATH")
	out, err = run.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "aftershock run exited non-zero")
	assert.Contains(t, string(out), "the newest built one", "no source tree: the newest node image")
	for _, name := range []string{"steady-state", "httpbin-pod-kill"} {
		res, err := report.ReadFile(filepath.Join(work, "reports", name, report.FileJSON))
		require.NoError(t, err, name)
		assert.Equal(t, report.Pass, res.Verdict, "%s: %v", name, res.Reasons)
	}
}
