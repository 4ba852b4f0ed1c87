package nodeimage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// CompileCommand compiles one of aftershock's commands (e.g.
// "./cmd/sampleapp") from its source tree as a static Linux binary at out.
func CompileCommand(ctx context.Context, pkg, out string) error {
	src, err := FindSourceDir()
	if err != nil {
		return err
	}
	if err := run(ctx, src, []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg); err != nil {
		return fmt.Errorf("compile %s: %w", pkg, err)
	}
	return nil
}
