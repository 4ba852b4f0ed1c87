package faults

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/aftershock-dev/aftershock/clusters"
)

// nodeContainer stops or pauses a worker's kind node container through the
// Docker API; Revert starts or unpauses it and waits until the node is Ready.
type nodeContainer struct {
	env   *Env
	spec  Spec
	pause bool
	node  string
}

func (f *nodeContainer) what() string {
	if f.pause {
		return NodePause
	}
	return NodeStop
}

func (f *nodeContainer) Inject(ctx context.Context) (Injected, error) {
	if err := f.env.checkKind(f.what()); err != nil {
		return Injected{}, err
	}
	cs := f.env.Cluster.Clientset
	n, err := pickNode(ctx, cs, f.env.nodeFor(ctx, f.spec), f.env.namespace(f.spec), f.env.selector(f.spec), f.env.Rand)
	if err != nil {
		return Injected{}, err
	}
	if err := f.env.kindNode(n.Name); err != nil {
		return Injected{}, err
	}
	d, err := docker(ctx)
	if err != nil {
		return Injected{}, err
	}
	f.node = n.Name
	inj := Injected{Target: n.Name, Victims: f.env.nodeVictim(n.Name)}
	if f.pause {
		inj.Method = "docker pause of the node container (Docker API)"
		_, err = d.ContainerPause(ctx, n.Name, client.ContainerPauseOptions{})
	} else {
		inj.Method = "docker stop of the node container (Docker API)"
		timeout := 10
		_, err = d.ContainerStop(ctx, n.Name, client.ContainerStopOptions{Timeout: &timeout})
	}
	if err != nil {
		return inj, fmt.Errorf("%s node %s: %w", f.what(), n.Name, err)
	}
	start := time.Now()
	want := "exited"
	if f.pause {
		want = "paused"
	}
	inj.Verify = func(ctx context.Context) (bool, string) {
		st, err := containerState(ctx, n.Name)
		if err != nil {
			return false, err.Error()
		}
		if st != want {
			return false, fmt.Sprintf("node container %s is %s, not %s", n.Name, st, want)
		}
		// the container is down; now watch for the control plane to notice
		ev := fmt.Sprintf("node container %s %s", n.Name, st)
		if waitNodeReady(ctx, f.env, n.Name, false) {
			return true, fmt.Sprintf("%s; node NotReady %s after inject", ev, (time.Since(start)).Round(100*time.Millisecond))
		}
		return true, ev + "; node still Ready when verification ended (node-monitor-grace-period not yet over)"
	}
	return inj, nil
}

// Revert starts/unpauses the container (idempotent) and waits for Ready.
func (f *nodeContainer) Revert(ctx context.Context) error {
	if f.node == "" {
		return nil
	}
	d, err := docker(ctx)
	if err != nil {
		return err
	}
	st, err := containerState(ctx, f.node)
	if err != nil {
		return err
	}
	switch st {
	case "paused":
		if _, err := d.ContainerUnpause(ctx, f.node, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("unpause node %s: %w", f.node, err)
		}
	case "exited", "created":
		if _, err := d.ContainerStart(ctx, f.node, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("start node %s: %w", f.node, err)
		}
	}
	if !waitNodeReady(ctx, f.env, f.node, true) {
		return fmt.Errorf("node %s not Ready again after %s", f.node, f.what())
	}
	return nil
}

// waitNodeReady waits (bounded by ctx, at most 3 minutes) until the node's
// Ready condition equals ready.
func waitNodeReady(ctx context.Context, env *Env, node string, ready bool) bool {
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := env.Cluster.Clientset.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return clusters.NodeReady(n) == ready, nil
	})
	return err == nil
}
