// Package goimage builds a Go program from its module source (the Go
// module proxy serves it; no container registry is needed) into a one-file
// image archive, cached under ~/.cache/aftershock: how aftershock gets real
// cluster components (the Ingress controller, metrics-server) onto machines
// that reach no registry.
package goimage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
)

// Program is a Go program and the image it becomes.
type Program struct {
	Name    string // in messages, e.g. "Traefik"
	Module  string // e.g. github.com/traefik/traefik/v3
	Version string // e.g. v3.6.12
	Package string // the main package in the module, e.g. ./cmd/traefik
	Ref     string // the image reference
	Cache   string // its folder under ~/.cache/aftershock, e.g. "ingress"
	File    string // the archive's file name there
	About   string // how long a build takes, e.g. "about 5 min on 2 cores"
	Command string // the aftershock command that builds it, for messages
}

// CacheDir is where the archive is kept.
func (p Program) CacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	return filepath.Join(d, "aftershock", p.Cache), nil
}

// Archive is the image archive's path in the cache.
func (p Program) Archive() (string, error) {
	d, err := p.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, p.File), nil
}

// Ensure returns the image, building it when it is not cached.
func (p Program) Ensure(ctx context.Context, progress io.Writer) (clusters.AppImage, error) {
	if progress == nil {
		progress = io.Discard
	}
	archive, err := p.Archive()
	if err != nil {
		return clusters.AppImage{}, err
	}
	img := clusters.AppImage{Ref: p.Ref, Archive: archive}
	if _, err := os.Stat(archive); err == nil {
		fmt.Fprintf(progress, "%s image %s: cached (%s)\n", p.Name, p.Ref, archive)
		return img, nil
	}
	if err := p.Build(ctx, progress); err != nil {
		return clusters.AppImage{}, err
	}
	return img, nil
}

// Build builds the image archive into the cache: `go mod download` of the
// module source, then `go build` of the package in a writable copy (CGO off;
// needs the Go toolchain, like the node image). Progress gets a line every
// 30 s.
func (p Program) Build(ctx context.Context, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	archive, err := p.Archive()
	if err != nil {
		return err
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("%s image %s is not built and building it needs the Go toolchain (go on PATH): %w; run `aftershock %s` where Go is installed", p.Name, p.Ref, err, p.Command)
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(progress, "%s image %s: building from %s@%s (%s)\n", p.Name, p.Ref, p.Module, p.Version, p.About)
	out, err := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", p.Module+"@"+p.Version).Output()
	if err != nil {
		return fmt.Errorf("go mod download %s@%s: %w: %s", p.Module, p.Version, err, stderrOf(err))
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: no source folder (%s): %s", p.Module, p.Version, mod.Error, out)
	}
	work, err := os.MkdirTemp("", "aftershock-"+p.Cache+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	// the module cache is read-only, and go build wants the module writable
	if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
		return fmt.Errorf("copy %s: %w", mod.Dir, err)
	}
	bin := filepath.Join(work, filepath.Base(p.Package))
	build := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, p.Package)
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off")
	var stderr strings.Builder
	build.Stderr = &stderr
	done := make(chan error, 1)
	go func() { done <- build.Run() }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for err = nil; ; {
		select {
		case err = <-done:
		case <-tick.C:
			fmt.Fprintf(progress, "%s image: compiling %s ... %s\n", p.Name, p.Package, time.Since(start).Round(time.Second))
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("go build %s (%s@%s): %w: %s", p.Package, p.Module, p.Version, err, tail(stderr.String(), 2000))
	}
	tmp := archive + ".tmp"
	if err := clusters.PackBinary(tmp, p.Ref, bin); err != nil {
		return err
	}
	if err := os.Rename(tmp, archive); err != nil {
		return err
	}
	fmt.Fprintf(progress, "%s image %s: built in %s (%s)\n", p.Name, p.Ref, time.Since(start).Round(time.Second), archive)
	return nil
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return tail(string(ee.Stderr), 2000)
	}
	return ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
