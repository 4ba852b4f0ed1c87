package nodeimage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FindSourceDir finds the aftershock module root above the working directory.
func FindSourceDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("aftershock source not found above %s (the node image build compiles cmd/nodenet from it; set Options.SourceDir)", wd)
		}
	}
}

// Newest returns the most recently built node image of this Kubernetes
// version present in the Docker engine (for an installed aftershock that has
// no source tree to compute the exact tag from), or an error that says how
// to get one.
func Newest(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", Repository).Output()
	if err != nil {
		return "", fmt.Errorf("list node images: docker image ls %s: %w", Repository, err)
	}
	// docker lists images newest first
	prefix := Repository + ":" + DefaultVersions.Kubernetes + "-"
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return strings.TrimSpace(l), nil
		}
	}
	return "", fmt.Errorf("no node image %s* in the Docker engine: build one with `aftershock node-image` from the aftershock source tree (it compiles Kubernetes, so it needs the Go toolchain), or pass --node-image kindest/node:%s where a registry is reachable", prefix, DefaultVersions.Kubernetes)
}
