package faults

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/aftershock-dev/aftershock/report"
)

// isReady reports whether a pod is Ready and not terminating.
func isReady(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && podutils.IsPodReady(p)
}

// howMany is the number of victims among n for a count or percent (at least
// 1 when n > 0, at most n).
func howMany(n, count, percent int) int {
	k := count
	if percent > 0 {
		k = int(math.Ceil(float64(n) * float64(percent) / 100))
	}
	if k <= 0 {
		k = 1
	}
	return min(k, n)
}

// NotLoadPods is the selector term that keeps aftershock's own load pods
// (loadgen.LabelRole=loadgen.RoleLoad) out of every fault's victims.
const NotLoadPods = "aftershock.dev/role!=load"

func notLoad(selector string) string {
	if selector == "" {
		return NotLoadPods
	}
	return selector + "," + NotLoadPods
}

// pickPods chooses victims among the ready pods matching selector in ns,
// seeded by r: the same seed and the same pods give the same choice.
func pickPods(ctx context.Context, cs kubernetes.Interface, ns, selector string, count, percent int, r *rand.Rand) ([]corev1.Pod, error) {
	pods, _, err := pickPinned(ctx, cs, ns, selector, count, percent, r, nil, "")
	return pods, err
}

// nodeRole is a node's name without the kind cluster's prefix: "worker2"
// of "aftershock-1a2b3c-worker2" (other clusters' names are kept).
func nodeRole(node, cluster string) string {
	if cluster != "" {
		return strings.TrimPrefix(node, cluster+"-")
	}
	return node
}

// pickPinned is pickPods with pins (a replay): each pin takes the ready
// pod at its position among those on its node (by name); the rest, and a
// pin whose node has no ready pod, the seeded choice. It returns the
// victims with their nodes and positions.
func pickPinned(ctx context.Context, cs kubernetes.Interface, ns, selector string, count, percent int, r *rand.Rand, pins []report.Victim, cluster string) ([]corev1.Pod, []report.Victim, error) {
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: notLoad(selector)})
	if err != nil {
		return nil, nil, fmt.Errorf("list pods %s in %s: %w", selector, ns, err)
	}
	var ready []corev1.Pod
	for i := range list.Items {
		if isReady(&list.Items[i]) {
			ready = append(ready, list.Items[i])
		}
	}
	if len(ready) == 0 {
		return nil, nil, fmt.Errorf("no ready pod matches %q in namespace %s", selector, ns)
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	onNode := map[string][]corev1.Pod{} // by role, sorted by name
	pos := map[string]int{}
	for _, p := range ready {
		role := nodeRole(p.Spec.NodeName, cluster)
		pos[p.Name] = len(onNode[role])
		onNode[role] = append(onNode[role], p)
	}
	seeded := append([]corev1.Pod(nil), ready...)
	r.Shuffle(len(seeded), func(i, j int) { seeded[i], seeded[j] = seeded[j], seeded[i] })
	k := howMany(len(ready), count, percent)
	var out []corev1.Pod
	used := map[string]bool{}
	for _, pin := range pins {
		if on := onNode[pin.Node]; len(on) > 0 && len(out) < k {
			p := on[pin.Pos%len(on)]
			if !used[p.Name] {
				out, used[p.Name] = append(out, p), true
			}
		}
	}
	for _, p := range seeded {
		if len(out) >= k {
			break
		}
		if !used[p.Name] {
			out, used[p.Name] = append(out, p), true
		}
	}
	victims := make([]report.Victim, len(out))
	for i, p := range out {
		victims[i] = report.Victim{Pod: p.Name, Node: nodeRole(p.Spec.NodeName, cluster), Pos: pos[p.Name]}
	}
	return out, victims, nil
}

// nodeFor is the node a node fault names: Spec.Node, else the pinned one
// when the cluster has it ("" leaves it to the seeded choice).
func (e *Env) nodeFor(ctx context.Context, s Spec) string {
	if s.Node != "" || len(s.Pin) == 0 {
		return s.Node
	}
	nodes, err := e.Cluster.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	for _, n := range nodes.Items {
		if nodeRole(n.Name, e.Cluster.Name) == s.Pin[0].Node {
			return n.Name
		}
	}
	return ""
}

// nodeVictim records a node fault's victim.
func (e *Env) nodeVictim(n string) []report.Victim {
	return []report.Victim{{Node: nodeRole(n, e.Cluster.Name)}}
}

// isControlPlane reports whether a node is a control-plane node.
func isControlPlane(n *corev1.Node) bool {
	_, a := n.Labels["node-role.kubernetes.io/control-plane"]
	return a
}

// pickNode chooses a worker node: name if given (it must exist and be
// neither a control-plane node nor cordoned), else one of the uncordoned
// workers that run pods matching selector in ns, seeded by r. A node its
// owner cordoned is never a victim.
func pickNode(ctx context.Context, cs kubernetes.Interface, name, ns, selector string, r *rand.Rand) (*corev1.Node, error) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	if name != "" {
		for i := range nodes.Items {
			n := &nodes.Items[i]
			if n.Name == name {
				if isControlPlane(n) {
					return nil, fmt.Errorf("node %q is a control-plane node; aftershock only disrupts workers", name)
				}
				if n.Spec.Unschedulable {
					return nil, fmt.Errorf("node %q is cordoned (not by this run); aftershock never disrupts a cordoned node", name)
				}
				return n, nil
			}
		}
		return nil, fmt.Errorf("node %q not found", name)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: notLoad(selector)})
	if err != nil {
		return nil, fmt.Errorf("list pods %s in %s: %w", selector, ns, err)
	}
	hosting := map[string]bool{}
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			hosting[p.Spec.NodeName] = true
		}
	}
	var cands []*corev1.Node
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if !isControlPlane(n) && !n.Spec.Unschedulable && hosting[n.Name] {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("no schedulable (uncordoned) worker node runs pods matching %q in %s", selector, ns)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Name < cands[j].Name })
	return cands[r.IntN(len(cands))], nil
}

func podNames(pods []corev1.Pod) []string {
	out := make([]string, len(pods))
	for i, p := range pods {
		out[i] = p.Name
	}
	return out
}

// pickTargetPods checks that a pod fault may act here and chooses its
// victims (pinned ones first, on a replay).
func (e *Env) pickTargetPods(ctx context.Context, s Spec, needKind bool) ([]corev1.Pod, []report.Victim, error) {
	if needKind {
		if err := e.checkKind(s.Type); err != nil {
			return nil, nil, err
		}
	}
	ns := e.namespace(s)
	if err := e.checkNamespace(ns); err != nil {
		return nil, nil, err
	}
	pods, victims, err := pickPinned(ctx, e.Cluster.Clientset, ns, e.selector(s), s.Pods, s.Percent, e.Rand, s.Pin, e.Cluster.Name)
	if err != nil || !needKind {
		return pods, victims, err
	}
	for _, p := range pods {
		if err := e.kindNode(p.Spec.NodeName); err != nil {
			return nil, nil, fmt.Errorf("%s on pod %s: %w", s.Type, p.Name, err)
		}
	}
	return pods, victims, nil
}
