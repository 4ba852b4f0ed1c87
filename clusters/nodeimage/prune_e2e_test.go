package nodeimage

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A rebuild removes the older images of its repository and their archives,
// but never an image a container uses (a kept cluster's nodes). The images
// here are tiny ones in a test repository, never aftershock/node.
func TestIntegrationPruneOlderKeepsImagesInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Docker; skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "version").Run(); err != nil {
		t.Fatalf("this test needs a Docker engine: %v", err)
	}
	repo := "aftershock-prunetest/node"
	docker := func(args ...string) string {
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		require.NoError(t, err, "docker %v: %s", args, out)
		return strings.TrimSpace(string(out))
	}
	// three images, each its own ID (a layer of its own)
	image := func(ref string) {
		var layer bytes.Buffer
		tw := tar.NewWriter(&layer)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "marker", Mode: 0o644, Size: int64(len(ref))}))
		_, _ = tw.Write([]byte(ref))
		require.NoError(t, tw.Close())
		p := filepath.Join(t.TempDir(), "layer.tar")
		require.NoError(t, os.WriteFile(p, layer.Bytes(), 0o644))
		docker("import", p, ref)
	}
	keep, old, used := repo+":v0-keep", repo+":v0-old", repo+":v0-used"
	image(keep)
	image(old)
	image(used)
	ctr := docker("create", used, "/marker")
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", ctr).Run()
		_ = exec.Command("docker", "rmi", keep, old, used).Run()
	})
	cache := t.TempDir()
	for _, s := range []string{"v0-keep", "v0-old", "v0-used"} {
		require.NoError(t, os.WriteFile(filepath.Join(cache, "images-"+s+".tar"), nil, 0o644))
	}

	var progress bytes.Buffer
	pruneOlder(ctx, keep, cache, &progress)
	exists := func(img string) bool { return exec.Command("docker", "image", "inspect", img).Run() == nil }
	assert.True(t, exists(keep), "the image just built stays")
	assert.False(t, exists(old), "an older image no container uses is removed")
	assert.True(t, exists(used), "an image a container uses stays")
	assert.Contains(t, progress.String(), "removed the older node image "+old)
	assert.NotContains(t, progress.String(), used)
	left, _ := filepath.Glob(filepath.Join(cache, "images-*.tar"))
	for i := range left {
		left[i] = filepath.Base(left[i])
	}
	assert.ElementsMatch(t, []string{"images-v0-keep.tar", "images-v0-used.tar"}, left)
}
