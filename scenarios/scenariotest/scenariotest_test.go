package scenariotest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
)

// A separate module (testdata/usermod: its own go.mod, with a replace to
// this one) runs a scenario kept in its own folder with its own `go test`:
// a cluster of its own, the sample app imaged from its test binary, a
// verdict, and the report folder kept.
func TestIntegrationUserModule(t *testing.T) {
	clustertest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	img, err := clustertest.NodeImage(ctx)
	require.NoError(t, err)
	reports := t.TempDir()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "./...")
	cmd.Dir = filepath.Join("testdata", "usermod")
	// a user's go test: a cluster of its own, not the run's shared one
	cmd.Env = append(withoutEnv(os.Environ(), clustertest.TestClusterEnv), "AFTERSHOCK_NODE_IMAGE="+img, "AFTERSHOCK_REPORTS="+reports)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	require.NoError(t, err, "the user's go test failed")
	assert.Contains(t, string(out), "--- PASS: TestPodKill")
	assert.Contains(t, string(out), "verdict PASS")
	for _, f := range []string{"result.json", "junit.xml", "report.md", "report.html"} {
		fi, err := os.Stat(filepath.Join(reports, "user-pod-kill", f))
		require.NoError(t, err)
		assert.Positive(t, fi.Size())
	}
	// its cluster went with its test binary
	m := regexp.MustCompile(`clustertest: cluster (aftershock-[0-9a-f]+) created`).FindStringSubmatch(string(out))
	require.NotNil(t, m, "the user's test binary created a cluster of its own")
	after, err := clusters.List(ctx)
	require.NoError(t, err)
	assert.NotContains(t, after, m[1], "the user's test binary deleted its cluster")
}

// withoutEnv is env without the variable name.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

// The example user module's go.mod stays in step with aftershock's (a
// dependency aftershock adds must be listed there too): checked without
// Docker, so drift fails the unit tests, not an end-to-end run.
func TestUserModuleGoModIsTidy(t *testing.T) {
	cmd := exec.Command("go", "list", "-mod=readonly", "-deps", "-test", "./...")
	cmd.Dir = filepath.Join("testdata", "usermod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "run `go mod tidy` in %s:\n%s", cmd.Dir, out)
}
