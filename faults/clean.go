package faults

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-dev/aftershock/clusters"
)

// nodeScan lists (and with fix=1 removes) what faults leave inside a node:
// delay agents, iptables rules tagged aftershock (the node's own and every
// pod's network namespace) and netem qdiscs in pods. A pod's namespace is
// entered through its sandbox's process, which lives as long as the pod
// (an app container's process goes when the container restarts, as one
// does whose probes a partition failed; its namespace and rules stay). It only lists rules:
// "@rules node" or "@rules PID" names a namespace that holds some, and
// cleanNamespaces removes them with deleteRules (never a shell evaluating
// what iptables-save printed).
const nodeScan = `
fix=$1
rules() { for t in filter nat; do iptables-save -t $t 2>/dev/null | grep -F -- "aftershock:" | sed "s/^/$t /"; done; }
for p in $(pgrep -f '[a]ftershock-agent delay'); do echo "agent process $p: $(tr '\0' ' ' < /proc/$p/cmdline)"; done
[ "$fix" = 1 ] && pkill -f '[a]ftershock-agent delay'
r=$(rules)
if [ -n "$r" ]; then echo "@rules node"; echo "$r" | sed 's/^/node iptables: /'; fi
self=$(readlink /proc/self/ns/net)
for id in $(crictl pods -q --state ready 2>/dev/null); do
  pid=$(crictl inspectp --output go-template --template '{{.info.pid}}' $id 2>/dev/null) || continue
  [ -n "$pid" ] && [ "$pid" != 0 ] || continue
  ns=$(readlink /proc/$pid/ns/net) || continue
  [ "$ns" != "$self" ] || continue
  r=$(nsenter -t $pid -n sh -c "$(declare -f rules); rules")
  if [ -n "$r" ]; then echo "@rules $pid"; echo "$r" | sed "s/^/pod sandbox $id iptables: /"; fi
  if nsenter -t $pid -n tc qdisc show dev eth0 2>/dev/null | grep -q netem; then
    echo "pod sandbox $id: netem qdisc"
    [ "$fix" = 1 ] && nsenter -t $pid -n tc qdisc del dev eth0 root
  fi
done
exit 0
`

// ExecSettle bounds how long Clean waits for exec sessions in the nodes
// (injects a killed run left in flight) to end before it scans.
const ExecSettle = 30 * time.Second

func settleExecs(ctx context.Context, containers []string, down map[string]bool, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for _, n := range containers {
		for !down[n] && time.Now().Before(deadline) && ctx.Err() == nil {
			k, err := runningExecs(ctx, n)
			if err != nil || k == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// Leftovers lists everything a fault could have left on a kind cluster
// aftershock created: cordoned or marked nodes, paused or stopped node
// containers, tagged iptables rules, netem qdiscs, delay agents. Empty means
// clean.
func Leftovers(ctx context.Context, c *clusters.Cluster) ([]string, error) {
	return scan(ctx, c, false)
}

// Clean removes every leftover Leftovers finds (after a SIGKILLed run, say)
// and returns what it removed.
func Clean(ctx context.Context, c *clusters.Cluster) ([]string, error) {
	if !c.Managed || !c.Kind {
		return nil, fmt.Errorf("clean cluster %q: not a kind cluster aftershock created; refusing", c.Name)
	}
	return scan(ctx, c, true)
}

// CleanForeign is Clean for a cluster aftershock did not create, which only
// node-drain and pod-kill may touch: it uncordons the nodes a drain marked
// (never a node the cluster's owner cordoned) and returns what it did.
func CleanForeign(ctx context.Context, c *clusters.Cluster) ([]string, error) {
	nodes, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("clean cluster %q: %w", c.Name, err)
	}
	var done []string
	var errs []error
	for _, n := range nodes.Items {
		if _, marked := n.Annotations[Marker]; !marked {
			continue
		}
		if err := uncordon(ctx, &Env{Cluster: c}, n.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, fmt.Sprintf("node %s uncordoned (marked by a drain)", n.Name))
	}
	return done, errors.Join(errs...)
}

func scan(ctx context.Context, c *clusters.Cluster, fix bool) ([]string, error) {
	sc := &scanner{env: &Env{Cluster: c}, fix: fix, down: map[string]bool{}}
	containers, err := c.NodeContainers()
	if err != nil {
		return nil, err
	}
	if err := sc.nodeContainers(ctx, containers); err != nil {
		return nil, err
	}
	if err := sc.markedNodes(ctx); err != nil {
		return sc.found, errors.Join(append(sc.errs, err)...)
	}
	if fix {
		// an inject of a killed run may still be running inside a node
		// (docker exec outlives its caller): let it finish, then clean
		settleExecs(ctx, containers, sc.down, ExecSettle)
	}
	for _, n := range containers {
		sc.inside(ctx, n)
	}
	return sc.found, errors.Join(sc.errs...)
}

// scanner gathers what scan finds (and, with fix, the errors of removing it).
type scanner struct {
	env   *Env
	fix   bool
	down  map[string]bool // node containers not running: nothing to exec into until restored
	found []string
	errs  []error
}

// nodeContainers finds node containers paused or stopped (and restarts
// them, waiting for their node to be Ready).
func (sc *scanner) nodeContainers(ctx context.Context, containers []string) error {
	d, err := docker(ctx)
	if err != nil {
		return err
	}
	for _, n := range containers {
		st, err := containerState(ctx, n)
		if err != nil {
			sc.errs = append(sc.errs, err)
			continue
		}
		if st == "running" {
			continue
		}
		sc.down[n] = true
		sc.found = append(sc.found, fmt.Sprintf("node container %s is %s", n, st))
		if !sc.fix {
			continue
		}
		switch st {
		case "paused":
			_, err = d.ContainerUnpause(ctx, n, client.ContainerUnpauseOptions{})
		default:
			_, err = d.ContainerStart(ctx, n, client.ContainerStartOptions{})
		}
		if err != nil {
			sc.errs = append(sc.errs, fmt.Errorf("restore node container %s: %w", n, err))
		} else if !waitNodeReady(ctx, sc.env, n, true) {
			sc.errs = append(sc.errs, fmt.Errorf("node %s not Ready after restoring its container", n))
		}
	}
	return nil
}

// markedNodes finds the nodes a drain marked (and uncordons them); a node
// its owner cordoned stays so.
func (sc *scanner) markedNodes(ctx context.Context) error {
	nodes, err := sc.env.Cluster.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, n := range nodes.Items {
		_, marked := n.Annotations[Marker]
		if !marked {
			continue
		}
		sc.found = append(sc.found, fmt.Sprintf("node %s cordoned=%v marked=%v", n.Name, n.Spec.Unschedulable, marked))
		if sc.fix {
			if err := uncordon(ctx, sc.env, n.Name); err != nil {
				sc.errs = append(sc.errs, err)
			}
		}
	}
	return nil
}

// inside runs nodeScan in node container n: tagged iptables rules, netem
// qdiscs and delay agents (removed with fix).
func (sc *scanner) inside(ctx context.Context, n string) {
	if sc.down[n] && !sc.fix {
		sc.found = append(sc.found, n+": not scanned inside (its container is not running)")
		return
	}
	arg := "0"
	if sc.fix {
		arg = "1"
	}
	out, err := nodeExec(ctx, n, "bash", "-c", nodeScan, "bash", arg)
	if err != nil {
		sc.errs = append(sc.errs, err)
		return
	}
	var pids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if pid, ok := strings.CutPrefix(line, "@rules "); ok {
			pids = append(pids, pid)
			continue
		}
		if line != "" {
			sc.found = append(sc.found, n+": "+line)
		}
	}
	if sc.fix {
		sc.errs = append(sc.errs, cleanNamespaces(ctx, n, pids))
	}
}

// cleanNamespaces removes aftershock's iptables rules from the namespaces
// nodeScan named on a node ("node" is the node's own, else a process id).
func cleanNamespaces(ctx context.Context, node string, pids []string) error {
	var errs []error
	for _, pid := range pids {
		where := "node " + node
		if pid == "node" {
			pid = ""
		} else if _, err := strconv.Atoi(pid); err != nil {
			errs = append(errs, fmt.Errorf("node %s: bad pid %q from the scan", node, pid))
			continue
		} else {
			where += " pid " + pid
		}
		if err := deleteRules(ctx, inNode(node, pid), tagPrefix+":"); err != nil {
			if pid != "" && !(netTarget{node: node, pid: pid}).alive(ctx) {
				continue // its pod went since the scan, and its namespace with it
			}
			errs = append(errs, fmt.Errorf("%s: remove iptables rules: %w", where, err))
		}
	}
	return errors.Join(errs...)
}
