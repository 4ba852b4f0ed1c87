package scenarios

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/loadgen"
	"github.com/aftershock-dev/aftershock/report"
)

// A trafficPath aims a run's load at its app: it sets r.lo (URL, request),
// r.target (what the load asks for) and r.where (the report's words for the
// path), and r.drive when the load does not come from this host. What it
// sets up it undoes through r.defer_. A new path is one file with its type
// plus its entry in paths.
type trafficPath interface {
	aim(ctx context.Context, r *run) error
}

// paths are the traffic paths by load.via; pathHelp says what each is.
var paths = map[string]trafficPath{
	ViaNodePort:  nodePortPath{},
	ViaIngress:   ingressPath{},
	ViaInCluster: inClusterPath{},
}

var pathHelp = map[string]string{
	ViaNodePort:  "from the host, the default",
	ViaIngress:   "from the host through an Ingress controller",
	ViaInCluster: "from load pods",
}

// pathNames lists the traffic paths for an error message, the default first.
func pathNames() string {
	names := []string{ViaNodePort}
	for _, n := range slices.Sorted(maps.Keys(paths)) {
		if n != ViaNodePort {
			names = append(names, n)
		}
	}
	var parts []string
	for _, n := range names {
		if h := pathHelp[n]; h != "" {
			n += " (" + h + ")"
		}
		parts = append(parts, n)
	}
	return strings.Join(parts, ", ")
}

// A driver runs the load a path aimed: begin returns the instant the load
// starts, run sends it (into sink) until done and fills r.stats,
// r.sources and r.lostLoad.
type driver interface {
	begin(ctx context.Context, r *run) (time.Time, error)
	run(ctx, runCtx context.Context, r *run, sink func(report.Sample)) error
}

// hostLoad is load from this host (vegeta, loadgen.Attack).
var hostLoad driver = hostDriver{}

type hostDriver struct{}

func (hostDriver) begin(context.Context, *run) (time.Time, error) { return time.Now(), nil }

func (hostDriver) run(_, runCtx context.Context, r *run, sink func(report.Sample)) error {
	var err error
	r.stats, err = loadgen.Attack(runCtx, r.lo, sink)
	return err
}

// nodePortPath: from this host to the Service's NodePort, published on
// 127.0.0.1 (this lease's own).
type nodePortPath struct{}

func (nodePortPath) aim(_ context.Context, r *run) error {
	url, err := r.c.AppURL()
	if err != nil {
		return err
	}
	r.lo.URL = url
	r.target = r.app.request.URL(mustURL(url))
	r.where = fmt.Sprintf("%s: from this host to %s (the Service's NodePort, published on 127.0.0.1)", ViaNodePort, r.target)
	return nil
}

// ingressPath: from this host through the Ingress controller (aftershock's
// own, or the cluster's at --ingress-address) to the Service.
type ingressPath struct{}

func (ingressPath) aim(ctx context.Context, r *run) error {
	where, err := r.app.throughIngress(ctx, r.env, r.c, r.s, &r.lo, r.progress, r.say)
	if err != nil {
		return err
	}
	r.where, r.target = where, r.lo.Request.URL(mustURL(r.lo.URL))
	return nil
}

// inClusterPath: load pods inside the cluster to the Service's ClusterIP;
// their samples stream back over their logs.
type inClusterPath struct{}

func (inClusterPath) aim(ctx context.Context, r *run) error {
	s, c, app := r.s, r.c, r.app
	svcURL := fmt.Sprintf("http://%s.%s.svc.cluster.local:%d/", app.obs.Service, r.ns, app.svcPort)
	if s.Load.Balancer == loadgen.BalancerRoundRobin { // the pods themselves, by the headless Service's name
		svcURL = fmt.Sprintf("http://%s.%s.svc.cluster.local:%d/", clusters.HeadlessName(app.obs.Service), r.ns, app.appPort)
	}
	r.target = app.request.URL(mustURL(svcURL))
	pl := loadgen.PodLoad{Client: c.Clientset, Namespace: r.ns, Image: r.env.image.Ref, Pods: s.Load.Pods, Spec: loadgen.NewPodSpec(r.lo, svcURL)}
	where := "spread over the nodes"
	if faults.AnyNodeLevel(s.Faults) {
		// a node fault must not take a load pod with it
		pl.NodeSelector = map[string]string{"node-role.kubernetes.io/control-plane": ""}
		where = "on the control-plane node (node faults planned)"
	}
	t0 := time.Now()
	wctx, stop := c.WatchPullFailures(ctx, r.ns) // the load pods' image too
	pods, err := pl.Prepare(wctx, 2*time.Minute)
	if perr := clusters.PullFailure(ctx, wctx); err != nil && perr != nil {
		err = fmt.Errorf("load pods: %w", perr)
	}
	stop()
	if err != nil {
		return err
	}
	r.defer_(func() error { pods.Delete(context.WithoutCancel(ctx)); return nil })
	var on []string
	for _, n := range pods.Names() {
		on = append(on, n+"@"+pods.Node(n))
	}
	r.where = fmt.Sprintf("%s: %d load pods %s (%s) to %s (the Service's ClusterIP)", ViaInCluster, s.Load.Pods, where, strings.Join(on, ", "), r.target)
	r.say("%d load pods ready in %s %s", s.Load.Pods, time.Since(t0).Round(10*time.Millisecond), where)
	if r.warm, err = warmUp(ctx, pods, r.say); err != nil {
		return fmt.Errorf("the load path %s is not ready, nothing was measured (the harness's path, not the app): %w", r.where, err)
	}
	r.drive = podDriver{pods}
	return nil
}

// podDriver is load from load pods in the cluster.
type podDriver struct{ pods *loadgen.LoadPods }

func (d podDriver) begin(ctx context.Context, _ *run) (time.Time, error) {
	start := time.Now().Add(time.Second) // every load pod starts at this instant
	return start, d.pods.Start(ctx, start)
}

func (d podDriver) run(ctx, runCtx context.Context, r *run, sink func(report.Sample)) error {
	s := r.s
	// bounded: the attack's duration, one request timeout, and a margin
	sctx, scancel := context.WithDeadline(runCtx, r.start.Add(s.Load.Duration+r.lo.Timeout+time.Minute))
	outcomes := d.pods.Stream(sctx, sink)
	scancel()
	r.stats.Elapsed = time.Since(r.start)
	for i, o := range outcomes {
		for _, e := range o.Conns { // numbered across the pods
			e.Conn += i * s.Load.Connections
			r.conns = append(r.conns, e)
		}
		r.stats.Requests += uint64(o.Samples)
		asked := int(math.Round(float64(s.Load.Planned()) * float64(o.Rate) / float64(s.Load.Rate))) // its share of the plan
		r.sources = append(r.sources, report.LoadSource{Name: o.Pod, Node: o.Node, Rate: o.Rate, Samples: o.Samples, Sent: o.Sent, Complete: o.Complete,
			Asked: asked, Achieved: float64(max(o.Sent, 0)) / s.Load.Duration.Seconds()})
		if !o.Complete {
			r.lostLoad = append(r.lostLoad, fmt.Sprintf("load pod %s (node %s): %s", o.Pod, o.Node, o.Lost))
		}
	}
	if len(r.lostLoad) == len(outcomes) {
		r.stats.Elapsed = min(r.stats.Elapsed, s.Load.Duration)
	} else {
		r.stats.Elapsed = s.Load.Duration
	}
	if err := runCtx.Err(); err != nil && ctx.Err() != nil {
		return fmt.Errorf("load stopped early: %w", ctx.Err())
	}
	return nil
}

// throughIngress installs the Ingress controller (once per cluster; scaled
// to the scenario's replicas), routes a host to the app's Service, waits
// until traffic through it reaches every pod, and aims lo at it.
func (d *deployed) throughIngress(ctx context.Context, e *Env, c *clusters.Cluster, s *Spec, lo *loadgen.Options, progress io.Writer, say func(string, ...any)) (string, error) {
	t0 := time.Now()
	ctlURL, class, describe, err := ingressController(ctx, e, c, s, progress)
	if err != nil {
		return "", err
	}
	if s.Load.Multiplexed() {
		if !c.Managed {
			return "", fmt.Errorf("load.protocol %s through the cluster's own Ingress controller: not built yet (aftershock's Traefik only)", s.Load.Protocol)
		}
		if err := ingress.H2CBackend(ctx, c, d.ns, d.obs.Service); err != nil {
			return "", err
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
	if err := everyReplicaRoutes(ctx, probe, host); err != nil {
		return "", err
	}
	lo.URL, lo.Request = ctlURL, req
	lo.GRPC.Authority = host // the rule's host, as gRPC's :authority
	say("ingress: %s ready in %s", describe(host), time.Since(t0).Round(10*time.Millisecond))
	return fmt.Sprintf("%s: %s, to the Service %s:%d", ViaIngress, describe(host), d.obs.Service, d.svcPort), nil
}

// ingressController is the Ingress controller a scenario's load goes
// through: aftershock's Traefik, installed on a cluster it created, or the
// cluster's own, reached at the address the user gave. It returns the
// controller's URL from this host, the IngressClass to route with and how
// to describe the path.
func ingressController(ctx context.Context, e *Env, c *clusters.Cluster, s *Spec, progress io.Writer) (string, string, func(host string) string, error) {
	if !c.Managed {
		// loadgen refuses anything but loopback
		ctlURL, class := "http://"+e.IngressAddress+"/", e.IngressClass
		return ctlURL, class, func(host string) string {
			cl := "the default IngressClass"
			if class != "" {
				cl = "IngressClass " + class
			}
			return fmt.Sprintf("the cluster's own controller (%s), host %s, from this host to %s", cl, host, ctlURL)
		}, nil
	}
	img, err := ingress.EnsureImage(ctx, progress)
	if err != nil {
		return "", "", nil, err
	}
	if err := c.LoadImage(ctx, img); err != nil {
		return "", "", nil, err
	}
	ctl, err := ingress.Install(ctx, c, img.Ref, int32(s.Load.IngressReplicas))
	if err != nil {
		return "", "", nil, err
	}
	return ctl.URL, ingress.Class, ctl.Describe, nil
}

// everyReplicaRoutes waits until every controller replica knows the route,
// not only the first to answer: a run of answers on new connections
// (kube-proxy picks a replica per connection; 30 in a row miss one of 5
// with p < 0.002), spread over 3 s: a replica just added to the endpoints
// reaches each node's kube-proxy up to a second or so later (CI run of
// stop 24: 30 quick answers, then 127 failed requests in the load's first
// 2 s).
func everyReplicaRoutes(ctx context.Context, probe func(context.Context) (string, error), host string) error {
	const inARow = 30
	deadline := time.Now().Add(time.Minute)
	for ok := 0; ok < inARow; {
		if _, err := probe(ctx); err == nil {
			ok++
			time.Sleep(100 * time.Millisecond)
			continue
		} else if time.Now().After(deadline) {
			return fmt.Errorf("through the Ingress (host %s): not %d answers in a row within a minute: %w", host, inARow, err)
		}
		ok = 0
		time.Sleep(100 * time.Millisecond)
	}
	return nil
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
