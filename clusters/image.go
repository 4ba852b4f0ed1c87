package clusters

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"sigs.k8s.io/kind/pkg/cluster/nodeutils"

	"github.com/aftershock-dev/aftershock/clusters/internal/ociutil"
	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

// AppImageRepository is where the sample app's image is tagged.
const AppImageRepository = "docker.io/aftershock/sampleapp"

// AppImage is a built sample app image: its reference and a docker-save
// archive of it.
type AppImage struct {
	Ref     string
	Archive string
}

// BuildAppImage packs the running executable as the sample app's image
// with go-containerregistry (no Docker, no Go toolchain): the executable at
// /sampleapp, so it runs its sampleapp role (clusters/multicall; the program
// must call multicall.Main first), plus its ELF interpreter and libraries
// when it is dynamically linked. The tag is the executable's digest, so an
// unchanged executable is not rebuilt or reloaded; the archive is cached in
// workDir.
func BuildAppImage(ctx context.Context, workDir string) (AppImage, error) {
	b, err := multicall.Executable()
	if err != nil {
		return AppImage{}, fmt.Errorf("sample app image: %w", err)
	}
	return buildAppImage(ctx, workDir, b)
}

func buildAppImage(ctx context.Context, workDir string, b multicall.Bundle) (AppImage, error) {
	sum, err := b.Digest()
	if err != nil {
		return AppImage{}, fmt.Errorf("sample app image: %w", err)
	}
	return buildAppImageAs(ctx, workDir, b, AppImageRepository+":"+sum[:12])
}

// buildAppImageAs packs b as the image ref; the archive is named after the
// ref, so differently tagged builds of one executable do not collide.
func buildAppImageAs(ctx context.Context, workDir string, b multicall.Bundle, ref string) (AppImage, error) {
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return AppImage{}, err
	}
	file := strings.NewReplacer("/", "_", ":", "_").Replace(ref) + ".tar"
	img := AppImage{Ref: ref, Archive: filepath.Join(workDir, file)}
	if _, err := os.Stat(img.Archive); err == nil {
		return img, nil
	}
	files := []ociutil.File{{Src: b.Exe, Dest: "/" + multicall.SampleApp}}
	for _, l := range b.Libs {
		files = append(files, ociutil.File{Src: l.Src, Dest: l.Dest})
	}
	if err := ctx.Err(); err != nil {
		return AppImage{}, err
	}
	err := ociutil.WriteArchive(img.Archive, ociutil.Spec{
		Ref:        img.Ref,
		Files:      files,
		Entrypoint: []string{"/" + multicall.SampleApp},
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
	// every node at once: each import is mostly the node's own decompression
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		if _, err := nodeutils.ImageID(n, img.Ref); err == nil {
			continue // already there
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(img.Archive)
			if err != nil {
				errs[i] = err
				return
			}
			defer f.Close()
			if err := nodeutils.LoadImageArchive(n, f); err != nil {
				errs[i] = fmt.Errorf("load image %s into node %s: %w", img.Ref, n, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}

// LoadAppImage puts the running executable's sample app image (see
// BuildAppImage) into every node of c, packing its archive (~4 s) only
// when a node lacks it: a cluster that ran this executable before has it.
// The archive, if packed, is removed before it returns.
func (c *Cluster) LoadAppImage(ctx context.Context) (AppImage, error) {
	b, err := multicall.Executable()
	if err != nil {
		return AppImage{}, fmt.Errorf("sample app image: %w", err)
	}
	sum, err := b.Digest()
	if err != nil {
		return AppImage{}, fmt.Errorf("sample app image: %w", err)
	}
	ref := AppImageRepository + ":" + sum[:12]
	if c.hasImage(ref) {
		return AppImage{Ref: ref}, nil
	}
	dir, err := os.MkdirTemp("", "aftershock-app-")
	if err != nil {
		return AppImage{}, err
	}
	defer os.RemoveAll(dir)
	img, err := buildAppImageAs(ctx, dir, b, ref)
	if err != nil {
		return AppImage{}, err
	}
	if err := c.LoadImage(ctx, img); err != nil {
		return AppImage{}, err
	}
	return AppImage{Ref: ref}, nil
}

// hasImage reports whether every node of c (a kind cluster) holds ref.
func (c *Cluster) hasImage(ref string) bool {
	if !c.Kind {
		return false
	}
	ns, err := provider(nil).ListNodes(c.Name)
	if err != nil || len(ns) == 0 {
		return false
	}
	missing := make([]bool, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := nodeutils.ImageID(n, ref)
			missing[i] = err != nil
		}()
	}
	wg.Wait()
	for _, m := range missing {
		if m {
			return false
		}
	}
	return true
}

// PackBinary writes a docker-save archive of a one-file image: the static
// Linux binary bin at /NAME (its base name) as the entrypoint, tagged ref.
// It is how example and test images are made without Docker or a registry.
func PackBinary(archive, ref, bin string) error {
	dest := "/" + filepath.Base(bin)
	return ociutil.WriteArchive(archive, ociutil.Spec{Ref: ref, Files: []ociutil.File{{Src: bin, Dest: dest}}, Entrypoint: []string{dest}})
}
