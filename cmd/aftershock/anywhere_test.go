package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
	"github.com/aftershock-dev/aftershock/report"
)

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

// An aftershock binary built into a temporary folder runs a shipped
// scenario to a verdict from a folder outside the repository, with no Go
// toolchain on PATH: the sample app's image is the binary itself, the node
// image the offline one under kind's default name. (The foreign app's path is the same code,
// tested in scenarios; measured from an installed binary in session 2.)
//
// It runs alone (not t.Parallel: Go runs the package's parallel tests
// after it), because its verdict holds a p99 of 250 ms that a neighbour's
// node faults on 2 cores would move; so does the foreign-cluster test
// after it, and the interruption tests then run side by side.
//
// ownClusterMu lets one test at a time create a cluster of its own
// (besides the shared one): on a 2-core machine more clusters at once
// starve each other.
var ownClusterMu sync.Mutex

func ownCluster(t *testing.T) {
	ownClusterMu.Lock()
	t.Cleanup(ownClusterMu.Unlock)
}

func TestIntegrationInstalledBinaryRunsAnywhere(t *testing.T) {
	clustertest.RequireDocker(t)
	ownCluster(t) // creates a cluster of its own: one such test at a time
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	offline, err := clustertest.NodeImage(ctx) // built (or present) before go leaves PATH
	require.NoError(t, err)
	// the offline image under the kind library's default name, as a user
	// who pulled kindest/node has it (untagged afterwards; a real one is
	// left alone)
	kindTag := nodeimage.KindDefault[:strings.Index(nodeimage.KindDefault, "@")]
	if !nodeimage.Exists(ctx, kindTag) {
		require.NoError(t, exec.CommandContext(ctx, "docker", "tag", offline, kindTag).Run())
		t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", kindTag).Run() })
	}

	bin := filepath.Join(t.TempDir(), "aftershock")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	work := t.TempDir() // outside the repository: no go.mod above it
	for _, f := range []string{"steady-state.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "scenarios", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(work, f), b, 0o644))
	}
	run := exec.CommandContext(ctx, bin, "run", "--out", "reports", "steady-state.yaml")
	run.Dir = work
	run.Env = append(os.Environ(), "PATH="+pathWithoutGo(), "HOME="+os.Getenv("HOME"))
	_, lookErr := exec.LookPath("go")
	require.NoError(t, lookErr, "go is on this test's PATH")
	out, err = run.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "aftershock run exited non-zero")
	assert.Contains(t, string(out), "node image "+kindTag+": kind's default node image by its tag, present in Docker",
		"no source tree: kind's default name, present; no build step")
	assert.NotContains(t, string(out), "building offline")
	for _, name := range []string{"steady-state"} {
		res, err := report.ReadFile(filepath.Join(work, "reports", name, report.FileJSON))
		require.NoError(t, err, name)
		assert.Equal(t, report.Pass, res.Verdict, "%s: %v", name, res.Reasons)
	}
}
