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

// inotifyLimit reads the kernel's per-user limit of inotify instances.
func inotifyLimit() (int, bool) {
	b, err := os.ReadFile(inotifyLimitFile)
	if err != nil {
		return 0, false
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return limit, err == nil
}

// inotifyCheck returns inotifyShortage for this machine ("" when it cannot
// tell: no /proc limit file or no answer from Docker).
func inotifyCheck(ctx context.Context, nodes int) string {
	limit, ok := inotifyLimit()
	if !ok {
		return ""
	}
	running, err := kindNodesRunning(ctx)
	if err != nil {
		return ""
	}
	return inotifyShortage(limit, running, nodes)
}

// inotifyHint is inotifyShortage for a cluster whose pods do not start: ""
// unless c's nodes are kind nodes on this machine (aftershock's, or a kind
// cluster it did not create, by its context kind-NAME) and the machine's
// kind nodes are past the limit.
func (c *Cluster) inotifyHint() string {
	limit, ok := inotifyLimit()
	if !ok {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	running, err := kindNodesRunning(ctx)
	if err != nil || !c.Kind && running[strings.TrimPrefix(c.Name, "kind-")] == 0 {
		return ""
	}
	return inotifyShortage(limit, running, 0)
}
