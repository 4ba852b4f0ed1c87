package ingress

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

// The controller: Traefik, built from its module source (the Go module
// proxy serves it; no container registry is needed).
const (
	Module   = "github.com/traefik/traefik/v3"
	Version  = "v3.6.12"
	ImageRef = "aftershock.dev/traefik:" + Version
)

// CacheDir is where the built image archive is kept
// (~/.cache/aftershock/ingress).
func CacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	return filepath.Join(d, "aftershock", "ingress"), nil
}

// Archive is the image archive's path in the cache.
func Archive() (string, error) {
	d, err := CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "traefik-"+Version+".tar"), nil
}

// EnsureImage returns the controller's image archive, building it when it
// is not cached: `go mod download` of the module source, then `go build
// ./cmd/traefik` in a writable copy (CGO off; about 5 min on 2 cores; needs
// the Go toolchain, like the node image). Progress gets a line every 30 s.
func EnsureImage(ctx context.Context, progress io.Writer) (clusters.AppImage, error) {
	if progress == nil {
		progress = io.Discard
	}
	archive, err := Archive()
	if err != nil {
		return clusters.AppImage{}, err
	}
	img := clusters.AppImage{Ref: ImageRef, Archive: archive}
	if _, err := os.Stat(archive); err == nil {
		fmt.Fprintf(progress, "ingress image %s: cached (%s)\n", ImageRef, archive)
		return img, nil
	}
	if err := Build(ctx, progress); err != nil {
		return clusters.AppImage{}, err
	}
	return img, nil
}

// Build builds the controller's image archive into the cache.
func Build(ctx context.Context, progress io.Writer) error {
	archive, err := Archive()
	if err != nil {
		return err
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("ingress image %s is not built and building it needs the Go toolchain (go on PATH): %w; run `aftershock ingress-image` where Go is installed", ImageRef, err)
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(progress, "ingress image %s: building Traefik from %s@%s (about 5 min on 2 cores)\n", ImageRef, Module, Version)
	out, err := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", Module+"@"+Version).Output()
	if err != nil {
		return fmt.Errorf("go mod download %s@%s: %w: %s", Module, Version, err, stderrOf(err))
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: no source folder (%s): %s", Module, Version, mod.Error, out)
	}
	work, err := os.MkdirTemp("", "aftershock-traefik-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	// the module cache is read-only, and go build wants the module writable
	if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
		return fmt.Errorf("copy %s: %w", mod.Dir, err)
	}
	bin := filepath.Join(work, "traefik")
	build := exec.CommandContext(ctx, goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/traefik")
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
			fmt.Fprintf(progress, "ingress image: compiling Traefik ... %s\n", time.Since(start).Round(time.Second))
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("go build ./cmd/traefik (%s@%s): %w: %s", Module, Version, err, tail(stderr.String(), 2000))
	}
	tmp := archive + ".tmp"
	if err := clusters.PackBinary(tmp, ImageRef, bin); err != nil {
		return err
	}
	if err := os.Rename(tmp, archive); err != nil {
		return err
	}
	fmt.Fprintf(progress, "ingress image %s: built in %s (%s)\n", ImageRef, time.Since(start).Round(time.Second), archive)
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
