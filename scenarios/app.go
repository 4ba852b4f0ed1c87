package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/clusters/metrics"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/loadgen"
)

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
	if a.ShutdownDelay != DefaultShutdownDelay {
		args = append(args, "-shutdown-delay="+a.ShutdownDelay.String())
	}
	if a.StartupDelay > 0 {
		args = append(args, "-startup-delay="+a.StartupDelay.String())
	}
	if a.CPUPerRequest > 0 {
		args = append(args, "-cpu-per-request="+a.CPUPerRequest.String())
	}
	return args
}

// deployed is the app under test as the runner aims at it.
type deployed struct {
	ns          string
	obs         faults.App
	appPort     int   // container port network faults act on
	svcPort     int32 // the Service's port (in-cluster load targets it)
	request     loadgen.Request
	attribution loadgen.Attribution
	grpc        loadgen.GRPC          // a user's gRPC service: its method, descriptors read (readyGRPC)
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
	if err := appOf(s).deploy(ctx, e, c, s, d, say); err != nil {
		return nil, err
	}
	start := time.Now()
	if s.Load.Protocol == ProtocolGRPC && s.App.Own != nil {
		return d, d.readyGRPC(ctx, c, s, start)
	}
	if s.App.AutoAttribution {
		reqs := []loadgen.Request{d.request}
		for _, p := range s.App.probePaths {
			if p != d.request.Path {
				q := d.request
				q.Path = p
				reqs = append(reqs, q)
			}
		}
		if err := d.findAttribution(ctx, c, reqs); err != nil {
			return nil, err
		}
	}
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
		if s.App.AutoAttribution {
			d.info["evenness"] = "not measured: responses name no pod (app.attribution auto found none)"
		}
		return d, nil
	}
	raw, client, err := d.appURL(c)
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

// readyGRPC readies a user's gRPC service: once every endpoint is ready,
// the method's descriptors from its reflection service when the load needs
// them (request data, a response field), then calls on new connections
// until every ready pod has answered. On a cluster aftershock did not
// create (no published port to call through) every endpoint ready is
// enough.
func (d *deployed) readyGRPC(ctx context.Context, c *clusters.Cluster, s *Spec, start time.Time) error {
	a := d.attribution
	d.grpc = loadgen.GRPC{Method: s.Load.GRPCMethod, Data: s.Load.GRPCData, PodHeader: a.GRPCHeader, Field: a.GRPCField, Balancer: s.Load.Balancer}
	if err := c.WaitEndpointsReady(ctx, d.ns, d.obs.Service, int(d.replicas), 2*time.Minute); err != nil {
		return err
	}
	pods, err := c.ReadyPods(ctx, d.ns, d.obs.Selector)
	if err != nil {
		return err
	}
	d.check = clusters.TrafficCheck{Pods: pods, Took: time.Since(start)}
	if a.None {
		d.info["evenness"] = "not measured: gRPC answers name no pod (app.attribution none)"
	}
	if !c.Managed {
		return nil // the load pods read the descriptors themselves
	}
	raw, _, err := d.appURL(c)
	if err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if d.grpc, err = resolveGRPC(ctx, u.Host, d.grpc); err != nil {
		return err
	}
	if a.None {
		return nil
	}
	probe, _, _ := d.probe(raw, d.request, nil)
	if d.check, err = c.WaitTrafficReachesAllVia(ctx, d.ns, d.obs.Selector, probe, 2*time.Minute, 20000); err != nil {
		return fmt.Errorf("%w (attribution: %s)", err, a)
	}
	return nil
}

// resolveGRPC reads g's descriptors from the service at target, trying
// again for up to 30 s while it does not answer (a NodePort just made
// resets until every kube-proxy has the endpoints); what the service
// answers wrong fails at once.
func resolveGRPC(ctx context.Context, target string, g loadgen.GRPC) (loadgen.GRPC, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := g.Resolve(ctx, target)
		if err == nil {
			return r, nil
		}
		if !loadgen.Unanswered(err) || time.Now().After(deadline) || ctx.Err() != nil {
			return g, fmt.Errorf("load.grpc: %w", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// appURL is where the runner reaches the app before load: its published
// NodePort, or on a cluster aftershock did not create (no published port)
// the API server's service proxy, which picks a ready endpoint per request
// (client is then the proxy's; nil otherwise).
func (d *deployed) appURL(c *clusters.Cluster) (raw string, client *http.Client, err error) {
	if c.Managed {
		raw, err = c.AppURL()
		return raw, nil, err
	}
	return c.ServiceProxy(d.ns, d.obs.Service, d.svcPort)
}

// autoProbes is how many responses attribution: auto looks at.
const autoProbes = 12

// findAttribution (attribution: auto) gets autoProbes responses to each
// of reqs in turn, each on a new connection, once every endpoint is ready,
// and sets d.attribution to where the responses name a ready pod
// (loadgen.FindAttribution), and d.request to the request that showed it;
// or none.
func (d *deployed) findAttribution(ctx context.Context, c *clusters.Cluster, reqs []loadgen.Request) error {
	if err := c.WaitEndpointsReady(ctx, d.ns, d.obs.Service, int(d.replicas), 2*time.Minute); err != nil {
		return err
	}
	pods, err := c.ReadyPods(ctx, d.ns, d.obs.Selector)
	if err != nil {
		return err
	}
	raw, client, err := d.appURL(c)
	if err != nil {
		return err
	}
	base, err := url.Parse(raw)
	if err != nil {
		return err
	}
	client = probeClient(client)
	var why []string
	for _, req := range reqs {
		rs, failed, err := probeResponses(ctx, client, base, req)
		if err != nil {
			return err
		}
		a, ok := loadgen.FindAttribution(pods, rs)
		if ok {
			d.attribution, d.request = a, req
			d.info["attribution"] = fmt.Sprintf("auto: %s (found in %d probe responses to %s", a, len(rs), req.Path)
			if len(failed) > 0 {
				d.info["attribution"] += fmt.Sprintf("; %d more failed and were sent again, first: %s", len(failed), failed[0])
			}
			if len(why) > 0 {
				d.info["attribution"] += "; not before: " + strings.Join(why, "; ")
			}
			d.info["attribution"] += ")"
			return nil
		}
		w := fmt.Sprintf("%s: the name of the pod is in no header, JSON field or text line of %d probe responses", req.Path, len(rs))
		if len(rs) == 0 && len(failed) > 0 {
			w = fmt.Sprintf("%s: no probe response: %s", req.Path, failed[0])
		}
		why = append(why, w)
	}
	d.attribution = loadgen.Attribution{None: true}
	d.info["attribution"] = "auto: not found (" + strings.Join(why, "; ") + "); evenness not measured"
	return nil
}

// probeResponses gets autoProbes responses to req, each on a new
// connection. A NodePort just made answers with resets until every node's
// kube-proxy has its endpoints: failed probes are sent again, within a
// bound (30 s, 5 failures per response asked).
func probeResponses(ctx context.Context, client *http.Client, base *url.URL, req loadgen.Request) (rs []loadgen.Response, failed []string, err error) {
	deadline := time.Now().Add(30 * time.Second)
	for len(rs) < autoProbes && len(failed) < 5*autoProbes && time.Now().Before(deadline) && ctx.Err() == nil {
		if len(failed) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		hr, err := req.HTTP(base)
		if err != nil {
			return nil, nil, err
		}
		r, err := fetch(ctx, client, hr)
		var se *statusError
		switch {
		case errors.As(err, &se):
			failed = append(failed, req.Path+": "+se.status)
		case err != nil:
			failed = append(failed, err.Error())
		default:
			rs = append(rs, r)
		}
	}
	return rs, failed, ctx.Err()
}

// probe sends the scenario's request on a new connection (with client
// when not nil) and reads the pod with the scenario's attribution.
func (d *deployed) probe(raw string, request loadgen.Request, client *http.Client) (clusters.Probe, func(), error) {
	base, err := url.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	if d.grpc.Method != "" {
		// a user's gRPC service: a call per probe, each on a connection
		// of its own; through an Ingress to the rule's host
		g := d.grpc
		g.Authority = request.Header.Get("Host")
		return func(ctx context.Context) (string, error) {
			return loadgen.CallGRPC(ctx, base.Host, g, 2*time.Second)
		}, func() {}, nil
	}
	client = probeClient(client)
	return func(ctx context.Context) (string, error) {
		req, err := request.HTTP(base)
		if err != nil {
			return "", err
		}
		r, err := fetch(ctx, client, req)
		if err != nil {
			return "", err
		}
		pod, _ := d.attribution.Pod(r.Header, r.Body)
		return pod, nil
	}, client.CloseIdleConnections, nil
}

// probeClient is client, or when nil one that opens a new connection per
// request (each may reach any pod) with a 2 s timeout.
func probeClient(client *http.Client) *http.Client {
	if client != nil {
		return client
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// statusError is a response of status 400 or more.
type statusError struct {
	code   int
	status string // e.g. "404 Not Found"
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d", e.code) }

// fetch sends req and reads what attribution needs: the headers and a
// body bounded by loadgen.MaxAttributionBody. A status of 400 or more is a
// *statusError.
func fetch(ctx context.Context, client *http.Client, req *http.Request) (loadgen.Response, error) {
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return loadgen.Response{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, loadgen.MaxAttributionBody))
	if resp.StatusCode >= 400 {
		return loadgen.Response{}, &statusError{code: resp.StatusCode, status: resp.Status}
	}
	return loadgen.Response{Header: resp.Header, Body: body}, nil
}

// cleanupApp removes the scenario's namespace (or, kept, only its Services
// to free the NodePort) and any cluster-scoped objects of the app. When
// release is not nil it gives the cluster to the next scenario as soon as
// the app's pods are gone (they are what a neighbour would feel), before
// the namespace itself is gone; an app with cluster-scoped objects only
// after those are deleted too. The run still returns only when everything
// is gone.
func cleanupApp(ctx context.Context, c *clusters.Cluster, s *Spec, ns string, keep bool, release func(), say func(string, ...any)) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer cancel()
	clusterScoped := s.App.Own != nil && s.App.Own.AllowClusterScoped && !keep
	var early func()
	if release != nil && !clusterScoped {
		t0 := time.Now()
		early = func() {
			release()
			say("cleanup: the app's pods gone in %s, the cluster given back; namespace %s still going", time.Since(t0).Round(100*time.Millisecond), ns)
		}
	}
	var errs []error
	if keep {
		errs = append(errs, c.DeleteServices(dctx, ns))
		say("namespace %s kept (its Services are deleted to free the NodePort)", ns)
	} else {
		errs = append(errs, c.DeleteNamespaceThen(dctx, ns, 2*time.Minute, early))
	}
	if clusterScoped {
		objs := s.App.Own.Objects
		if r, err := appsource.Render(s.App.Own.Source, ns); err == nil {
			objs = r // as deployed: names may hold the namespace
		}
		errs = append(errs, c.DeleteClusterScoped(dctx, ns, objs))
	}
	return errors.Join(errs...)
}

// An appSource puts a scenario's app into its namespace and fills in d
// what the runner aims at (the Service, selector, ports, replicas, what the
// report says about it); the runner then waits until it serves. A new
// source is one type plus its case in appOf.
type appSource interface {
	deploy(ctx context.Context, e *Env, c *clusters.Cluster, s *Spec, d *deployed, say func(string, ...any)) error
}

// appOf is the source of a spec's app.
func appOf(s *Spec) appSource {
	if s.App.Own != nil {
		return ownApp{}
	}
	return sampleApp{}
}

// sampleApp is the built-in sample app (the aftershock executable's
// sampleapp role).
type sampleApp struct{}

func (sampleApp) deploy(ctx context.Context, e *Env, c *clusters.Cluster, s *Spec, d *deployed, say func(string, ...any)) error {
	ns := d.ns
	app := clusters.App{
		Namespace: ns, Image: e.image.Ref, Replicas: s.App.Replicas, Args: s.appArgs(),
		NoReadinessProbe: s.App.NoReadinessProbe, PDBMinAvailable: s.App.PDBMinAvailable,
		TolerationSeconds: s.App.TolerationSeconds, TerminationGracePeriod: s.App.TerminationGracePeriod,
		Foreign: !c.Managed, Headless: s.Load.Balancer == loadgen.BalancerRoundRobin, Autoscale: s.App.Autoscale,
	}
	if app.Autoscale != nil {
		if err := ensureMetrics(ctx, c, say); err != nil {
			return err
		}
	}
	say("deploying %d replicas in namespace %s", app.Replicas, ns)
	if err := c.DeployApp(ctx, app); err != nil {
		return err
	}
	d.obs, d.appPort, d.replicas, d.svcPort = faults.SampleApp(), faults.AppPort, app.Replicas, clusters.AppServicePort
	d.info["app"] = strings.TrimSpace(fmt.Sprintf("sample app, %d replicas %s", app.Replicas, strings.Join(app.Args, " ")))
	if a := app.Autoscale; a != nil {
		d.info["autoscaling"] = fmt.Sprintf("HorizontalPodAutoscaler %d..%d replicas at %d%% of %s CPU per pod; metrics-server %s scraping every %s", a.Min, a.Max, a.CPUPercent, clusters.AutoscaleCPURequest, metrics.Version, metrics.Resolution)
	}
	return nil
}

// ownApp is the user's service: manifests, a kustomization or a Helm
// chart, rendered for the run's namespace.
type ownApp struct{}

func (ownApp) deploy(ctx context.Context, e *Env, c *clusters.Cluster, s *Spec, d *deployed, say func(string, ...any)) error {
	ns := d.ns
	o := s.App.Own
	if len(o.Images) > 0 && !c.Managed {
		say("app.images not loaded: cluster %s was not created by aftershock; its nodes pull %s", c.Name, strings.Join(o.Images, ", "))
	} else if len(o.Images) > 0 {
		say("loading %d image(s) into the nodes: %s", len(o.Images), strings.Join(o.Images, ", "))
		dir, err := os.MkdirTemp("", "aftershock-images-")
		if err != nil {
			return err
		}
		err = c.LoadImages(ctx, o.Images, dir)
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("%s: app.images: %w", s.File, err)
		}
	}
	// rendered again for its namespace: charts name {{ .Release.Namespace }}
	objs, err := appsource.Render(o.Source, ns)
	if err != nil {
		return fmt.Errorf("%s: app: %w", s.File, err)
	}
	say("deploying the app (%d objects) in namespace %s", len(objs), ns)
	t, err := c.DeployUserApp(ctx, clusters.UserApp{
		Namespace: ns, Objects: objs, Service: o.Service, Port: o.Port, Images: o.Images, AllowClusterScoped: o.AllowClusterScoped,
		Foreign: !c.Managed,
	})
	if err != nil {
		return err
	}
	var ws []string
	for _, w := range t.Workloads {
		ws = append(ws, w.String())
	}
	d.obs = faults.App{Service: t.Service, Selector: t.Selector, Workloads: ws}
	d.appPort, d.replicas, d.svcPort = int(t.ContainerPort), t.Replicas(), t.Port
	d.info["app"] = t.Info
	return nil
}

// upgraded is o's source with a helm-upgrade's set (overriding the app's
// own keys) and values files (after the app's own).
func upgraded(o *OwnApp, set map[string]string, values []string) appsource.Source {
	src := o.Source
	h := *src.Helm
	h.Set = maps.Clone(h.Set)
	if h.Set == nil {
		h.Set = map[string]string{}
	}
	maps.Copy(h.Set, set)
	h.Values = append(slices.Clip(h.Values), values...)
	src.Helm = &h
	return src
}

// upgradeHelmApp renders the app's chart again with a helm-upgrade's
// changes for ns and applies it to c as the new state.
func upgradeHelmApp(ctx context.Context, c *clusters.Cluster, ns string, o *OwnApp, set map[string]string, values []string) (string, error) {
	objs, err := appsource.Render(upgraded(o, set, values), ns)
	if err != nil {
		return "", err
	}
	n, err := c.UpgradeUserApp(ctx, clusters.UserApp{
		Namespace: ns, Objects: objs, Service: o.Service, Port: o.Port, Images: o.Images, AllowClusterScoped: o.AllowClusterScoped,
		Foreign: !c.Managed,
	})
	return fmt.Sprintf("%d objects applied server-side", n), err
}
