package faults

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
)

// AppPort is the container port the sample app listens on.
const AppPort = sampleapp.Port

// agentPort is where the delay agent listens inside the pod's netns.
const agentPort = 15000

// netTarget is one pod's network namespace, reached from its node.
type netTarget struct {
	pod  string
	ip   string
	node string
	pid  string
}

func (t netTarget) nsenter(args ...string) []string {
	return append([]string{"nsenter", "-t", t.pid, "-n"}, args...)
}

// resolve finds the process of the pod's sandbox on its node (crictl):
// it holds the pod's network namespace for as long as the pod lives. (An
// app container's process would go when the container restarts, as one
// does whose probes a partition failed, while the namespace and the
// fault's rules stay: its revert would then take the pod for gone.)
func resolve(ctx context.Context, p corev1.Pod) (netTarget, error) {
	t := netTarget{pod: p.Name, ip: p.Status.PodIP, node: p.Spec.NodeName}
	out, err := nodeExec(ctx, t.node, "crictl", "pods", "-q", "--state", "ready", "--label", "io.kubernetes.pod.uid="+string(p.UID))
	if err != nil {
		return t, fmt.Errorf("find the sandbox of pod %s: %w", p.Name, err)
	}
	ids := strings.Fields(out)
	if len(ids) != 1 {
		return t, fmt.Errorf("pod %s: want one ready sandbox on node %s, found %d", p.Name, t.node, len(ids))
	}
	out, err = nodeExec(ctx, t.node, "crictl", "inspectp", "--output", "go-template", "--template", "{{.info.pid}}", ids[0])
	if err != nil {
		return t, fmt.Errorf("find pid of pod %s: %w", p.Name, err)
	}
	t.pid = strings.TrimSpace(out)
	if _, err := strconv.Atoi(t.pid); err != nil || t.pid == "0" {
		return t, fmt.Errorf("pod %s: bad pid %q", p.Name, t.pid)
	}
	return t, nil
}

// alive reports whether the target's sandbox process, and so its pod's
// network namespace, still exists.
func (t netTarget) alive(ctx context.Context) bool {
	_, err := nodeExec(ctx, t.node, "test", "-d", "/proc/"+t.pid+"/ns")
	return err == nil
}

// ruleCounter sums the packet counters of rules carrying tag.
func ruleCounter(ctx context.Context, node, pid, tag string) (int, error) {
	cmd := []string{"iptables-save", "-c"}
	if pid != "" {
		cmd = append([]string{"nsenter", "-t", pid, "-n"}, cmd...)
	}
	out, err := nodeExec(ctx, node, cmd...)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, tag) || !strings.HasPrefix(line, "[") {
			continue
		}
		c := strings.SplitN(strings.Trim(strings.Fields(line)[0], "[]"), ":", 2)
		n, _ := strconv.Atoi(c[0])
		total += n
	}
	return total, nil
}

// waitDropped waits until the rules carrying tag have dropped a packet:
// the evidence that a loss or partition fault landed.
func waitDropped(ctx context.Context, node, pid, tag, where string) (bool, string) {
	for {
		n, err := ruleCounter(ctx, node, pid, tag)
		if err == nil && n > 0 {
			return true, fmt.Sprintf("%d packet(s) dropped by the rules %s", n, where)
		}
		select {
		case <-ctx.Done():
			return false, fmt.Sprintf("no packet dropped %s (err %v)", where, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// probeLatency is the median time of n requests from the node to the pod.
func probeLatency(ctx context.Context, t netTarget, port, n int) (time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		out, err := nodeExec(ctx, t.node, "curl", "-s", "-o", "/dev/null", "--max-time", "5", "-w", "%{time_total}", fmt.Sprintf("http://%s:%d/", t.ip, port))
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err != nil {
			return 0, fmt.Errorf("probe %s: %q", t.pod, out)
		}
		ds = append(ds, time.Duration(f*float64(time.Second)))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], nil
}

// podNetwork injects delay, loss or a partition into chosen pods' network
// namespaces, entered from their node with nsenter.
type podNetwork struct {
	env  *Env
	spec Spec
	tag  string

	mu      sync.Mutex
	targets []netTarget
	netem   map[string]bool // pod -> delay done with tc netem
}

func (f *podNetwork) Inject(ctx context.Context) (Injected, error) {
	pods, victims, err := f.env.pickTargetPods(ctx, f.spec, true)
	if err != nil {
		return Injected{}, err
	}
	inj := Injected{Target: strings.Join(podNames(pods), ","), Victims: victims}
	targets := make([]netTarget, 0, len(pods))
	for _, p := range pods {
		t, err := resolve(ctx, p)
		if err != nil {
			return inj, err
		}
		targets = append(targets, t)
	}
	var baseline time.Duration
	if f.spec.Type == NetworkDelay {
		if baseline, err = probeLatency(ctx, targets[0], f.env.port(f.spec), 3); err != nil {
			return inj, fmt.Errorf("baseline latency of %s: %w", targets[0].pod, err)
		}
	}
	// register before changing anything: Revert sees every target
	f.mu.Lock()
	f.targets = append(f.targets, targets...)
	f.mu.Unlock()
	// every pod at once: one after another, a fault on 3 pods took 15 s of
	// its 15 s on a loaded machine (each is several docker execs)
	methods := make([]string, len(targets))
	var g errgroup.Group
	for i, t := range targets {
		g.Go(func() error {
			method, err := f.injectOne(ctx, t)
			methods[i] = method
			if err != nil {
				return fmt.Errorf("%s on pod %s: %w", f.spec.Type, t.pod, err)
			}
			return nil
		})
	}
	err = g.Wait()
	inj.Method = methods[0]
	if err != nil {
		return inj, err
	}
	first := targets[0]
	switch f.spec.Type {
	case NetworkDelay:
		inj.ExpectedDelay = f.spec.Delay
		inj.Verify = func(ctx context.Context) (bool, string) {
			d, err := probeLatency(ctx, first, f.env.port(f.spec), 3)
			if err != nil {
				return false, "probe: " + err.Error()
			}
			added := d - baseline
			return added >= f.spec.Delay/2, fmt.Sprintf("request from node to %s: %s vs %s before (+%s, configured +%s)", first.pod, d.Round(time.Millisecond), baseline.Round(100*time.Microsecond), added.Round(time.Millisecond), f.spec.Delay)
		}
	default:
		inj.Verify = func(ctx context.Context) (bool, string) {
			return waitDropped(ctx, first.node, first.pid, f.tag, "in pod "+first.pod)
		}
	}
	return inj, nil
}

func (f *podNetwork) injectOne(ctx context.Context, t netTarget) (string, error) {
	comment := []string{"-m", "comment", "--comment", f.tag}
	switch f.spec.Type {
	case NetworkDelay:
		args := []string{"tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", fmtMS(f.spec.Delay)}
		if f.spec.Jitter > 0 {
			args = append(args, fmtMS(f.spec.Jitter))
		}
		if _, err := nodeExec(ctx, t.node, t.nsenter(args...)...); err == nil {
			f.mu.Lock()
			f.netem[t.pod] = true
			f.mu.Unlock()
			return "tc netem in the pod's network namespace", nil
		}
		// no sch_netem on this kernel: a userspace forwarder + REDIRECT
		agent, err := ensureAgent(ctx, t.node, "delay", "-listen", fmt.Sprintf("0.0.0.0:%d", agentPort), "-upstream", fmt.Sprintf("127.0.0.1:%d", f.env.port(f.spec)),
			"-latency", f.spec.Delay.String(), "-jitter", f.spec.Jitter.String(), "-lifetime", (f.spec.duration() + 5*time.Minute).String(), "-tag", f.tag)
		if err != nil {
			return "", err
		}
		if err := nodeExecDetached(ctx, t.node, t.nsenter(agent...)...); err != nil {
			return "", err
		}
		if err := waitListening(ctx, t, agentPort); err != nil {
			return "", err
		}
		rule := append([]string{"iptables", "-w", "-t", "nat", "-I", "PREROUTING", "-p", "tcp", "--dport", fmt.Sprint(f.env.port(f.spec))}, comment...)
		rule = append(rule, "-j", "REDIRECT", "--to-ports", fmt.Sprint(agentPort))
		if _, err := nodeExec(ctx, t.node, t.nsenter(rule...)...); err != nil {
			return "", err
		}
		return "userspace proxy (toxiproxy) + iptables REDIRECT in the pod's network namespace (no sch_netem)", nil
	case NetworkLoss:
		rule := append([]string{"iptables", "-w", "-I", "INPUT", "-p", "tcp", "--dport", fmt.Sprint(f.env.port(f.spec)), "-m", "statistic", "--mode", "random", "--probability", strconv.FormatFloat(f.spec.Loss, 'f', 4, 64)}, comment...)
		rule = append(rule, "-j", "DROP")
		_, err := nodeExec(ctx, t.node, t.nsenter(rule...)...)
		return "iptables statistic DROP in the pod's network namespace", err
	case NetworkPartition:
		for _, r := range [][]string{
			append(append([]string{"iptables", "-w", "-I", "INPUT", "!", "-i", "lo"}, comment...), "-j", "DROP"),
			append(append([]string{"iptables", "-w", "-I", "OUTPUT", "!", "-o", "lo"}, comment...), "-j", "DROP"),
		} {
			if _, err := nodeExec(ctx, t.node, t.nsenter(r...)...); err != nil {
				return "", err
			}
		}
		return "iptables DROP of all but loopback in the pod's network namespace", nil
	}
	return "", fmt.Errorf("unknown network fault %q", f.spec.Type)
}

func fmtMS(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// waitListening waits until something listens on port in the pod's netns.
func waitListening(ctx context.Context, t netTarget, port int) error {
	for i := 0; i < 50; i++ {
		out, err := nodeExec(ctx, t.node, t.nsenter("ss", "-Htln", fmt.Sprintf("sport = :%d", port))...)
		if err == nil && strings.TrimSpace(out) != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("delay agent did not listen on :%d in pod %s", port, t.pod)
}

// Revert removes rules, qdiscs and agents from every target; idempotent.
//
// A delay agent is retired in steps so that no request breaks: new
// connections first bypass the REDIRECT (NAT is decided on a connection's
// first packet, so the ones in flight keep going through the agent), then,
// once those are done, the rules, conntrack's memory of them and the agent go.
func (f *podNetwork) Revert(ctx context.Context) error {
	f.mu.Lock()
	targets := append([]netTarget(nil), f.targets...)
	f.mu.Unlock()
	var live []netTarget
	for _, t := range targets {
		if t.alive(ctx) {
			live = append(live, t) // a gone pod took its namespace with it
		}
	}
	var errs []error
	if f.spec.Type == NetworkDelay {
		bypassed := false
		for _, t := range live {
			if f.usesNetem(t) {
				continue
			}
			rule := []string{"iptables", "-w", "-t", "nat", "-I", "PREROUTING", "1", "-p", "tcp", "--dport", fmt.Sprint(f.env.port(f.spec)), "-m", "comment", "--comment", f.tag, "-j", "ACCEPT"}
			if _, err := nodeExec(ctx, t.node, t.nsenter(rule...)...); err != nil {
				errs = append(errs, fmt.Errorf("pod %s: bypass the delay agent: %w", t.pod, err))
				continue
			}
			bypassed = true
		}
		if bypassed {
			select {
			case <-ctx.Done():
			case <-time.After(f.spec.Delay + f.spec.Jitter + time.Second):
			}
		}
	}
	for _, t := range live {
		if err := deleteRules(ctx, inNode(t.node, t.pid), f.tag); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: remove iptables rules: %w", t.pod, err))
		}
		if f.usesNetem(t) {
			if _, err := nodeExec(ctx, t.node, t.nsenter("tc", "qdisc", "del", "dev", "eth0", "root")...); err != nil && !strings.Contains(err.Error(), "No such file") {
				errs = append(errs, fmt.Errorf("pod %s: remove netem: %w", t.pod, err))
			}
		}
	}
	// agents run in pod namespaces but are processes of the node
	nodes := map[string]bool{}
	for _, t := range targets {
		nodes[t.node] = true
	}
	for n := range nodes {
		if err := killAgents(ctx, n, f.tag); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f *podNetwork) usesNetem(t netTarget) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.netem[t.pod]
}

// killAgents stops the delay agents carrying tag on a node; idempotent.
func killAgents(ctx context.Context, node, tag string) error {
	_, err := nodeExec(ctx, node, "sh", "-c", `pkill -f -- "[a]ftershock-agent delay .*-tag $1"; for i in $(seq 1 50); do pgrep -f -- "[a]ftershock-agent delay .*-tag $1" >/dev/null || exit 0; sleep 0.1; done; exit 1`, "sh", tag)
	if err != nil {
		return fmt.Errorf("node %s: stop delay agent %s: %w", node, tag, err)
	}
	return nil
}

// nodeIPs maps node names to InternalIPs.
func nodeIPs(ctx context.Context, env *Env) (map[string]string, error) {
	nodes, err := env.Cluster.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				out[n.Name] = a.Address
			}
		}
	}
	return out, nil
}
