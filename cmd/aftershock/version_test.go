package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersionNamesTheBuildAndWhatItTargets(t *testing.T) {
	var out bytes.Buffer
	writeVersion(&out, &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/aftershock-dev/aftershock", Version: "v0.4.0"},
		Deps: []*debug.Module{
			{Path: "sigs.k8s.io/kind", Version: "v0.33.0"},
			{Path: "k8s.io/client-go", Version: "v0.37.2"},
			{Path: "google.golang.org/grpc", Version: "v1.83.0", Replace: &debug.Module{Path: "google.golang.org/grpc", Version: "v1.83.2"}},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0f16988aaaabbbbcccc"}, {Key: "vcs.modified", Value: "true"}},
	})
	s := out.String()
	assert.Contains(t, s, "aftershock v0.4.0 (0f16988aaaab, modified), go1.26.8\n")
	assert.Contains(t, s, "sigs.k8s.io/kind v0.33.0\n")
	assert.Contains(t, s, "k8s.io/client-go v0.37.2 (Kubernetes 1.37)\n")
	assert.Contains(t, s, "google.golang.org/grpc v1.83.2\n", "a replaced module shows what was built")
	assert.Contains(t, s, "github.com/tsenart/vegeta/v12 -\n", "a module missing from the build says so")
}

// init writes a scenario that `validate` accepts, refuses to overwrite
// one, and names a bad --set.
func TestInitWritesAValidScenario(t *testing.T) {
	out := filepath.Join(t.TempDir(), "resilience", "first.yaml")
	chart := filepath.Join("..", "..", "scenarios", "examples", "httpbin", "chart")
	_, err := execute(t, "init", "--helm", chart, "--set", "replicaCount=4", "--path", "/hostname", "-o", out)
	require.NoError(t, err)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Contains(t, string(b), `set: {replicaCount: "4"}`)
	assert.Contains(t, string(b), "request: {path: /hostname}")
	_, err = execute(t, "validate", out)
	require.NoError(t, err)

	_, err = execute(t, "init", "--helm", chart, "-o", out)
	require.ErrorContains(t, err, "exists; choose another --out, or --force")
	_, err = execute(t, "init", "--helm", chart, "--set", "replicaCount", "-o", out, "--force")
	require.ErrorContains(t, err, `--set "replicaCount": want KEY=VALUE`)
	_, err = execute(t, "init", "--manifests", chart+"/nope", "-o", out, "--force")
	require.ErrorContains(t, err, "nope")
}
