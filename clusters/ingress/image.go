package ingress

import (
	"context"
	"io"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/goimage"
)

// The controller: Traefik, built from its module source (the Go module
// proxy serves it; no container registry is needed).
const (
	Module   = "github.com/traefik/traefik/v3"
	Version  = "v3.6.12"
	ImageRef = "aftershock.dev/traefik:" + Version
)

// program is the controller as a Go program and its image.
var program = goimage.Program{Name: "ingress", Module: Module, Version: Version, Package: "./cmd/traefik", Ref: ImageRef,
	Cache: "ingress", File: "traefik-" + Version + ".tar", About: "about 5 min on 2 cores", Command: "ingress-image"}

// CacheDir is where the built image archive is kept
// (~/.cache/aftershock/ingress).
func CacheDir() (string, error) { return program.CacheDir() }

// Archive is the image archive's path in the cache.
func Archive() (string, error) { return program.Archive() }

// EnsureImage returns the controller's image archive, building it when it
// is not cached: `go mod download` of the module source, then `go build
// ./cmd/traefik` in a writable copy (CGO off; about 5 min on 2 cores; needs
// the Go toolchain, like the node image). Progress gets a line every 30 s.
func EnsureImage(ctx context.Context, progress io.Writer) (clusters.AppImage, error) {
	return program.Ensure(ctx, progress)
}

// Build builds the controller's image archive into the cache.
func Build(ctx context.Context, progress io.Writer) error { return program.Build(ctx, progress) }
