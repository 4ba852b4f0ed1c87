package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/report"
)

// Options configure a run. Zero values are documented per field.
type Options struct {
	// Cluster to run on; nil makes Env create one (see Env).
	Env *Env
	// Out is the report folder; empty writes none.
	Out string
	// Seed overrides the spec's seed when non-zero.
	Seed int64
	// KeepNamespace leaves the scenario's namespace (and app) in place; only
	// its Service goes, so the NodePort is free for the next scenario.
	KeepNamespace bool
	// Pins are victims to hit again, by fault occurrence ID (a replay:
	// aftershock replay pins the victims a result.json records).
	Pins map[string][]report.Victim
	// Alone takes the cluster alone whatever the faults (a replay: pods
	// must be placed as on the quiet cluster of the run it replays).
	Alone bool
	// sideBySide is the verdict a run side by side saw, when this one
	// runs alone to confirm it (Run).
	sideBySide string
	// OnSample, when set, is given every sample the load records, as it is
	// recorded (one call at a time): the raw data behind the report, for a
	// test's own count.
	OnSample func(report.Sample)
	// Progress receives one line per phase; nil discards.
	Progress io.Writer
	Logger   *slog.Logger
}

// Env is where scenarios run: one cluster reused by every scenario of a
// process, and the app image loaded into it once.
type Env struct {
	NodeImage string // for clusters Env creates
	// Cluster, when set, is used as is (its workers and grace period are
	// then what they are; the report says so).
	Cluster *clusters.Cluster
	// AllowForeignCluster permits destructive faults on a cluster
	// aftershock did not create (--kubeconfig with the allow flag).
	AllowForeignCluster bool
	// AllowForeignClusterScoped permits an own app's cluster-scoped objects
	// (app.allowClusterScoped) on a cluster aftershock did not create: a
	// separate, explicit choice, as they are visible to everyone there.
	AllowForeignClusterScoped bool
	// KeepCluster leaves a cluster Env created running at Close.
	KeepCluster bool
	Logger      *slog.Logger
	// ImageRepo is where a cluster aftershock did not create pulls the
	// aftershock image from (the sample app's and the load pods' image):
	// REPO/aftershock:TAG, clusters.AppImageIn (`aftershock image --push`).
	ImageRepo string
	// IngressAddress (127.0.0.1:PORT, e.g. a kubectl port-forward) reaches
	// the Ingress controller of a cluster aftershock did not create, for
	// load.via ingress; IngressClass is its class ("" = the default class).
	IngressAddress, IngressClass string

	mu      sync.Mutex
	created bool
	grace   time.Duration // the node-monitor-grace-period of the cluster Env created
	image   *clusters.AppImage
}

// agrees refuses a scenario whose cluster settings the cluster in use does
// not have: nothing in a spec is silently ignored.
func (e *Env) agrees(ctx context.Context, s *Spec) error {
	field := func(f string) string {
		if s.File == "" {
			return f
		}
		return s.File + ": " + f
	}
	if g := s.Cluster.NodeMonitorGracePeriod; g > 0 {
		have, err := e.Cluster.NodeMonitorGracePeriod(ctx)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", field("cluster.nodeMonitorGracePeriod"), g, err)
		}
		if have != g {
			return fmt.Errorf("%s: %s: the cluster in use has %s (scenarios sharing a cluster must agree; run this one on its own)", field("cluster.nodeMonitorGracePeriod"), g, have)
		}
	}
	if !e.Cluster.Managed {
		if err := e.foreignAgrees(s, field); err != nil {
			return err
		}
	}
	if s.Cluster.explicitWorkers {
		n, err := e.Cluster.Workers(ctx)
		if err != nil {
			return err
		}
		if n != s.Cluster.Workers {
			return fmt.Errorf("%s: %d: the cluster in use has %d workers (scenarios sharing a cluster must agree; run this one on its own)", field("cluster.workers"), s.Cluster.Workers, n)
		}
	}
	return nil
}

// foreignAgrees refuses, before anything is deployed, what a cluster
// aftershock did not create cannot do: no NodePort is published on this
// machine, no node is a Docker container, its Ingress controller is not
// aftershock's to hurt.
func (e *Env) foreignAgrees(s *Spec, field func(string) string) error {
	name := e.Cluster.Name
	var errs []error
	switch s.Load.Via {
	case ViaNodePort:
		errs = append(errs, fmt.Errorf("%s: %s: cluster %s was not created by aftershock and publishes no NodePort on 127.0.0.1: use load.via inCluster, or ingress with --ingress-address", field("load.via"), s.Load.Via, name))
	case ViaIngress:
		if e.IngressAddress == "" {
			errs = append(errs, fmt.Errorf("%s: %s: cluster %s was not created by aftershock: give its Ingress controller's address on this machine with --ingress-address 127.0.0.1:PORT (e.g. a kubectl port-forward)", field("load.via"), s.Load.Via, name))
		}
	}
	for i, f := range s.Faults {
		if faults.NeedsKind(f.Type) {
			errs = append(errs, fmt.Errorf("%s: %s: needs a kind cluster aftershock created (it acts through the nodes' Docker containers); on cluster %s only %s work", field(fmt.Sprintf("faults[%d].type", i)), f.Type, name, strings.Join(faults.APIOnly(), " and ")))
		}
		if f.TargetNamespace == ingress.Namespace {
			errs = append(errs, fmt.Errorf("%s: true: cluster %s's Ingress controller was not installed by aftershock; it is not a fault target", field(fmt.Sprintf("faults[%d].target.ingress", i)), name))
		}
	}
	if s.App.Own != nil && s.App.Own.AllowClusterScoped && !e.AllowForeignClusterScoped {
		errs = append(errs, fmt.Errorf("%s: true: cluster %s was not created by aftershock; creating cluster-scoped objects there needs the explicit flag --allow-foreign-cluster-scoped (aftershock creates them only when absent and deletes only what it created)", field("app.allowClusterScoped"), name))
	}
	if needsImage(s) && e.ImageRepo == "" {
		what := "the sample app"
		if s.App.Own != nil {
			what = "the load pods"
		}
		errs = append(errs, fmt.Errorf("cluster %s was not created by aftershock, so nothing can be loaded into its nodes: %s run(s) the aftershock image, which its nodes must pull: push it with `aftershock image --image-repo REPO --push` and run with --image-repo REPO", name, what))
	}
	return errors.Join(errs...)
}

// needsImage reports whether a scenario runs the aftershock executable's
// image in the cluster: as the sample app, or as load pods.
func needsImage(s *Spec) bool { return s.App.Own == nil || s.Load.Via == ViaInCluster }

// GracePeriod is the node-monitor-grace-period of clusters Env creates: short
// enough that node-loss scenarios fit in a test (Kubernetes' default is 40s).
const GracePeriod = clusters.ShortNodeMonitorGracePeriod

// ensure returns the cluster, creating it on first use.
func (e *Env) ensure(ctx context.Context, s *Spec, progress io.Writer) (*clusters.Cluster, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Cluster == nil {
		if e.NodeImage == "" {
			return nil, errors.New("no cluster and no node image to create one with")
		}
		grace := GracePeriod
		if s.Cluster.NodeMonitorGracePeriod > 0 {
			grace = s.Cluster.NodeMonitorGracePeriod
		}
		fmt.Fprintf(progress, "cluster: creating 1 control plane + %d workers from %s (node-monitor-grace-period %s) ...\n", s.Cluster.Workers, e.NodeImage, grace)
		start := time.Now()
		c, err := clusters.Create(ctx, clusters.Options{NodeImage: e.NodeImage, Workers: s.Cluster.Workers, NodeMonitorGracePeriod: grace, Logger: e.Logger})
		if err != nil {
			return nil, err
		}
		e.grace = grace
		fmt.Fprintf(progress, "cluster: %s ready in %s (app port 127.0.0.1:%d)\n", c.Name, time.Since(start).Round(100*time.Millisecond), c.AppPort)
		e.Cluster, e.created = c, true
	}
	if err := e.agrees(ctx, s); err != nil {
		return nil, err
	}
	return e.Cluster, nil
}

// ensureImage loads the aftershock image into c's nodes on first use (or,
// on a cluster aftershock did not create, names the one its nodes pull).
// It runs under the scenario's lease: never while another scenario stops
// or pauses a node.
func (e *Env) ensureImage(ctx context.Context, s *Spec, c *clusters.Cluster, progress io.Writer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.image == nil && needsImage(s) && !c.Managed {
		ref, err := clusters.AppImageIn(e.ImageRepo)
		if err != nil {
			return err
		}
		fmt.Fprintf(progress, "cluster %s: not created by aftershock; its nodes pull %s (nothing is loaded into them)\n", c.Name, ref)
		e.image = &clusters.AppImage{Ref: ref}
	}
	if e.image == nil && needsImage(s) {
		// the sample app and the load pods are the aftershock executable
		img, err := c.LoadAppImage(ctx)
		if err != nil {
			return err
		}
		e.image = &img
	}
	return nil
}

// Close deletes the cluster Env created, unless KeepCluster.
func (e *Env) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Cluster == nil || !e.created || e.KeepCluster {
		return nil
	}
	err := e.Cluster.Delete(ctx)
	e.Cluster, e.created, e.image = nil, false, nil
	return err
}
