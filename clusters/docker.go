package clusters

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// dockerOutput runs the docker CLI (kind itself needs it) and returns stdout.
func dockerOutput(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// DockerAvailable reports whether a Docker engine answers.
func DockerAvailable(ctx context.Context) error {
	_, err := dockerOutput(ctx, "version", "--format", "{{.Server.Version}}")
	return err
}
