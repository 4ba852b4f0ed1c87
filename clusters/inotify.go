package clusters

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// inotifyPerNode is about how many inotify instances one running kind node
// takes (its systemd, containerd, kubelet and pods): measured on these
// machines, 53 for one idle 3-node cluster and 117 for two with apps.
const inotifyPerNode = 20

// inotifyLimitFile holds the kernel's per-user limit of inotify instances.
const inotifyLimitFile = "/proc/sys/fs/inotify/max_user_instances"

// kindNodesRunning counts the running kind node containers on this machine,
// by cluster.
func kindNodesRunning(ctx context.Context) (map[string]int, error) {
	out, err := dockerOutput(ctx, "ps", "--filter", "label=io.x-k8s.kind.cluster", "--format", `{{.Label "io.x-k8s.kind.cluster"}}`)
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, c := range strings.Fields(out) {
		n[c]++
	}
	return n, nil
}

// inotifyShortage says why that many more kind nodes beside those running
// (by cluster) would take more inotify instances than limit allows, and what to
// do; "" when they fit. All of a machine's kind nodes run as one user (root),
// so they share one limit; past it, kubeadm init or the kubelet fails with
// kind's known issue "too many open files".
func inotifyShortage(limit int, running map[string]int, nodes int) string {
	total := nodes
	var names []string
	for c, n := range running {
		total += n
		names = append(names, c)
	}
	need := total * inotifyPerNode
	if limit <= 0 || need <= limit {
		return ""
	}
	slices.Sort(names)
	on := "none"
	if len(names) > 0 {
		on = strings.Join(names, ", ")
	}
	more := ""
	if nodes > 0 {
		more = fmt.Sprintf("with %d more ", nodes)
	}
	return fmt.Sprintf("%d kind node(s) already run on this machine (clusters: %s); %sthey need about %d inotify instances "+
		"and %s is %d, past which kubeadm and the kubelet fail (kind's known issue \"too many open files\"): "+
		"raise it (sudo sysctl -w fs.inotify.max_user_instances=512) or delete clusters not in use (aftershock clean; kind delete cluster --name NAME)",
		total-nodes, on, more, need, inotifyLimitFile, limit)
}

// inotifyState reads the kernel's per-user limit of inotify instances and
// counts the running kind nodes; ok false when it cannot tell (no /proc
// limit file, no answer from Docker).
func inotifyState(ctx context.Context) (limit int, running map[string]int, ok bool) {
	b, err := os.ReadFile(inotifyLimitFile)
	if err != nil {
		return 0, nil, false
	}
	if limit, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return 0, nil, false
	}
	if running, err = kindNodesRunning(ctx); err != nil {
		return 0, nil, false
	}
	return limit, running, true
}

// inotifyCheck returns inotifyShortage for this machine and nodes more ("" when
// it cannot tell).
func inotifyCheck(ctx context.Context, nodes int) string {
	limit, running, ok := inotifyState(ctx)
	if !ok {
		return ""
	}
	return inotifyShortage(limit, running, nodes)
}

// inotifyHint is inotifyShortage for a cluster whose pods do not start: ""
// unless c's nodes are kind nodes on this machine (aftershock's, or a kind
// cluster it did not create, by its context kind-NAME) and the machine's
// kind nodes are past the limit.
func (c *Cluster) inotifyHint() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	limit, running, ok := inotifyState(ctx)
	if !ok || !c.Kind && running[strings.TrimPrefix(c.Name, "kind-")] == 0 {
		return ""
	}
	return inotifyShortage(limit, running, 0)
}
