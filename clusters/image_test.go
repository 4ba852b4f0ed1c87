package clusters

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

// The sample app's image is the running executable at /sampleapp plus its
// loader and libraries, tagged by the executable's digest; a second build
// reuses the archive.
func TestBuildAppImageFromExecutable(t *testing.T) {
	b, err := multicall.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	img, err := buildAppImage(context.Background(), dir, b)
	require.NoError(t, err)
	digest, err := b.Digest()
	require.NoError(t, err)
	assert.Equal(t, AppImageRepository+":"+digest[:12], img.Ref)
	ref, err := name.NewTag(img.Ref)
	require.NoError(t, err)
	i, err := tarball.ImageFromPath(img.Archive, &ref)
	require.NoError(t, err)
	cf, err := i.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/sampleapp"}, cf.Config.Entrypoint)
	layers, err := i.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 1)
	again, err := buildAppImage(context.Background(), dir, b)
	require.NoError(t, err)
	assert.Equal(t, img, again)
	m, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
	assert.Len(t, m, 1)
}
