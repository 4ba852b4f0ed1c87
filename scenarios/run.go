package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/loadgen"
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
	if e.image == nil && needsImage(s) && !e.Cluster.Managed {
		ref, err := clusters.AppImageIn(e.ImageRepo)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "cluster %s: not created by aftershock; its nodes pull %s (nothing is loaded into them)\n", e.Cluster.Name, ref)
		e.image = &clusters.AppImage{Ref: ref}
	}
	if e.image == nil && needsImage(s) {
		// the sample app and the load pods are the aftershock executable
		dir, err := os.MkdirTemp("", "aftershock-app-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		img, err := clusters.BuildAppImage(ctx, dir)
		if err != nil {
			return nil, err
		}
		if err := e.Cluster.LoadImage(ctx, img); err != nil {
			return nil, err
		}
		e.image = &img
	}
	return e.Cluster, nil
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

func (s *Spec) appArgs() []string {
	a := s.App
	var args []string
	if a.Latency > 0 {
		args = append(args, "-latency="+a.Latency.String())
	}
	if a.ErrorRate > 0 {
		args = append(args, fmt.Sprintf("-error-rate=%g", a.ErrorRate))
	}
	if a.NoGracefulShutdown {
		args = append(args, "-graceful=false")
	}
	if a.ShutdownDelay > 0 {
		args = append(args, "-shutdown-delay="+a.ShutdownDelay.String())
	}
	return args
}

// throughIngress installs the Ingress controller (once per cluster; scaled
// to the scenario's replicas), routes a host to the app's Service, waits
// until traffic through it reaches every pod, and aims lo at it.
func (d *deployed) throughIngress(ctx context.Context, e *Env, c *clusters.Cluster, s *Spec, lo *loadgen.Options, progress io.Writer, say func(string, ...any)) (string, error) {
	t0 := time.Now()
	var (
		ctlURL   string
		describe func(host string) string
		class    = ingress.Class
	)
	if c.Managed {
		img, err := ingress.EnsureImage(ctx, progress)
		if err != nil {
			return "", err
		}
		if err := c.LoadImage(ctx, img); err != nil {
			return "", err
		}
		ctl, err := ingress.Install(ctx, c, img.Ref, int32(s.Load.IngressReplicas))
		if err != nil {
			return "", err
		}
		ctlURL, describe = ctl.URL, ctl.Describe
	} else {
		// the cluster's own controller, reached on this machine at the
		// address the user gave (loadgen refuses anything but loopback)
		ctlURL, class = "http://"+e.IngressAddress+"/", e.IngressClass
		describe = func(host string) string {
			cl := "the default IngressClass"
			if class != "" {
				cl = "IngressClass " + class
			}
			return fmt.Sprintf("the cluster's own controller (%s), host %s, from this host to %s", cl, host, ctlURL)
		}
	}
	host, err := ingress.Route(ctx, c, d.ns, d.obs.Service, d.svcPort, class)
	if err != nil {
		return "", err
	}
	req := d.request
	req.Header = req.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Host", host)
	probe, closeProbe, err := d.probe(ctlURL, req, nil)
	if err != nil {
		return "", err
	}
	defer closeProbe()
	if !d.attribution.None {
		if _, err := c.WaitTrafficReachesAllVia(ctx, d.ns, d.obs.Selector, probe, 2*time.Minute, 20000); err != nil {
			return "", fmt.Errorf("through the Ingress (host %s): %w", host, err)
		}
	}
	// every controller replica must know the route, not only the first to
	// answer: a run of answers on new connections (kube-proxy picks a
	// replica per connection; 30 in a row miss one of 5 with p < 0.002)
	const inARow = 30
	deadline := time.Now().Add(time.Minute)
	for ok := 0; ok < inARow; {
		if _, err := probe(ctx); err == nil {
			ok++
			continue
		} else if time.Now().After(deadline) {
			return "", fmt.Errorf("through the Ingress (host %s): not %d answers in a row within a minute: %w", host, inARow, err)
		}
		ok = 0
		time.Sleep(100 * time.Millisecond)
	}
	lo.URL, lo.Request = ctlURL, req
	say("ingress: %s ready in %s", describe(host), time.Since(t0).Round(10*time.Millisecond))
	return fmt.Sprintf("%s: %s, to the Service %s:%d", ViaIngress, describe(host), d.obs.Service, d.svcPort), nil
}

// deployed is the app under test as the runner aims at it.
type deployed struct {
	ns          string
	obs         faults.App
	appPort     int   // container port network faults act on
	svcPort     int32 // the Service's port (in-cluster load targets it)
	request     loadgen.Request
	attribution loadgen.Attribution
	check       clusters.TrafficCheck // readiness through traffic (ReadyPods when unattributed)
	replicas    int32
	info        map[string]string
}

// deploy puts the scenario's app (the sample app or the user's) into ns and
// waits until it serves: traffic on every ready pod, or, when responses
// name no pod, every endpoint ready. Cleanup is the caller's (cleanupApp).
func (e *Env) deploy(ctx context.Context, c *clusters.Cluster, s *Spec, ns string, say func(string, ...any)) (*deployed, error) {
	// an image the nodes cannot get fails the run at once, named, instead
	// of a rollout timeout minutes later
	wctx, stop := c.WatchPullFailures(ctx, ns)
	defer stop()
	d, err := e.deployIn(wctx, c, s, ns, say)
	if perr := clusters.PullFailure(ctx, wctx); err != nil && perr != nil {
		return nil, fmt.Errorf("deploy app: %w", perr)
	}
	return d, err
}

func (e *Env) deployIn(ctx context.Context, c *clusters.Cluster, s *Spec, ns string, say func(string, ...any)) (*deployed, error) {
	d := &deployed{ns: ns, request: s.App.Request, attribution: s.App.Attribution, info: map[string]string{"attribution": s.App.Attribution.String()}}
	if s.App.Own == nil {
		app := clusters.App{
			Namespace: ns, Image: e.image.Ref, Replicas: s.App.Replicas, Args: s.appArgs(),
			NoReadinessProbe: s.App.NoReadinessProbe, PDBMinAvailable: s.App.PDBMinAvailable,
			TolerationSeconds: s.App.TolerationSeconds, TerminationGracePeriod: s.App.TerminationGracePeriod,
			Foreign: !c.Managed,
		}
		say("deploying %d replicas in namespace %s", app.Replicas, ns)
		if err := c.DeployApp(ctx, app); err != nil {
			return nil, err
		}
		d.obs, d.appPort, d.replicas, d.svcPort = faults.SampleApp(), faults.AppPort, app.Replicas, clusters.AppServicePort
		d.info["app"] = strings.TrimSpace(fmt.Sprintf("sample app, %d replicas %s", app.Replicas, strings.Join(app.Args, " ")))
	} else {
		o := s.App.Own
		if len(o.Images) > 0 && !c.Managed {
			say("app.images not loaded: cluster %s was not created by aftershock; its nodes pull %s", c.Name, strings.Join(o.Images, ", "))
		} else if len(o.Images) > 0 {
			say("loading %d image(s) into the nodes: %s", len(o.Images), strings.Join(o.Images, ", "))
			dir, err := os.MkdirTemp("", "aftershock-images-")
			if err != nil {
				return nil, err
			}
			err = c.LoadImages(ctx, o.Images, dir)
			os.RemoveAll(dir)
			if err != nil {
				return nil, fmt.Errorf("%s: app.images: %w", s.File, err)
			}
		}
		// rendered again for its namespace: charts name {{ .Release.Namespace }}
		objs, err := appsource.Render(o.Source, ns)
		if err != nil {
			return nil, fmt.Errorf("%s: app: %w", s.File, err)
		}
		say("deploying the app (%d objects) in namespace %s", len(objs), ns)
		t, err := c.DeployUserApp(ctx, clusters.UserApp{
			Namespace: ns, Objects: objs, Service: o.Service, Port: o.Port, Images: o.Images, AllowClusterScoped: o.AllowClusterScoped,
			Foreign: !c.Managed,
		})
		if err != nil {
			return nil, err
		}
		var ws []string
		for _, w := range t.Workloads {
			ws = append(ws, w.String())
		}
		d.obs = faults.App{Service: t.Service, Selector: t.Selector, Workloads: ws}
		d.appPort, d.replicas, d.svcPort = int(t.ContainerPort), t.Replicas(), t.Port
		d.info["app"] = t.Info
	}
	start := time.Now()
	if d.attribution.None {
		if err := c.WaitEndpointsReady(ctx, ns, d.obs.Service, int(d.replicas), 2*time.Minute); err != nil {
			return nil, err
		}
		pods, err := c.ReadyPods(ctx, ns, d.obs.Selector)
		if err != nil {
			return nil, err
		}
		d.check = clusters.TrafficCheck{Pods: pods, Took: time.Since(start)}
		d.info["evenness"] = "not measured: responses name no pod (app.attribution none)"
		return d, nil
	}
	var (
		raw    string
		client *http.Client
		err    error
	)
	if c.Managed {
		raw, err = c.AppURL()
	} else {
		// no published port: through the API server's service proxy, which
		// picks a ready endpoint per request
		raw, client, err = c.ServiceProxy(ns, d.obs.Service, d.svcPort)
	}
	if err != nil {
		return nil, err
	}
	probe, closeProbe, err := d.probe(raw, d.request, client)
	if err != nil {
		return nil, err
	}
	defer closeProbe()
	d.check, err = c.WaitTrafficReachesAllVia(ctx, ns, d.obs.Selector, probe, 2*time.Minute, 20000)
	if err != nil {
		return nil, fmt.Errorf("%w (attribution: %s)", err, d.attribution)
	}
	return d, nil
}

// probe sends the scenario's request on a new connection (with client
// when not nil) and reads the pod with the scenario's attribution.
func (d *deployed) probe(raw string, request loadgen.Request, client *http.Client) (clusters.Probe, func(), error) {
	base, err := url.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	}
	return func(ctx context.Context) (string, error) {
		req, err := request.HTTP(base)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req.WithContext(ctx))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, loadgen.MaxAttributionBody))
		if resp.StatusCode >= 400 {
			return "", fmt.Errorf("status %d", resp.StatusCode)
		}
		pod, _ := d.attribution.Pod(resp.Header, body)
		return pod, nil
	}, client.CloseIdleConnections, nil
}

// cleanupApp removes the scenario's namespace (or, kept, only its Services
// to free the NodePort) and any cluster-scoped objects of the app.
func cleanupApp(ctx context.Context, c *clusters.Cluster, s *Spec, ns string, keep bool, say func(string, ...any)) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer cancel()
	var errs []error
	if keep {
		errs = append(errs, c.DeleteServices(dctx, ns))
		say("namespace %s kept (its Services are deleted to free the NodePort)", ns)
	} else {
		errs = append(errs, c.DeleteNamespace(dctx, ns, 2*time.Minute))
	}
	if s.App.Own != nil && s.App.Own.AllowClusterScoped && !keep {
		objs := s.App.Own.Objects
		if r, err := appsource.Render(s.App.Own.Source, ns); err == nil {
			objs = r // as deployed: names may hold the namespace
		}
		errs = append(errs, c.DeleteClusterScoped(dctx, ns, objs))
	}
	return errors.Join(errs...)
}

// Run runs one scenario end to end and returns its result (also written to
// opts.Out). Every fault is reverted before Run returns, whatever happens.
func Run(ctx context.Context, s *Spec, opts Options) (res *report.Result, err error) {
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	say := func(format string, a ...any) {
		fmt.Fprintf(progress, "%s: "+format+"\n", append([]any{s.Name}, a...)...)
	}
	if opts.Env == nil {
		return nil, errors.New("run: no Env")
	}
	seed := s.Seed
	if opts.Seed != 0 {
		seed = opts.Seed
	}
	setupStart := time.Now()
	created := opts.Env.Cluster == nil
	c, err := opts.Env.ensure(ctx, s, progress)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: cluster: %w", s.Name, err)
	}
	var waited string
	if !c.Leased() {
		// side by side with other scenarios, or alone (Spec.Alone)
		alone, why := s.Alone()
		l, err := c.Lease(ctx, alone, func() {
			if alone {
				say("waiting to have cluster %s alone (%s) until the scenarios on it end", c.Name, why)
			} else {
				say("waiting for cluster %s: a scenario that takes it alone, or every published NodePort, is in use", c.Name)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		defer l.Release()
		c = l.View
		setupStart = setupStart.Add(l.Waited) // setup is ours, not the wait
		if l.Waited >= time.Second {
			waited = l.Waited.Round(100 * time.Millisecond).String()
			say("cluster %s: ours after waiting %s", c.Name, waited)
		}
	}
	ns := fmt.Sprintf("as-%s-%s", s.Name, faults.NewRunID()[:6])
	if len(ns) > 63 {
		ns = ns[:63]
	}
	defer func() { err = errors.Join(err, cleanupApp(ctx, c, s, ns, opts.KeepNamespace, say)) }()
	app, err := opts.Env.deploy(ctx, c, s, ns, say)
	if err != nil {
		return nil, err
	}
	check := app.check
	setup := time.Since(setupStart)
	setupNote := setup.Round(100 * time.Millisecond).String()
	if created {
		setupNote += " (includes creating the cluster)"
	}
	if app.attribution.None {
		say("app ready: %d pods, every endpoint ready %s after rollout; setup %s", len(check.Pods), check.Took.Round(10*time.Millisecond), setup.Round(100*time.Millisecond))
	} else {
		say("app ready: traffic reached all %d pods %s after rollout (%d requests); setup %s", len(check.Pods), check.Took.Round(10*time.Millisecond), check.Requests, setup.Round(100*time.Millisecond))
	}

	for _, f := range s.Faults {
		if f.UsesAgent() {
			// the agent is the whole executable: copy it before the clock starts
			if err := faults.StageAgent(ctx, c); err != nil {
				return nil, err
			}
			break
		}
	}

	tl := faults.NewTimeline(func(e report.Event) {
		if e.Fault != "" {
			say("%s %s %s", e.Fault, e.Kind, e.Detail)
		}
	})
	obs, err := faults.Observe(ctx, c, ns, app.obs, tl)
	if err != nil {
		return nil, err
	}
	defer obs.Stop()

	reverts := &faults.Reverts{}
	// every fault is reverted: success, failure, timeout, panic, Ctrl-C
	defer func() {
		if rerr := reverts.RevertAll(); rerr != nil {
			err = errors.Join(err, rerr)
			say("REVERT FAILED: %v (run `aftershock clean`)", rerr)
		}
	}()
	fenv := &faults.Env{Cluster: c, Namespace: ns, Selector: app.obs.Selector, AppPort: app.appPort, Rand: rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		Log: opts.Logger, AllowForeignCluster: opts.Env.AllowForeignCluster}
	if s.Load.Via == ViaIngress && c.Managed {
		fenv.AllowNamespaces = []string{ingress.Namespace} // aftershock installed it: faults on the path itself
	}
	runner := &faults.Runner{Env: fenv, Reverts: reverts, Timeline: tl, Pins: opts.Pins}
	plan := faults.Plan(s.Faults)

	var url string // the host path's; the others set their own
	if s.Load.Via == ViaNodePort {
		if url, err = c.AppURL(); err != nil {
			return nil, err
		}
	}
	lo := loadgen.Options{
		URL: url, Rate: s.Load.Rate, RampFrom: s.Load.RampFrom, Duration: s.Load.Duration,
		KeepAlive: s.Load.KeepAlive, Connections: s.Load.Connections, Timeout: s.Load.Timeout, Request: app.request, Attribution: app.attribution,
	}
	target := app.request.URL(mustURL(url))
	path := fmt.Sprintf("%s: from this host to %s (the Service's NodePort, published on 127.0.0.1)", ViaNodePort, target)
	var pods *loadgen.LoadPods
	var warm string // the load sources' warm-up, for the report
	if s.Load.Via == ViaIngress {
		p, err := app.throughIngress(ctx, opts.Env, c, s, &lo, progress, say)
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		path, target = p, lo.Request.URL(mustURL(lo.URL))
	}
	if s.Load.Via == ViaInCluster {
		svcURL := fmt.Sprintf("http://%s.%s.svc.cluster.local:%d/", app.obs.Service, ns, app.svcPort)
		target = app.request.URL(mustURL(svcURL))
		pl := loadgen.PodLoad{Client: c.Clientset, Namespace: ns, Image: opts.Env.image.Ref, Pods: s.Load.Pods, Spec: loadgen.NewPodSpec(lo, svcURL)}
		where := "spread over the nodes"
		if faults.AnyNodeLevel(s.Faults) {
			// a node fault must not take a load pod with it
			pl.NodeSelector = map[string]string{"node-role.kubernetes.io/control-plane": ""}
			where = "on the control-plane node (node faults planned)"
		}
		t0 := time.Now()
		wctx, stop := c.WatchPullFailures(ctx, ns) // the load pods' image too
		pods, err = pl.Prepare(wctx, 2*time.Minute)
		if perr := clusters.PullFailure(ctx, wctx); err != nil && perr != nil {
			err = fmt.Errorf("load pods: %w", perr)
		}
		stop()
		if err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		defer pods.Delete(context.WithoutCancel(ctx))
		var on []string
		for _, n := range pods.Names() {
			on = append(on, n+"@"+pods.Node(n))
		}
		path = fmt.Sprintf("%s: %d load pods %s (%s) to %s (the Service's ClusterIP)", ViaInCluster, s.Load.Pods, where, strings.Join(on, ", "), target)
		say("%d load pods ready in %s %s", s.Load.Pods, time.Since(t0).Round(10*time.Millisecond), where)
		if warm, err = warmUp(ctx, pods, say); err != nil {
			return nil, fmt.Errorf("scenario %s: the load path %s is not ready, nothing was measured (the harness's path, not the app): %w", s.Name, path, err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	if pods != nil {
		start = start.Add(time.Second) // every load pod starts at this instant
		if err := pods.Start(ctx, start); err != nil {
			return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
	}
	rec := report.NewRecorder(start, s.Load.Window)
	rec.Limit(s.Load.Duration + lo.Timeout + time.Minute) // as long as the load can last
	tl.Add(report.Event{At: start, Kind: "phase", Detail: "load started"})
	say("load: %d/s for %s, keep-alive %v, via %s; %d fault(s) scheduled", s.Load.Rate, s.Load.Duration, s.Load.KeepAlive, s.Load.Via, len(plan))

	var (
		wg        sync.WaitGroup
		faultsOut []report.Fault
		faultErr  error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			// a bug in a fault must not skip RevertAll (deferred above)
			if p := recover(); p != nil {
				faultErr = fmt.Errorf("fault schedule: panic: %v", p)
				cancel()
			}
		}()
		faultsOut, faultErr = runner.Run(runCtx, start, plan)
		if faultErr != nil && runCtx.Err() == nil {
			cancel() // a fault failed: stop the load too
		}
	}()
	var mu sync.Mutex
	sink := func(smp report.Sample) {
		mu.Lock()
		rec.Add(smp)
		mu.Unlock()
	}
	var (
		stats    loadgen.Stats
		loadErr  error
		lostLoad []string
		sources  []report.LoadSource
	)
	if pods == nil {
		stats, loadErr = loadgen.Attack(runCtx, lo, sink)
	} else {
		// bounded: the attack's duration, one request timeout, and a margin
		sctx, scancel := context.WithDeadline(runCtx, start.Add(s.Load.Duration+lo.Timeout+time.Minute))
		outcomes := pods.Stream(sctx, sink)
		scancel()
		stats.Elapsed = time.Since(start)
		for _, o := range outcomes {
			stats.Requests += uint64(o.Samples)
			sources = append(sources, report.LoadSource{Name: o.Pod, Node: o.Node, Rate: o.Rate, Samples: o.Samples, Sent: o.Sent, Complete: o.Complete})
			if !o.Complete {
				lostLoad = append(lostLoad, fmt.Sprintf("load pod %s (node %s): %s", o.Pod, o.Node, o.Lost))
			}
		}
		if len(lostLoad) == len(outcomes) {
			stats.Elapsed = min(stats.Elapsed, s.Load.Duration)
		} else {
			stats.Elapsed = s.Load.Duration
		}
		if err := runCtx.Err(); err != nil && ctx.Err() != nil {
			loadErr = fmt.Errorf("load stopped early: %w", ctx.Err())
		}
	}
	end := time.Now()
	wg.Wait()
	tl.Add(report.Event{At: end, Kind: "phase", Detail: fmt.Sprintf("load stopped: %d requests at %.0f/s", stats.Requests, stats.Rate())})
	if faultErr != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, faultErr)
	}
	if loadErr != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, loadErr)
	}
	if err := reverts.RevertAll(); err != nil {
		return nil, err
	}
	for i := range faultsOut {
		if d := obs.ClusterRecovery(faultsOut[i].Inject, end); d != nil {
			cr := report.Duration(*d)
			faultsOut[i].ClusterRecovery = &cr
		}
	}
	info := map[string]string{
		"setup":     setupNote,
		"load":      fmt.Sprintf("%d/s for %s, keep-alive %v (achieved %.0f/s); %s %s", s.Load.Rate, s.Load.Duration, s.Load.KeepAlive, stats.Rate(), methodOf(app.request), target),
		"namespace": ns,
	}
	if warm != "" {
		info["warm-up (not counted)"] = warm
	}
	if waited != "" {
		info["waited for the cluster (not counted)"] = waited
	}
	if before, after := rec.Dropped(); before+after > 0 {
		info["samples dropped"] = fmt.Sprintf("%d stamped before the load started, %d after it could have ended (not counted)", before, after)
	}
	if !app.attribution.None {
		info["traffic on all pods after"] = check.Took.Round(10*time.Millisecond).String() + " past rollout"
	}
	for k, v := range app.info {
		info[k] = v
	}
	if !c.Managed {
		img := "none of aftershock's"
		if opts.Env.image != nil && needsImage(s) {
			img = opts.Env.image.Ref
		}
		info["cluster"] = fmt.Sprintf("not created by aftershock (--kubeconfig, allowed): nothing loaded into its nodes; aftershock image pulled: %s", img)
	}
	if opts.Env.created {
		info["node-monitor-grace-period"] = opts.Env.grace.String() + " (Kubernetes' default is 40s; shorter so node loss is detected within the test)"
	}
	kept, _ := RedactedSource(s.Source)
	res = report.Analyze(rec, report.Input{
		Scenario: s.Name, Spec: string(kept), SpecFile: absPath(s.File), Seed: seed, NodeImage: opts.Env.NodeImage, Cluster: c.Name, Info: info,
		Start: start, End: end, SLO: s.SLO, Faults: faultsOut, Timeline: tl.Events(), ReadyPods: check.Pods,
		Unstable: obs.UnstableSpans(start, end), Unattributed: app.attribution.None, Expect: s.Expectation(),
		Planned: s.Load.Planned(), Path: path, LostLoad: lostLoad, LoadSources: sources,
	})
	say("verdict %s: %s", strings.ToUpper(string(res.Verdict)), strings.Join(res.Reasons, "; "))
	if opts.Out != "" {
		if err := report.WriteDir(opts.Out, res); err != nil {
			return res, err
		}
		say("report: %s", opts.Out)
	}
	return res, nil
}

// absPath is file made absolute ("" stays "").
func absPath(file string) string {
	if file == "" {
		return ""
	}
	if a, err := filepath.Abs(file); err == nil {
		return a
	}
	return file
}

func methodOf(r loadgen.Request) string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{}
	}
	return u
}

// warmUp has every load pod prove its path to the Service with a run of
// successes before the measured load starts (right after a rollout, Service
// DNS and routes from the load pods' nodes can lag behind the app); it says
// and returns what each took.
func warmUp(ctx context.Context, pods *loadgen.LoadPods, say func(string, ...any)) (string, error) {
	t0 := time.Now()
	ws, err := pods.WarmUp(ctx, loadgen.DefaultWarmUpRun, loadgen.DefaultWarmUpWithin)
	var parts []string
	for _, w := range ws {
		parts = append(parts, w.String())
	}
	out := fmt.Sprintf("%s in all, %d successes in a row per load pod: %s", time.Since(t0).Round(10*time.Millisecond), loadgen.DefaultWarmUpRun, strings.Join(parts, "; "))
	say("warm-up: %s", out)
	return out, err
}
