package nodeimage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
)

// The pull path for real: a registry on 127.0.0.1 (go-containerregistry's)
// serves the offline node image under a kindest/node name, pinned by
// digest; nothing of it is in Docker, and this source tree's build is not
// current (a changed tree), so Choose pulls it by digest, and a cluster
// runs from the pulled image.
func TestIntegrationPullFromLoopbackRegistry(t *testing.T) {
	clustertest.RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	offline, err := clustertest.NodeImage(ctx)
	require.NoError(t, err)

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	name := host + "/kindest/node:" + nodeimage.DefaultVersions.Kubernetes
	docker(t, "tag", offline, name)
	docker(t, "push", name)
	var digests []string
	require.NoError(t, json.Unmarshal([]byte(docker(t, "image", "inspect", "--format", "{{json .RepoDigests}}", name)), &digests))
	var pinned string
	for _, d := range digests {
		if strings.HasPrefix(d, host+"/kindest/node@sha256:") {
			pinned = name + strings.TrimPrefix(d, host+"/kindest/node")
		}
	}
	require.NotEmpty(t, pinned, "the push gave a digest: %v", digests)
	// forget it here (untagging drops its digest too): only the registry has it now
	docker(t, "image", "rm", name)
	require.False(t, nodeimage.Exists(ctx, pinned))
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", pinned, name).Run() })

	var progress bytes.Buffer
	c, err := nodeimage.Choose(ctx, nodeimage.ChooseOptions{Default: pinned, Build: nodeimage.Options{SourceDir: changedTree(t), Progress: &progress}})
	require.NoError(t, err, progress.String())
	assert.Equal(t, pinned, c.Image)
	assert.Equal(t, "kind's default node image, pulled", c.Why)
	assert.Contains(t, progress.String(), "pulling "+pinned)
	assert.True(t, nodeimage.Exists(ctx, pinned), "pulled by digest")

	cl, err := clusters.Create(ctx, clusters.Options{Workers: -1, NodeImage: c.Image, Logger: clustertest.Logger(t)})
	require.NoError(t, err)
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer dcancel()
		assert.NoError(t, cl.Delete(dctx))
	}()
	node := strings.TrimSpace(docker(t, "ps", "--filter", "label=io.x-k8s.kind.cluster="+cl.Name, "--format", "{{.Names}}"))
	assert.Equal(t, docker(t, "image", "inspect", "--format", "{{.Id}}", pinned), docker(t, "inspect", "--format", "{{.Image}}", node),
		"the node %s runs the pulled image", node)
}

// changedTree is an aftershock source tree whose node image inputs differ
// from this one's (so its offline build is not present).
func changedTree(t *testing.T) string {
	src, err := nodeimage.FindSourceDir()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cmd", "nodenet"), 0o755))
	gosum, err := os.ReadFile(filepath.Join(src, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cmd", "nodenet", "main.go"), []byte("package main // changed\n"), 0o644))
	return dir
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %s: %s", strings.Join(args, " "), out)
	return string(out)
}
