// Package faults owns every change aftershock makes to a running cluster:
// pod and container kills, node drains (k8s.io/kubectl/pkg/drain), node
// stop/pause (the kind node's container, through the Docker API of
// testcontainers-go), network delay, loss and partitions (tc netem where the
// kernel has it, otherwise a userspace toxiproxy forwarder and iptables in
// the target's network namespace), the schedule that applies them, and an
// Observer that turns watches into timeline events.
//
// Every fault is reverted, always: a Revert is registered on a Reverts stack
// before Inject starts, is idempotent, and RevertAll runs them with a fresh
// context (the caller's may be cancelled) on success, failure, timeout, panic
// and Ctrl-C. What a SIGKILL leaves behind is found by label, annotation and
// rule comment and removed by Clean.
//
// Safety: destructive faults refuse clusters aftershock did not create unless
// Env.AllowForeignCluster, and touch only the scenario's namespace (never
// kube-system) unless Env.AllowNamespaces lists others.
//
// It does not measure (loadgen, report).
package faults
