package faults

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

var (
	dockerOnce sync.Once
	dockerCli  *testcontainers.DockerClient
	dockerErr  error
)

// docker returns the Docker API client (testcontainers-go's), shared.
func docker(ctx context.Context) (*testcontainers.DockerClient, error) {
	dockerOnce.Do(func() {
		tclog.SetDefault(tclog.NewNoopLogger()) // quiet by default
		dockerCli, dockerErr = testcontainers.NewDockerClientWithOpts(ctx)
	})
	if dockerErr != nil {
		return nil, fmt.Errorf("docker API: %w", dockerErr)
	}
	return dockerCli, nil
}

// ExecError carries a failed command and its output.
type ExecError struct {
	Node   string
	Cmd    []string
	Code   int
	Output string
}

func (e *ExecError) Error() string {
	return fmt.Sprintf("on node %s: %s: exit %d: %s", e.Node, strings.Join(e.Cmd, " "), e.Code, strings.TrimSpace(e.Output))
}

// nodeExec runs cmd in a kind node's container (privileged, as kind does)
// and returns its stdout.
func nodeExec(ctx context.Context, node string, cmd ...string) (string, error) {
	d, err := docker(ctx)
	if err != nil {
		return "", err
	}
	ex, err := d.ExecCreate(ctx, node, client.ExecCreateOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true, Privileged: true})
	if err != nil {
		return "", fmt.Errorf("exec on node %s: %w", node, err)
	}
	att, err := d.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", fmt.Errorf("exec on node %s: %w", node, err)
	}
	defer att.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		return "", fmt.Errorf("exec on node %s: read output: %w", node, err)
	}
	ins, err := d.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("exec on node %s: %w", node, err)
	}
	if ins.ExitCode != 0 {
		return stdout.String(), &ExecError{Node: node, Cmd: cmd, Code: ins.ExitCode, Output: stderr.String() + stdout.String()}
	}
	return stdout.String(), nil
}

// nodeExecDetached starts cmd in a node's container and returns at once.
func nodeExecDetached(ctx context.Context, node string, cmd ...string) error {
	d, err := docker(ctx)
	if err != nil {
		return err
	}
	ex, err := d.ExecCreate(ctx, node, client.ExecCreateOptions{Cmd: cmd, Privileged: true})
	if err != nil {
		return fmt.Errorf("exec on node %s: %w", node, err)
	}
	if _, err := d.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true}); err != nil {
		return fmt.Errorf("exec on node %s: %w", node, err)
	}
	return nil
}

// copyToNode copies the file src into a node's container at path (mode
// 0755), streamed through a tar pipe: the agent is the whole aftershock
// executable (165 MB), and staged into three nodes at once from memory it
// took a run's resident size to 1.2 GB.
func copyToNode(ctx context.Context, node, path, src string) error {
	d, err := docker(ctx)
	if err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	wrote := make(chan error, 1)
	go func() {
		err := fileTar(pw, path, f, fi.Size())
		pw.CloseWithError(err)
		wrote <- err
	}()
	_, err = d.CopyToContainer(ctx, node, client.CopyToContainerOptions{DestinationPath: "/", Content: pr})
	pr.Close() // a copy that ended early unblocks the writer
	if werr := <-wrote; err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("copy %s to node %s: %w", path, node, err)
	}
	return nil
}

// fileTar writes a tar of one file of size bytes read from r at path,
// with its parent folders (Docker wants its destination to exist; the
// archive unpacks at /).
func fileTar(w io.Writer, path string, r io.Reader, size int64) error {
	tw := tar.NewWriter(w)
	rel := strings.TrimPrefix(path, "/")
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.Join(parts[:i], "/") + "/", Mode: 0o755}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o755, Size: size}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, r); err != nil {
		return err
	}
	return tw.Close()
}

// containerState is a node container's state: running, paused, exited...
func containerState(ctx context.Context, node string) (string, error) {
	d, err := docker(ctx)
	if err != nil {
		return "", err
	}
	res, err := d.ContainerInspect(ctx, node, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect node container %s: %w", node, err)
	}
	if res.Container.State == nil {
		return "", fmt.Errorf("inspect node container %s: no state", node)
	}
	return string(res.Container.State.Status), nil
}

// runningExecs is how many exec sessions run in a node container (e.g. an
// inject a killed run left in flight: it goes on without its caller).
func runningExecs(ctx context.Context, node string) (int, error) {
	d, err := docker(ctx)
	if err != nil {
		return 0, err
	}
	res, err := d.ContainerInspect(ctx, node, client.ContainerInspectOptions{})
	if err != nil {
		return 0, fmt.Errorf("inspect node container %s: %w", node, err)
	}
	return len(res.Container.ExecIDs), nil
}
