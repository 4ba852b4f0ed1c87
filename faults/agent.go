package faults

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/multicall"
)

// agentRoot is where the userspace network agent is copied in a node
// container: the running executable (multi-call, run as aftershock-agent)
// and, when it is dynamically linked, its loader and libraries, in a folder
// named by the executable's digest.
const agentRoot = "/usr/local/lib/aftershock"

var (
	agentOnce   sync.Once
	agentBundle multicall.Bundle
	agentDir    string
	agentErr    error
	// agentCopying holds a *sync.Mutex per node container name
	agentCopying sync.Map
)

// localAgent finds the running executable's bundle (once per process).
func localAgent() (multicall.Bundle, string, error) {
	agentOnce.Do(func() {
		agentBundle, agentErr = multicall.Executable()
		if agentErr != nil {
			return
		}
		sum, err := agentBundle.Digest()
		if err != nil {
			agentErr = err
			return
		}
		agentDir = path.Join(agentRoot, sum[:12])
	})
	return agentBundle, agentDir, agentErr
}

// ensureAgent puts the agent into a node container if it is not there and
// returns the command line that runs it with args.
func ensureAgent(ctx context.Context, node string, args ...string) ([]string, error) {
	b, dir, err := localAgent()
	if err != nil {
		return nil, fmt.Errorf("delay agent: %w", err)
	}
	cmd := b.Command(dir, multicall.Agent, args...)
	// one copy per node at a time (a fault on several pods of one node
	// injects them at once)
	mu, _ := agentCopying.LoadOrStore(node, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if _, err := nodeExec(ctx, node, "test", "-x", path.Join(dir, multicall.Agent)); err == nil {
		return cmd, nil
	}
	// libraries first, the executable last: its presence means complete
	for _, l := range b.Libs {
		if err := copyToNode(ctx, node, path.Join(dir, "lib", path.Base(l.Dest)), l.Src); err != nil {
			return nil, fmt.Errorf("delay agent: %w", err)
		}
	}
	if err := copyToNode(ctx, node, path.Join(dir, multicall.Agent), b.Exe); err != nil {
		return nil, fmt.Errorf("delay agent: %w", err)
	}
	return cmd, nil
}

// StageAgent copies the delay agent into every node of a kind cluster
// ahead of time, so that a network-delay fault's inject does not wait for
// the copy (the agent is the whole aftershock executable). Idempotent; a
// no-op for clusters that are not kind clusters.
func StageAgent(ctx context.Context, c *clusters.Cluster) error {
	if c == nil || !c.Kind {
		return nil
	}
	nodes, err := c.NodeContainers()
	if err != nil {
		return fmt.Errorf("stage delay agent: %w", err)
	}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ensureAgent(ctx, n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
