package clusters

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/aftershock-dev/aftershock/clusters/internal/ociutil"
	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
)

// AppImageRepository is where the sample app's image is tagged.
const AppImageRepository = "docker.io/aftershock/sampleapp"

// AppImage is a built sample app image: its reference and a docker-save
// archive of it.
type AppImage struct {
	Ref     string
	Archive string
}

// BuildAppImage compiles cmd/sampleapp from the aftershock source tree and
// packs it as an image with go-containerregistry (no Docker). The tag is the
// binary's digest, so an unchanged app is not rebuilt or reloaded.
func BuildAppImage(ctx context.Context, workDir string) (AppImage, error) {
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return AppImage{}, err
	}
	bin := filepath.Join(workDir, "sampleapp")
	if err := nodeimage.CompileCommand(ctx, "./cmd/sampleapp", bin); err != nil {
		return AppImage{}, err
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		return AppImage{}, err
	}
	sum := sha256.Sum256(b)
	img := AppImage{Ref: AppImageRepository + ":" + hex.EncodeToString(sum[:])[:12], Archive: filepath.Join(workDir, "sampleapp-image.tar")}
	err = ociutil.WriteArchive(img.Archive, ociutil.Spec{
		Ref:        img.Ref,
		Files:      []ociutil.File{{Src: bin, Dest: "/sampleapp"}},
		Entrypoint: []string{"/sampleapp"},
	})
	return img, err
}

// LoadImage loads an image archive into every node of c (kind clusters only),
// as `kind load image-archive` does.
func (c *Cluster) LoadImage(ctx context.Context, img AppImage) error {
	if !c.Kind {
		return fmt.Errorf("load image %s: cluster %q is not a kind cluster; push the image to a registry it can pull from", img.Ref, c.Name)
	}
	ns, err := provider(nil).ListNodes(c.Name)
	if err != nil {
		return err
	}
	for _, n := range ns {
		if _, err := nodeutils.ImageID(n, img.Ref); err == nil {
			continue // already there
		}
		f, err := os.Open(img.Archive)
		if err != nil {
			return err
		}
		err = nodeutils.LoadImageArchive(n, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("load image %s into node %s: %w", img.Ref, n, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
