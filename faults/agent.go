package faults

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"github.com/aftershock-dev/aftershock/clusters/nodeimage"
)

// agentPath is where the userspace network agent lives in a node container.
const agentPath = "/usr/local/bin/aftershock-agent"

var (
	agentOnce sync.Once
	agentBin  []byte
	agentErr  error
)

// agentBinary compiles cmd/aftershock-agent (once per process).
func agentBinary(ctx context.Context) ([]byte, error) {
	agentOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aftershock-agent-")
		if err != nil {
			agentErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "aftershock-agent")
		if agentErr = nodeimage.CompileCommand(ctx, "./cmd/aftershock-agent", out); agentErr == nil {
			agentBin, agentErr = os.ReadFile(out)
		}
	})
	return agentBin, agentErr
}

// ensureAgent puts the agent into a node container if it is not there.
func ensureAgent(ctx context.Context, node string) error {
	if _, err := nodeExec(ctx, node, "test", "-x", agentPath); err == nil {
		return nil
	}
	bin, err := agentBinary(ctx)
	if err != nil {
		return err
	}
	return copyToNode(ctx, node, agentPath, bin)
}
