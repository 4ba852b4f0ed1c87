// Command nodenet is the offline pod network of aftershock's kind node image:
// a tiny stand-in for kindnetd, which cannot be built without a registry.
//
// It runs as a DaemonSet (hostNetwork, NET_ADMIN) on every node, watches the
// Nodes and keeps two things true: this node's CNI config (ptp + host-local
// over the node's spec.podCIDR, plus portmap) is written to the CNI config
// directory, and every other node's podCIDR is routed via that node's
// InternalIP. Pods on all nodes can then reach each other and Services.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

func main() {
	cniDir := flag.String("cni-conf-dir", "/etc/cni/net.d", "directory the CNI config is written to")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*cniDir, log); err != nil {
		log.Error("nodenet failed", "err", err)
		os.Exit(1)
	}
}

func run(cniDir string, log *slog.Logger) error {
	nodeName := os.Getenv("NODE_NAME")
	if nodeName == "" {
		return fmt.Errorf("NODE_NAME is not set (downward API spec.nodeName)")
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("in-cluster config: %w", err)
	}
	// kind sets the API server's address inside the node network so that the
	// pod network does not wait for kube-proxy to program the Service VIP.
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		cfg.Host = "https://" + ep
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("clientset: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	r := &reconciler{self: nodeName, cniDir: cniDir, log: log}
	factory := informers.NewSharedInformerFactory(cs, 0)
	inf := factory.Core().V1().Nodes().Informer()
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { r.apply(o.(*corev1.Node)) },
		UpdateFunc: func(_, o any) { r.apply(o.(*corev1.Node)) },
		DeleteFunc: func(o any) {
			if n, ok := o.(*corev1.Node); ok {
				r.remove(n)
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

type reconciler struct {
	self   string
	cniDir string
	log    *slog.Logger
}

func (r *reconciler) apply(n *corev1.Node) {
	if n.Spec.PodCIDR == "" {
		return
	}
	if n.Name == r.self {
		if err := writeCNIConfig(r.cniDir, n.Spec.PodCIDR); err != nil {
			r.log.Error("write CNI config", "err", err)
		}
		return
	}
	ip := internalIP(n)
	if ip == nil {
		return
	}
	_, dst, err := net.ParseCIDR(n.Spec.PodCIDR)
	if err != nil {
		r.log.Error("bad podCIDR", "node", n.Name, "podCIDR", n.Spec.PodCIDR)
		return
	}
	if err := netlink.RouteReplace(&netlink.Route{Dst: dst, Gw: ip}); err != nil {
		r.log.Error("route", "node", n.Name, "dst", dst, "via", ip, "err", err)
		return
	}
}

func (r *reconciler) remove(n *corev1.Node) {
	if n.Name == r.self || n.Spec.PodCIDR == "" {
		return
	}
	if _, dst, err := net.ParseCIDR(n.Spec.PodCIDR); err == nil {
		_ = netlink.RouteDel(&netlink.Route{Dst: dst})
	}
}

func internalIP(n *corev1.Node) net.IP {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip := net.ParseIP(a.Address); ip != nil && ip.To4() != nil {
				return ip
			}
		}
	}
	return nil
}

// conflist is the CNI configuration for this node's pods.
func conflist(podCIDR string) ([]byte, error) {
	cfg := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "aftershock",
		"plugins": []any{
			map[string]any{
				"type":   "ptp",
				"ipMasq": false,
				"mtu":    1500,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"ranges":  []any{[]any{map[string]any{"subnet": podCIDR}}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

func writeCNIConfig(dir, podCIDR string) error {
	b, err := conflist(podCIDR)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "10-aftershock.conflist")
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
