package faults

import (
	"fmt"
	"slices"
	"strings"
)

// Types of fault.
const (
	PodKill          = "pod-kill"
	ContainerKill    = "container-kill"
	NodeDrain        = "node-drain"
	NodeStop         = "node-stop"
	NodePause        = "node-pause"
	NetworkDelay     = "network-delay"
	NetworkLoss      = "network-loss"
	NetworkPartition = "network-partition"
	RolloutRestart   = "rollout-restart"
	Rollout          = "rollout"
	Rollback         = "rollback"
	HelmUpgrade      = "helm-upgrade"
	Scale            = "scale"
)

// Scopes of a network partition.
const (
	ScopePods = "pods"
	ScopeNode = "node"
)

// Type is what one fault type is and needs: the one place the runner,
// the spec's validation, the parallel rule and clean ask about a type. A
// new fault type is its file (the Fault) plus one entry here.
type Type struct {
	Name string
	// Kind: it acts through the nodes' Docker containers (kill a
	// container, stop or pause a node, tc and iptables in the nodes), so
	// it works only on a kind cluster aftershock created.
	Kind bool
	// Node: it hits whole nodes, so every pod there (other scenarios'
	// too) feels it: a scenario with such a fault takes the cluster alone
	// (never side by side with another) and needs cluster.workers >= 2.
	Node bool
	// NodeScope: the scope "node" (network-partition) makes it node-level.
	NodeScope bool
	// Outage: the node itself goes down (its container stopped or paused,
	// its network cut), so its kubelet, kube-proxy and CNI come back some
	// time after the revert; a drain leaves them running.
	Outage bool
	// Reversible: undone after `for` (a killed pod is not undone: its
	// workload replaces it).
	Reversible bool
	// Deploy: a deploy event (it changes the app's workload, as a deploy
	// does): landed when its rollout is complete, checked by slo.rollout.
	Deploy bool
	// Agent: it runs the delay agent in the nodes (staged before the load).
	Agent bool
	// Leaves is what a process killed while the fault is active leaves
	// behind (what `aftershock clean` removes); "" is nothing.
	Leaves string
	// Options are the spec fields besides the schedule it reads.
	Options []string
	// new makes the fault for a validated spec; tag marks what it leaves.
	new func(s Spec, env *Env, tag string) Fault
}

// table is every fault type, in the order the docs list them.
var table = []Type{
	{Name: PodKill, Options: []string{"pods", "percent", "gracePeriod", "target"},
		new: func(s Spec, env *Env, _ string) Fault { return &podKill{env: env, spec: s} }},
	{Name: ContainerKill, Kind: true, Options: []string{"pods", "percent", "target"},
		new: func(s Spec, env *Env, _ string) Fault { return &containerKill{env: env, spec: s} }},
	{Name: NodeDrain, Node: true, Reversible: true, Leaves: "a cordoned node (marked drain:RUNID)", Options: []string{"node", "for"},
		new: func(s Spec, env *Env, _ string) Fault { return &nodeDrain{env: env, spec: s} }},
	{Name: NodeStop, Kind: true, Node: true, Outage: true, Reversible: true, Leaves: "a stopped node container", Options: []string{"node", "for"},
		new: func(s Spec, env *Env, _ string) Fault { return &nodeContainer{env: env, spec: s} }},
	{Name: NodePause, Kind: true, Node: true, Outage: true, Reversible: true, Leaves: "a paused node container", Options: []string{"node", "for"},
		new: func(s Spec, env *Env, _ string) Fault { return &nodeContainer{env: env, spec: s, pause: true} }},
	{Name: NetworkDelay, Kind: true, Reversible: true, Agent: true, Leaves: "netem qdiscs in pods, iptables rules and delay agents in nodes",
		Options: []string{"pods", "percent", "delay", "jitter", "for", "target", "targetPort"},
		new: func(s Spec, env *Env, tag string) Fault {
			return &podNetwork{env: env, spec: s, tag: tag, netem: map[string]bool{}}
		}},
	{Name: NetworkLoss, Kind: true, Reversible: true, Leaves: "iptables rules in pods", Options: []string{"pods", "percent", "loss", "for", "target", "targetPort"},
		new: func(s Spec, env *Env, tag string) Fault {
			return &podNetwork{env: env, spec: s, tag: tag, netem: map[string]bool{}}
		}},
	{Name: NetworkPartition, Kind: true, NodeScope: true, Outage: true, Reversible: true, Leaves: "iptables rules in pods or nodes",
		Options: []string{"pods", "percent", "scope", "node", "for", "target", "targetPort"},
		new: func(s Spec, env *Env, tag string) Fault {
			if s.Scope == ScopeNode {
				return &nodePartition{env: env, spec: s, tag: tag}
			}
			return &podNetwork{env: env, spec: s, tag: tag, netem: map[string]bool{}}
		}},
	// a deploy event: the pods' Deployment rolls every pod (not undone:
	// the new pods run the same template; a killed run's rollout finishes)
	{Name: RolloutRestart, Deploy: true, Options: []string{"target"},
		new: func(s Spec, env *Env, _ string) Fault { return &rolloutRestart{env: env, spec: s} }},
	// deploy events: a change rolled out (image, env, patch); back to the
	// previous revision (kubectl rollout undo). Neither undone: the
	// namespace goes with the run
	{Name: Rollout, Deploy: true, Options: []string{"image", "env", "patch", "target"},
		new: func(s Spec, env *Env, _ string) Fault { return &rollout{env: env, spec: s} }},
	{Name: Rollback, Deploy: true, Options: []string{"target"},
		new: func(s Spec, env *Env, _ string) Fault { return &rollback{env: env, spec: s} }},
	// a deploy event: the app's chart rendered again with changed values
	// and applied (not undone: the namespace goes with the run)
	{Name: HelmUpgrade, Deploy: true, Options: []string{"set", "values"},
		new: func(s Spec, env *Env, _ string) Fault { return &helmUpgrade{env: env, spec: s} }},
	// a deploy event: the pods' Deployment scaled to replicas for `for`,
	// then back to its count before
	{Name: Scale, Deploy: true, Reversible: true, Leaves: "a Deployment scaled (in the scenario's namespace: clean removes it)", Options: []string{"replicas", "for", "target"},
		new: func(s Spec, env *Env, _ string) Fault { return &scale{env: env, spec: s} }},
}

// Types lists every fault type's name.
var Types = func() []string {
	var ns []string
	for _, t := range table {
		ns = append(ns, t.Name)
	}
	return ns
}()

// DeployTypes lists the deploy events' type names.
var DeployTypes = func() []string {
	var ns []string
	for _, t := range table {
		if t.Deploy {
			ns = append(ns, t.Name)
		}
	}
	return ns
}()

// TypeOf returns the table entry of a type name.
func TypeOf(name string) (Type, error) {
	for _, t := range table {
		if t.Name == name {
			return t, nil
		}
	}
	return Type{}, fmt.Errorf("type %q: want one of %s", name, strings.Join(Types, ", "))
}

// typeOf is TypeOf for names already validated (the zero Type otherwise).
func typeOf(name string) Type {
	t, _ := TypeOf(name)
	return t
}

// NeedsKind reports whether faults of type t act through the nodes' Docker
// containers: only the API-only types (pod-kill, node-drain) work on any
// cluster.
func NeedsKind(t string) bool { return typeOf(t).Kind }

// APIOnly lists the types that work on any cluster (through the API alone).
func APIOnly() []string {
	var ns []string
	for _, t := range table {
		if !t.Kind {
			ns = append(ns, t.Name)
		}
	}
	return ns
}

// Reversible reports whether a type is undone after For.
func Reversible(typ string) bool { return typeOf(typ).Reversible }

// NodeLevel reports whether the fault hits whole nodes (so every pod on
// them, of any scenario): such a scenario takes the cluster alone.
func (s Spec) NodeLevel() bool {
	t := typeOf(s.Type)
	return t.Node || (t.NodeScope && s.Scope == ScopeNode)
}

// NodeOutage reports whether the fault takes a whole node down (stop,
// pause, a node partition): not a drain, whose node keeps running.
func (s Spec) NodeOutage() bool { return typeOf(s.Type).Outage && s.NodeLevel() }

// Deploy reports whether the fault is a deploy event (slo.rollout checks it).
func (s Spec) Deploy() bool { return typeOf(s.Type).Deploy }

// UsesAgent reports whether the fault runs the delay agent in the nodes.
func (s Spec) UsesAgent() bool { return typeOf(s.Type).Agent }

// AnyNodeLevel reports whether one of fs hits whole nodes.
func AnyNodeLevel(fs []Spec) bool { return slices.ContainsFunc(fs, Spec.NodeLevel) }

// AnyNodeOutage reports whether one of fs takes a whole node down.
func AnyNodeOutage(fs []Spec) bool { return slices.ContainsFunc(fs, Spec.NodeOutage) }

// scoped lists the types that take a scope.
func scoped() []string {
	var ns []string
	for _, t := range table {
		if t.NodeScope {
			ns = append(ns, t.Name)
		}
	}
	return ns
}
