package clusters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kindv1 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

const (
	// NamePrefix starts the name of every cluster aftershock creates.
	NamePrefix = "aftershock-"
	// ManagedLabel is set on every Node of a cluster aftershock created.
	ManagedLabel = "aftershock.dev/managed"
	// AppNodePort is the NodePort the sample app's Service uses; it is
	// published on 127.0.0.1 at Cluster.AppPort.
	AppNodePort = 30080
	// IngressNodePort is the NodePort of the Ingress controller aftershock
	// installs (clusters/ingress); published on 127.0.0.1 at
	// Cluster.IngressPort.
	IngressNodePort = 30081
	// DefaultWorkers is the number of worker nodes of a new cluster.
	DefaultWorkers = 2
	// ShortNodeMonitorGracePeriod is what scenarios and tests set as
	// Options.NodeMonitorGracePeriod, so node loss is noticed within a test
	// (Kubernetes' default is 40s).
	ShortNodeMonitorGracePeriod = 20 * time.Second
)

// Options configure Create. The zero value is 1 control plane + 2 workers
// with a generated name.
type Options struct {
	Name      string // default aftershock-<random>; must start with NamePrefix
	Workers   int    // default DefaultWorkers; 0 means default, use -1 for none
	NodeImage string // required: from nodeimage.Ensure, or kindest/node where a registry is reachable
	// NodeMonitorGracePeriod shortens how long the controller manager waits
	// before marking a silent node NotReady (Kubernetes default 40s).
	NodeMonitorGracePeriod time.Duration
	// RetainOnFailure keeps a half-made cluster for debugging.
	RetainOnFailure bool
	// KubeconfigDir is where the cluster's kubeconfig is written (default: the
	// user cache dir).
	KubeconfigDir string
	Logger        *slog.Logger // quiet by default
}

// Cluster is a running cluster and the clients to reach it.
type Cluster struct {
	Name       string
	Kubeconfig string // path to a kubeconfig file for this cluster
	REST       *rest.Config
	Clientset  kubernetes.Interface
	// AppPort is the 127.0.0.1 port that reaches AppNodePort; 0 when the
	// cluster was not created by aftershock (use a port-forward or your own LB).
	AppPort int
	// IngressPort is the 127.0.0.1 port that reaches IngressNodePort; 0 when
	// not published (a cluster made before the Ingress path, or not ours).
	IngressPort int
	// Managed is true for clusters aftershock created: only those may be
	// subjected to destructive faults unless the user allows otherwise.
	Managed bool
	// Kind is true when the cluster is a kind cluster (node containers exist).
	Kind bool

	appSlots    []appSlot // every published app NodePort (leases hand them out)
	appNodePort int32     // the NodePort AppPort reaches (0: AppNodePort)
	leased      bool      // a Lease's view
}

func provider(log *slog.Logger) *cluster.Provider {
	return cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindLogger{log}))
}

// NewName returns a fresh cluster name.
func NewName() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return NamePrefix + hex.EncodeToString(b)
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago (all held open together, so none repeats).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (o *Options) defaults() error {
	if o.Name == "" {
		o.Name = NewName()
	}
	if !strings.HasPrefix(o.Name, NamePrefix) {
		return fmt.Errorf("cluster name %q: must start with %q (that is how aftershock recognises its clusters)", o.Name, NamePrefix)
	}
	switch {
	case o.Workers == 0:
		o.Workers = DefaultWorkers
	case o.Workers < 0:
		o.Workers = 0
	}
	if o.NodeImage == "" {
		return errors.New("cluster options: NodeImage is empty (build one with `aftershock node-image`)")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.KubeconfigDir == "" {
		d, err := defaultKubeconfigDir()
		if err != nil {
			return err
		}
		o.KubeconfigDir = d
	}
	return nil
}

// defaultKubeconfigDir is where the kubeconfig of each aftershock cluster
// lives unless Options.KubeconfigDir says otherwise.
func defaultKubeconfigDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kubeconfig dir: %w", err)
	}
	return filepath.Join(d, "aftershock", "kubeconfig"), nil
}

// kindConfig is the kind cluster configuration for opts and the host port
// that publishes AppNodePort.
func kindConfig(opts Options, hostPort, ingressPort int, extra []appSlot) *kindv1.Cluster {
	cfg := &kindv1.Cluster{TypeMeta: kindv1.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"}}
	// kubelet refuses cgroup v1 hosts unless told otherwise (this project's
	// machines are cgroup v1 hybrids; harmless elsewhere).
	cfg.KubeadmConfigPatches = []string{"kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\nfailCgroupV1: false\n"}
	if opts.NodeMonitorGracePeriod > 0 {
		cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, fmt.Sprintf(
			"kind: ClusterConfiguration\ncontrollerManager:\n  extraArgs:\n  - name: node-monitor-grace-period\n    value: %s\n", opts.NodeMonitorGracePeriod))
	}
	labels := map[string]string{ManagedLabel: "true"}
	cfg.Nodes = append(cfg.Nodes, kindv1.Node{
		Role:   kindv1.ControlPlaneRole,
		Image:  opts.NodeImage,
		Labels: labels,
		ExtraPortMappings: []kindv1.PortMapping{{
			ContainerPort: AppNodePort, HostPort: int32(hostPort), ListenAddress: "127.0.0.1", Protocol: kindv1.PortMappingProtocolTCP,
		}, {
			ContainerPort: IngressNodePort, HostPort: int32(ingressPort), ListenAddress: "127.0.0.1", Protocol: kindv1.PortMappingProtocolTCP,
		}},
	})
	for _, e := range extra {
		cfg.Nodes[0].ExtraPortMappings = append(cfg.Nodes[0].ExtraPortMappings, kindv1.PortMapping{
			ContainerPort: e.NodePort, HostPort: int32(e.HostPort), ListenAddress: "127.0.0.1", Protocol: kindv1.PortMappingProtocolTCP,
		})
	}
	for i := 0; i < opts.Workers; i++ {
		cfg.Nodes = append(cfg.Nodes, kindv1.Node{Role: kindv1.WorkerRole, Image: opts.NodeImage, Labels: labels})
	}
	return cfg
}

// Create creates a kind cluster and returns it once every node is Ready.
// A failed creation deletes what was made unless opts.RetainOnFailure.
func Create(ctx context.Context, opts Options) (*Cluster, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	// one creation at a time on this machine: creating a cluster takes
	// every core for a while, and several at once starve each other
	// (test binaries and parallel runs each create theirs)
	creating, err := (&Cluster{Name: "machine.create"}).Lease(ctx, true, func() {
		opts.Logger.Info("waiting for another cluster's creation to finish", "name", opts.Name)
	})
	if err != nil {
		return nil, fmt.Errorf("create cluster %q: %w", opts.Name, err)
	}
	defer creating.Release()
	ports, err := freePorts(2 + len(ExtraAppNodePorts))
	if err != nil {
		return nil, fmt.Errorf("create cluster %q: pick free ports: %w", opts.Name, err)
	}
	port, ingressPort := ports[0], ports[1]
	var extra []appSlot
	for i, np := range ExtraAppNodePorts {
		extra = append(extra, appSlot{NodePort: np, HostPort: ports[2+i]})
	}
	if err := os.MkdirAll(opts.KubeconfigDir, 0o700); err != nil {
		return nil, err
	}
	kcfg := filepath.Join(opts.KubeconfigDir, opts.Name)
	p := provider(opts.Logger)
	opts.Logger.Info("creating kind cluster", "name", opts.Name, "workers", opts.Workers, "image", opts.NodeImage, "appPort", port)
	err = createNodes(ctx, p, opts, kindConfig(opts, port, ingressPort, extra), kcfg)
	if err == nil {
		var c *Cluster
		if c, err = waitUsable(ctx, kcfg, opts, port); err == nil {
			c.IngressPort = ingressPort
			c.appSlots = append(c.appSlots, extra...)
			return c, nil
		}
	}
	if !opts.RetainOnFailure {
		if derr := p.Delete(opts.Name, kcfg); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete half-made cluster %q: %w", opts.Name, derr))
		}
	}
	return nil, fmt.Errorf("create cluster %q: %w", opts.Name, err)
}

// createNodes has kind create the cluster's node containers and run kubeadm
// in them, once more after a kubeadm failure unless the machine is short of
// inotify instances (then the error says so: a second try fails the same way).
func createNodes(ctx context.Context, p *cluster.Provider, opts Options, cfg *kindv1.Cluster, kcfg string) error {
	short := inotifyCheck(ctx, 1+opts.Workers)
	if short != "" {
		opts.Logger.Warn("kind cluster creation may fail", "name", opts.Name, "why", short)
	}
	create := func() error {
		errc := make(chan error, 1)
		go func() {
			errc <- p.Create(opts.Name,
				cluster.CreateWithV1Alpha4Config(cfg),
				cluster.CreateWithNodeImage(opts.NodeImage),
				cluster.CreateWithRetain(opts.RetainOnFailure),
				cluster.CreateWithWaitForReady(3*time.Minute),
				cluster.CreateWithKubeconfigPath(kcfg),
				cluster.CreateWithDisplayUsage(false),
				cluster.CreateWithDisplaySalutation(false))
		}()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			// kind's Create takes no context: wait for it, then delete.
			<-errc
			return ctx.Err()
		}
	}
	err := create()
	if err == nil || ctx.Err() != nil {
		return err
	}
	switch {
	case short != "":
		return fmt.Errorf("%w\n(likely cause: %s)", err, short)
	case !opts.RetainOnFailure && kubeadmFailed(err):
		// kubeadm's own deadlines can pass on a loaded machine; kind has
		// deleted what it made, so a second try starts clean
		opts.Logger.Warn("kind cluster creation failed in kubeadm; trying once more", "name", opts.Name, "err", err)
		return create()
	}
	return err
}

// waitUsable connects to the new cluster and waits until every node is
// Ready and runs kube-proxy.
func waitUsable(ctx context.Context, kcfg string, opts Options, port int) (*Cluster, error) {
	c, err := connect(kcfg, opts.Name, port)
	if err != nil {
		return nil, err
	}
	// kind waits for the control plane only: every node, workers too, is
	// registered and Ready before a scenario counts them
	if err := c.waitNodesReady(ctx, 1+opts.Workers, 5*time.Minute); err != nil {
		return nil, err
	}
	// a node is Ready before its kube-proxy runs: until then its NodePorts
	// refuse connections (seen for 20 s and more while another cluster was
	// being created)
	if err := c.waitKubeProxy(ctx, 1+opts.Workers, 3*time.Minute); err != nil {
		return nil, err
	}
	return c, nil
}

// kubeadmFailed says whether kind's creation failed in kubeadm's init or
// join (a deadline on a loaded machine), not in what it was given.
func kubeadmFailed(err error) bool {
	m := err.Error()
	return strings.Contains(m, "failed to init node with kubeadm") || strings.Contains(m, "failed to join node with kubeadm")
}

// waitNodesReady waits (bounded) until want nodes are registered and Ready.
func (c *Cluster) waitNodesReady(ctx context.Context, want int, timeout time.Duration) error {
	ready := 0
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		l, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready = 0
		for _, n := range l.Items {
			if NodeReady(&n) {
				ready++
			}
		}
		return ready >= want, nil
	})
	if err != nil {
		return fmt.Errorf("%d of %d nodes Ready after %s: %w", ready, want, timeout, err)
	}
	return nil
}

// waitKubeProxy waits (bounded) until kube-proxy is available on want nodes.
func (c *Cluster) waitKubeProxy(ctx context.Context, want int, timeout time.Duration) error {
	var have int32
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ds, err := c.Clientset.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		have = ds.Status.NumberAvailable
		return ds.Status.ObservedGeneration >= ds.Generation && have >= int32(want) && ds.Status.DesiredNumberScheduled == have, nil
	})
	if err != nil {
		return fmt.Errorf("kube-proxy available on %d of %d nodes after %s: %w", have, want, timeout, err)
	}
	return nil
}

func connect(kubeconfig, name string, appPort int) (*Cluster, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	rc.QPS, rc.Burst = 50, 100
	if err := guardREST(rc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Name: name, Kubeconfig: kubeconfig, REST: rc, Clientset: cs, AppPort: appPort, Managed: true, Kind: true}
	if appPort > 0 {
		c.appSlots = []appSlot{{NodePort: AppNodePort, HostPort: appPort}}
	}
	return c, nil
}

// Open returns an existing cluster aftershock created (see List).
func Open(ctx context.Context, name string, log *slog.Logger) (*Cluster, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !strings.HasPrefix(name, NamePrefix) {
		return nil, fmt.Errorf("open cluster %q: not an aftershock cluster (name does not start with %q)", name, NamePrefix)
	}
	p := provider(log)
	ns, err := p.ListNodes(name)
	if err != nil {
		return nil, fmt.Errorf("open cluster %q: %w", name, err)
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("open cluster %q: no such kind cluster", name)
	}
	port, err := hostPortOf(ctx, ns, AppNodePort)
	if err != nil {
		return nil, fmt.Errorf("open cluster %q: %w", name, err)
	}
	ingressPort, _ := hostPortOf(ctx, ns, IngressNodePort) // 0: an older cluster
	raw, err := p.KubeConfig(name, false)
	if err != nil {
		return nil, fmt.Errorf("open cluster %q: kubeconfig: %w", name, err)
	}
	dir, err := defaultKubeconfigDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	kcfg := filepath.Join(dir, name)
	if err := os.WriteFile(kcfg, []byte(raw), 0o600); err != nil {
		return nil, err
	}
	c, err := connect(kcfg, name, port)
	if err != nil {
		return nil, err
	}
	c.IngressPort = ingressPort
	for _, np := range ExtraAppNodePorts {
		if hp, err := hostPortOf(ctx, ns, int(np)); err == nil { // absent: an older cluster
			c.appSlots = append(c.appSlots, appSlot{NodePort: np, HostPort: hp})
		}
	}
	if err := checkManaged(ctx, c.Clientset); err != nil {
		return nil, fmt.Errorf("open cluster %q: %w", name, err)
	}
	return c, nil
}

// checkManaged makes ownership the label aftershock puts on the nodes of
// the clusters it creates, not a name: every node must carry ManagedLabel.
func checkManaged(ctx context.Context, cs kubernetes.Interface) error {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	if len(nodes.Items) == 0 {
		return errors.New("no nodes")
	}
	for _, n := range nodes.Items {
		if n.Labels[ManagedLabel] != "true" {
			return fmt.Errorf("node %s lacks the label %s=true: not a cluster aftershock created (use --kubeconfig with --allow-foreign-cluster for others)", n.Name, ManagedLabel)
		}
	}
	return nil
}

// hostPortOf finds the host port that publishes nodePort.
func hostPortOf(ctx context.Context, ns []nodes.Node, nodePort int) (int, error) {
	for _, n := range ns {
		out, err := dockerOutput(ctx, "port", n.String(), fmt.Sprintf("%d/tcp", nodePort))
		if err != nil || out == "" {
			continue
		}
		// "127.0.0.1:12345"
		_, p, err := net.SplitHostPort(strings.Fields(out)[0])
		if err != nil {
			continue
		}
		var port int
		if _, err := fmt.Sscan(p, &port); err == nil {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no node publishes NodePort %d", nodePort)
}

// List returns the names of the kind clusters aftershock created.
func List(ctx context.Context) ([]string, error) {
	names, err := provider(nil).List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	var ours []string
	for _, n := range names {
		if strings.HasPrefix(n, NamePrefix) {
			ours = append(ours, n)
		}
	}
	return ours, nil
}

// Delete deletes the kind cluster c (only clusters aftershock created) and
// its kubeconfig file.
func (c *Cluster) Delete(ctx context.Context) error {
	if !c.Managed || !c.Kind {
		return fmt.Errorf("delete cluster %q: not created by aftershock; refusing", c.Name)
	}
	return deleteCluster(c.Name, c.Kubeconfig)
}

// DeleteByName deletes an aftershock kind cluster by name.
func DeleteByName(name string) error {
	if !strings.HasPrefix(name, NamePrefix) {
		return fmt.Errorf("delete cluster %q: not an aftershock cluster; refusing", name)
	}
	dir, err := defaultKubeconfigDir()
	if err != nil {
		return err
	}
	return deleteCluster(name, filepath.Join(dir, name))
}

// deleteCluster deletes a kind cluster and its kubeconfig file.
func deleteCluster(name, kcfg string) error {
	if err := provider(nil).Delete(name, kcfg); err != nil {
		return fmt.Errorf("delete cluster %q: %w", name, err)
	}
	_ = os.Remove(kcfg)
	return removeLeaseFiles(name)
}

// FromKubeconfig opens a cluster aftershock did not create. allow must be
// true: the caller states that the user explicitly allowed it.
func FromKubeconfig(path string, allow bool) (*Cluster, error) {
	if !allow {
		return nil, fmt.Errorf("kubeconfig %s: using a cluster aftershock did not create needs the explicit allow flag", path)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if err := guardREST(rc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	name := rc.Host // named by its current context when the file has one
	if cfg, err := clientcmd.LoadFromFile(path); err == nil && cfg.CurrentContext != "" {
		name = cfg.CurrentContext
	}
	return &Cluster{Name: name, Kubeconfig: path, REST: rc, Clientset: cs}, nil
}

// NodeContainers returns the names of c's node containers (kind clusters).
func (c *Cluster) NodeContainers() ([]string, error) {
	ns, err := provider(nil).ListNodes(c.Name)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.String())
	}
	return out, nil
}

// kindLogger adapts slog to kind's logger.
type kindLogger struct{ l *slog.Logger }

func (k kindLogger) log() *slog.Logger {
	if k.l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return k.l
}
func (k kindLogger) Warn(m string)             { k.log().Warn(m) }
func (k kindLogger) Warnf(f string, a ...any)  { k.log().Warn(fmt.Sprintf(f, a...)) }
func (k kindLogger) Error(m string)            { k.log().Error(m) }
func (k kindLogger) Errorf(f string, a ...any) { k.log().Error(fmt.Sprintf(f, a...)) }
func (k kindLogger) V(l kindlog.Level) kindlog.InfoLogger {
	return kindInfo{k.log(), l}
}

type kindInfo struct {
	l     *slog.Logger
	level kindlog.Level
}

func (k kindInfo) Info(m string)            { k.l.Debug(m, "kindV", int(k.level)) }
func (k kindInfo) Infof(f string, a ...any) { k.l.Debug(fmt.Sprintf(f, a...), "kindV", int(k.level)) }
func (k kindInfo) Enabled() bool            { return k.l.Enabled(context.Background(), slog.LevelDebug) }
