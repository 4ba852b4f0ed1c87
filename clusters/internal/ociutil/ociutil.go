// Package ociutil builds small container images without Docker, with
// go-containerregistry: a static binary (plus optional base layers) becomes an
// image, and sets of images are written as one docker-save archive that
// `ctr images import` and kind's LoadImageArchive both accept.
package ociutil

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one file placed in an image layer.
type File struct {
	Src  string // path on this machine
	Dest string // absolute path in the image
	Mode int64
}

// Spec describes an image built from files.
type Spec struct {
	Ref        string   // e.g. registry.k8s.io/pause:3.10
	Base       string   // optional: a tar file (e.g. a root file system) used as the first layer
	Files      []File   // added in one layer on top
	Entrypoint []string // image entrypoint
	Env        []string // defaults to a PATH
}

// epoch makes layers reproducible: the same inputs give the same digests.
var epoch = time.Unix(0, 0).UTC()

// image builds the image described by s, its files' layer written to a
// tar file in dir (read again when the archive is written: a binary is
// not held in memory, and images of 100 MB binaries took gigabytes).
func image(s Spec, dir string) (v1.Image, error) {
	img := empty.Image
	var layers []v1.Layer
	if s.Base != "" {
		base := s.Base
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(base) })
		if err != nil {
			return nil, fmt.Errorf("image %s: base layer %s: %w", s.Ref, s.Base, err)
		}
		layers = append(layers, l)
	}
	if len(s.Files) > 0 {
		layer, err := filesTar(s.Files, dir)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", s.Ref, err)
		}
		// fast compression: these layers go from this machine into the nodes only
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(layer) }, tarball.WithCompressionLevel(gzip.BestSpeed))
		if err != nil {
			return nil, fmt.Errorf("image %s: layer: %w", s.Ref, err)
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", s.Ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Env = s.Env
	if len(cf.Config.Env) == 0 {
		cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	return mutate.ConfigFile(img, cf)
}

// WriteArchive writes every spec as one docker-save archive at dst.
func WriteArchive(dst string, specs ...Spec) error {
	removeStale(filepath.Dir(dst), time.Now().Add(-staleAfter))
	dir, err := os.MkdirTemp(filepath.Dir(dst), layersPrefix)
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	refs := make(map[name.Reference]v1.Image, len(specs))
	for _, s := range specs {
		ref, err := name.ParseReference(s.Ref)
		if err != nil {
			return fmt.Errorf("image reference %q: %w", s.Ref, err)
		}
		img, err := image(s, dir)
		if err != nil {
			return err
		}
		refs[ref] = img
	}
	tmp := dst + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		return fmt.Errorf("write image archive %s: %w", dst, err)
	}
	return os.Rename(tmp, dst)
}

// layersPrefix names the directory beside an archive its layer files are
// written to while it is built.
const layersPrefix = ".layers-"

// staleAfter: a layers directory this old belongs to no running build (an
// image builds in minutes): a killed one left it.
const staleAfter = time.Hour

// removeStale removes the layers directories in dir not changed since
// before: those of builds that were killed (each holds a copy of its
// images' files, 200 MB for the node image's), never a running build's.
func removeStale(dir string, before time.Time) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range es {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), layersPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(before) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// filesTar writes files as one layer's tar in dir and returns its path.
func filesTar(files []File, dir string) (string, error) {
	out, err := os.CreateTemp(dir, "layer-*.tar")
	if err != nil {
		return "", err
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	dirs := map[string]bool{}
	for _, f := range files {
		// parent directories first, so the layer unpacks anywhere
		var parents []string
		for d := path.Dir(f.Dest); d != "/" && d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d[1:] + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return "", err
			}
		}
		if err := addFile(tw, f); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return out.Name(), out.Close()
}

// addFile copies f into tw as a regular file.
func addFile(tw *tar.Writer, f File) error {
	src, err := os.Open(f.Src)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Src, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("read %s: %w", f.Src, err)
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o755
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Dest[1:], Mode: mode, Size: fi.Size(), ModTime: epoch}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, src); err != nil {
		return fmt.Errorf("read %s: %w", f.Src, err)
	}
	return nil
}
