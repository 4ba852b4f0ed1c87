package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// nodePartition cuts a worker node off from every other node with iptables
// DROP rules in the node container's own network namespace.
type nodePartition struct {
	env  *Env
	spec Spec
	tag  string
	node string
}

func (f *nodePartition) Inject(ctx context.Context) (Injected, error) {
	if err := f.env.checkKind(NetworkPartition); err != nil {
		return Injected{}, err
	}
	n, err := pickNode(ctx, f.env.Cluster.Clientset, f.env.nodeFor(ctx, f.spec), f.env.namespace(f.spec), f.env.selector(f.spec), f.env.Rand)
	if err != nil {
		return Injected{}, err
	}
	if err := f.env.kindNode(n.Name); err != nil {
		return Injected{}, err
	}
	ips, err := nodeIPs(ctx, f.env)
	if err != nil {
		return Injected{}, err
	}
	var others []string
	for name, ip := range ips {
		if name != n.Name {
			others = append(others, ip)
		}
	}
	sort.Strings(others)
	f.node = n.Name
	inj := Injected{Target: fmt.Sprintf("node %s from %s", n.Name, strings.Join(others, ",")), Victims: f.env.nodeVictim(n.Name), Method: "iptables DROP in the node's network namespace"}
	comment := []string{"-m", "comment", "--comment", f.tag}
	for _, ip := range others {
		for _, r := range [][]string{
			append(append([]string{"iptables", "-w", "-I", "INPUT", "-s", ip}, comment...), "-j", "DROP"),
			append(append([]string{"iptables", "-w", "-I", "OUTPUT", "-d", ip}, comment...), "-j", "DROP"),
		} {
			if _, err := nodeExec(ctx, n.Name, r...); err != nil {
				return inj, err
			}
		}
	}
	inj.Verify = func(ctx context.Context) (bool, string) {
		return waitDropped(ctx, n.Name, "", f.tag, fmt.Sprintf("between node %s and the others", n.Name))
	}
	return inj, nil
}

func (f *nodePartition) Revert(ctx context.Context) error {
	if f.node == "" {
		return nil
	}
	if err := deleteRules(ctx, inNode(f.node, ""), f.tag); err != nil {
		return fmt.Errorf("node %s: remove partition rules: %w", f.node, err)
	}
	if !waitNodeReady(ctx, f.env, f.node, true) {
		return errors.New("node " + f.node + " not Ready again after the partition")
	}
	return nil
}
