package main

import (
	"bytes"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
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
