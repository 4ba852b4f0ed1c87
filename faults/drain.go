package faults

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ktypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/kubectl/pkg/drain"
)

// nodeDrain cordons a worker and evicts the scenario's pods from it through
// kubectl's drain package (PodDisruptionBudgets respected). Revert uncordons.
type nodeDrain struct {
	env  *Env
	spec Spec
	node string
}

func (f *nodeDrain) helper(ctx context.Context) *drain.Helper {
	return &drain.Helper{
		Ctx:                 ctx,
		Client:              f.env.Cluster.Clientset,
		Force:               true,
		IgnoreAllDaemonSets: true,
		DeleteEmptyDirData:  true,
		GracePeriodSeconds:  -1,
		Timeout:             2 * time.Minute,
		Out:                 io.Discard,
		ErrOut:              io.Discard,
		// evict only from namespaces this run may touch (never kube-system
		// unless allowed)
		AdditionalFilters: []drain.PodFilter{func(p corev1.Pod) drain.PodDeleteStatus {
			if f.env.checkNamespace(p.Namespace) == nil {
				return drain.MakePodDeleteStatusOkay()
			}
			return drain.MakePodDeleteStatusSkip()
		}},
	}
}

func (f *nodeDrain) Inject(ctx context.Context) (Injected, error) {
	if err := f.env.checkDestructive("node-drain"); err != nil {
		return Injected{}, err
	}
	cs := f.env.Cluster.Clientset
	n, err := pickNode(ctx, cs, f.env.nodeFor(ctx, f.spec), f.env.namespace(f.spec), f.env.selector(f.spec), f.env.Rand)
	if err != nil {
		return Injected{}, err
	}
	f.node = n.Name
	inj := Injected{Target: n.Name, Victims: f.env.nodeVictim(n.Name), Method: "cordon + evict (k8s.io/kubectl/pkg/drain, PDBs respected)"}
	// mark the node so Clean can uncordon it after a SIGKILL
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, Marker, f.marker())
	if _, err := cs.CoreV1().Nodes().Patch(ctx, n.Name, ktypes.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return inj, fmt.Errorf("annotate node %q: %w", n.Name, err)
	}
	h := f.helper(ctx)
	if err := drain.RunCordonOrUncordon(h, n, true); err != nil {
		return inj, fmt.Errorf("cordon node %q: %w", n.Name, err)
	}
	if err := drain.RunNodeDrain(h, n.Name); err != nil {
		return inj, fmt.Errorf("drain node %q: %w", n.Name, err)
	}
	start := time.Now()
	inj.Verify = func(ctx context.Context) (bool, string) {
		cur, err := cs.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pods, err := cs.CoreV1().Pods(f.env.namespace(f.spec)).List(ctx, metav1.ListOptions{LabelSelector: f.env.selector(f.spec), FieldSelector: "spec.nodeName=" + n.Name})
		if err != nil {
			return false, err.Error()
		}
		left := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				left++
			}
		}
		if cur.Spec.Unschedulable && left == 0 {
			return true, fmt.Sprintf("node %s cordoned and emptied of app pods (%s after drain returned)", n.Name, time.Since(start).Round(10*time.Millisecond))
		}
		return false, fmt.Sprintf("node %s unschedulable=%v, %d app pod(s) left", n.Name, cur.Spec.Unschedulable, left)
	}
	return inj, nil
}

// Revert uncordons the node and removes the marker, only when the marker is
// this run's (its drain cordoned the node); idempotent.
func (f *nodeDrain) Revert(ctx context.Context) error {
	if f.node == "" {
		return nil
	}
	n, err := f.env.Cluster.Clientset.CoreV1().Nodes().Get(ctx, f.node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("uncordon node %q: %w", f.node, err)
	}
	if n.Annotations[Marker] != f.marker() {
		return nil // not cordoned by this drain (or already reverted)
	}
	return uncordon(ctx, f.env, f.node)
}

// marker is the annotation value that says this run's drain cordoned a node.
func (f *nodeDrain) marker() string { return "drain:" + f.env.RunID }

func uncordon(ctx context.Context, env *Env, node string) error {
	cs := env.Cluster.Clientset
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("uncordon node %q: %w", node, err)
	}
	h := &drain.Helper{Ctx: ctx, Client: cs, Out: io.Discard, ErrOut: io.Discard}
	if err := drain.RunCordonOrUncordon(h, n, false); err != nil {
		return fmt.Errorf("uncordon node %q: %w", node, err)
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, Marker)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, node, ktypes.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("remove marker from node %q: %w", node, err)
	}
	return nil
}
