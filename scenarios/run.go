package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/loadgen"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
)

// Run runs one scenario end to end and returns its result (also written to
// opts.Out). Every fault is reverted before Run returns, whatever happens.
//
// It is a short list of named stages over one run value: the cluster (a
// lease on it), the app (an appSource: the sample app or the user's), the
// fault machinery, the traffic path (a trafficPath, see paths.go), the load
// with the fault schedule beside it, and the analysis. Each stage pushes
// what undoes it onto the run's cleanups, run last first.
//
// A fail seen side by side with other scenarios is not trusted: on a
// machine's few cores a neighbour can move a latency or a timeout past an
// SLO (CI run 25: steady-state failed beside others for 5 timed-out
// requests of 3000). Run runs it again alone, and the alone run's verdict
// stands; its report says what the side-by-side run saw.
func Run(ctx context.Context, s *Spec, opts Options) (*report.Result, error) {
	if opts.Env == nil {
		return nil, errors.New("run: no Env")
	}
	r := newRun(s, opts)
	res, err := r.stages(ctx)
	if err != nil || !confirmAlone(res, r.beside, opts) {
		return res, err
	}
	seen := fmt.Sprintf("%s beside %s: %s", strings.ToUpper(string(res.Verdict)), strings.Join(r.beside, ", "), strings.Join(res.Reasons, "; "))
	r.say("verdict %s: running it again alone to tell its own failure from its neighbours'", seen)
	again := opts
	again.Alone = true
	again.sideBySide = seen
	return newRun(s, again).stages(ctx)
}

// Probe deploys s's app as a run does (a lease on the cluster, the app in
// a namespace of its own, serving) with attribution: auto, and returns the
// attribution found (None when the pod's name appears nowhere) and what
// the report would say of it; then removes the app. No load, no faults.
//
// When the scenario's request path shows none, the paths are tried in turn
// (the one that shows it is returned: write it as the request).
func Probe(ctx context.Context, s *Spec, opts Options, paths ...string) (a loadgen.Attribution, path, said string, err error) {
	if opts.Env == nil {
		return a, "", "", errors.New("probe: no Env")
	}
	if s.App.Own == nil {
		return a, "", "", errors.New("probe: the sample app names its pod already; probe your own app")
	}
	probe := *s
	probe.App.AutoAttribution = true
	probe.App.Attribution = loadgen.Attribution{None: true}
	probe.App.probePaths = paths
	r := newRun(&probe, opts)
	for _, st := range []stage{{"cluster", r.cluster}, {"app", r.deploy}} {
		if err = st.run(ctx); err != nil {
			break
		}
	}
	err = errors.Join(err, r.cleanup())
	if err != nil {
		return a, "", "", err
	}
	return r.app.attribution, r.app.request.Path, r.app.info["attribution"], nil
}

// confirmAlone: a fail seen with other scenarios beside it (beside) is
// run again alone, unless it ran alone.
func confirmAlone(res *report.Result, beside []string, opts Options) bool {
	return res != nil && res.Verdict == report.Fail && len(beside) > 0 && !opts.Alone
}

// stages runs the stages one after another, then the cleanups.
func (r *run) stages(ctx context.Context) (res *report.Result, err error) {
	var took []string // each stage's time, said when the run ends
	defer func() {
		t0 := time.Now()
		err = errors.Join(err, r.cleanup())
		took = append(took, "cleanup "+roundStage(time.Since(t0)))
		r.say("took %s", strings.Join(took, ", "))
	}()
	for _, st := range []stage{
		{"cluster", r.cluster},
		{"app", r.deploy},
		{"faults", r.prepareFaults},
		{"path", r.aim},
		{"load", r.load},
		{"analysis", r.analyze},
	} {
		t0 := time.Now()
		err := st.run(ctx)
		took = append(took, st.name+" "+roundStage(time.Since(t0)))
		if err != nil {
			return r.res, err
		}
	}
	return r.res, nil
}

func roundStage(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }

// stage is one named step of a run.
type stage struct {
	name string
	run  func(context.Context) error
}

// run is one scenario run as its stages fill it in.
type run struct {
	s        *Spec
	opts     Options
	env      *Env
	seed     int64
	progress io.Writer
	say      func(string, ...any)
	cleanups []func() error // last first, whatever happens

	// cluster
	c          *clusters.Cluster
	created    bool
	leased     *clusters.Lease // nil when the caller holds the cluster
	beside     []string        // other scenarios seen on the cluster during the load
	setupStart time.Time
	waited     string
	// app
	ns        string
	app       *deployed
	setupNote string
	// faults
	tl      *faults.Timeline
	obs     *faults.Observer
	reverts *faults.Reverts
	runner  *faults.Runner
	plan    []faults.Occurrence
	// path
	path   trafficPath
	lo     loadgen.Options
	target string // the URL the load asks for
	where  string // the report's description of the path
	warm   string // the load sources' warm-up, for the report
	drive  driver
	// load
	rec        *report.Recorder
	start, end time.Time
	stats      loadgen.Stats
	faultsOut  []report.Fault
	lostLoad   []string
	sources    []report.LoadSource
	conns      []report.ConnEvent  // held connections' changes (WebSocket load)
	scales     []report.ScaleEvent // the autoscaler's decisions (app.autoscale)
	// analysis
	res *report.Result
}

func newRun(s *Spec, opts Options) *run {
	r := &run{s: s, opts: opts, env: opts.Env, seed: s.Seed, progress: opts.Progress}
	if r.progress == nil {
		r.progress = io.Discard
	}
	if opts.Seed != 0 {
		r.seed = opts.Seed
	}
	r.say = func(format string, a ...any) {
		fmt.Fprintf(r.progress, "%s: "+format+"\n", append([]any{s.Name}, a...)...)
	}
	return r
}

// defer pushes what undoes a stage.
func (r *run) defer_(f func() error) { r.cleanups = append(r.cleanups, f) }

func (r *run) cleanup() error {
	var errs []error
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, r.cleanups[i]())
	}
	r.cleanups = nil
	return errors.Join(errs...)
}

// cluster: the cluster (created on first use) and a lease on it, side by
// side with other scenarios or alone (Spec.Alone).
func (r *run) cluster(ctx context.Context) error {
	s := r.s
	r.setupStart = time.Now()
	r.created = r.env.Cluster == nil
	c, err := r.env.ensure(ctx, s, r.progress)
	if err != nil {
		return fmt.Errorf("scenario %s: cluster: %w", s.Name, err)
	}
	r.c = c
	if !c.Leased() { // else the caller holds it
		if err := r.lease(ctx); err != nil {
			return err
		}
	}
	if err := r.env.ensureImage(ctx, s, r.c, r.progress); err != nil {
		return fmt.Errorf("scenario %s: cluster: %w", s.Name, err)
	}
	return nil
}

// lease takes the cluster for the run: side by side with other scenarios,
// or alone (Spec.Alone).
func (r *run) lease(ctx context.Context) error {
	s, c := r.s, r.c
	alone, why := s.Alone()
	if r.opts.Alone && !alone {
		alone, why = true, "asked to run alone"
		if r.opts.sideBySide != "" {
			why = "to confirm the fail it saw side by side"
		}
	}
	l, err := c.Lease(ctx, alone, func() {
		if alone {
			r.say("waiting to have cluster %s alone (%s) until the scenarios on it end", c.Name, why)
		} else {
			r.say("waiting for cluster %s: a scenario has it alone, or every place side by side is taken (a published NodePort each, at most %d on this machine's cores)", c.Name, clusters.SideBySide)
		}
	})
	if err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	r.defer_(func() error { l.Release(); return nil })
	if err := l.Announce(s.Name); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	r.leased = l
	r.c = l.View
	r.setupStart = r.setupStart.Add(l.Waited) // setup is ours, not the wait
	if l.Waited >= time.Second {
		r.waited = l.Waited.Round(100 * time.Millisecond).String()
		r.say("cluster %s: ours after waiting %s", c.Name, r.waited)
	}
	return nil
}

// deploy: the app in a namespace of its own, serving.
func (r *run) deploy(ctx context.Context) error {
	s, c := r.s, r.c
	r.ns = fmt.Sprintf("as-%s-%s", s.Name, faults.NewRunID()[:6])
	if len(r.ns) > 63 {
		r.ns = r.ns[:63]
	}
	ns := r.ns
	var release func() // the lease back once the pods are gone (none when the caller holds the cluster)
	switch {
	case r.leased == nil:
	case !faults.AnyNodeLevel(s.Faults):
		release = r.leased.Release
	default:
		// after a node fault the next scenario starts on a settled cluster:
		// a restarted node's kube-proxy and CNI pods come back after the
		// node is Ready (CI of session 15: a rollout started ~20 s after a
		// node-stop's revert lost 1 request to a timeout, alone)
		outage := faults.AnyNodeOutage(s.Faults)
		r.defer_(func() error {
			t0 := time.Now()
			if err := c.WaitSettled(context.WithoutCancel(ctx), 2*time.Minute); err != nil {
				r.say("cleanup: %v", err)
				return nil
			}
			ready := time.Since(t0).Round(100 * time.Millisecond)
			if !outage {
				// a drain: its node kept running (kubelet, kube-proxy, CNI)
				r.say("cleanup: every node and kube-system pod Ready (%s)", ready)
				return nil
			}
			// Ready is not enough after an outage: the scenario that came
			// right after a node-stop failed twice in session 15 (a rollout
			// lost 1 request, a pod kill 56) with every node and kube-system
			// pod Ready
			select {
			case <-time.After(NodeFaultSettle):
			case <-ctx.Done():
			}
			r.say("cleanup: every node and kube-system pod Ready (%s), then %s more before the next scenario", ready, NodeFaultSettle)
			return nil
		})
	}
	r.defer_(func() error { return cleanupApp(ctx, c, s, ns, r.opts.KeepNamespace, release, r.say) })
	app, err := r.env.deploy(ctx, c, s, ns, r.say)
	if err != nil {
		return err
	}
	r.app = app
	check := app.check
	setup := time.Since(r.setupStart)
	r.setupNote = setup.Round(100 * time.Millisecond).String()
	if r.created {
		r.setupNote += " (includes creating the cluster)"
	}
	if app.attribution.None {
		r.say("app ready: %d pods, every endpoint ready %s after rollout; setup %s", len(check.Pods), check.Took.Round(10*time.Millisecond), setup.Round(100*time.Millisecond))
	} else {
		r.say("app ready: traffic reached all %d pods %s after rollout (%d requests); setup %s", len(check.Pods), check.Took.Round(10*time.Millisecond), check.Requests, setup.Round(100*time.Millisecond))
	}
	return nil
}

// prepareFaults: the agent staged, the observer watching, the revert stack
// (every fault is reverted: success, failure, timeout, panic, Ctrl-C) and
// the schedule.
func (r *run) prepareFaults(ctx context.Context) error {
	s, c := r.s, r.c
	for _, f := range s.Faults {
		if f.UsesAgent() {
			// the agent is the whole executable: copy it before the clock starts
			if err := faults.StageAgent(ctx, c); err != nil {
				return err
			}
			break
		}
	}
	r.tl = faults.NewTimeline(func(e report.Event) {
		if e.Fault != "" {
			r.say("%s %s %s", e.Fault, e.Kind, e.Detail)
		}
	})
	obs, err := faults.Observe(ctx, c, r.ns, r.app.obs, r.tl)
	if err != nil {
		return err
	}
	r.obs = obs
	r.defer_(func() error { obs.Stop(); return nil })
	r.reverts = &faults.Reverts{}
	r.defer_(func() error {
		if err := r.reverts.RevertAll(); err != nil {
			r.say("REVERT FAILED: %v (run `aftershock clean`)", err)
			return err
		}
		return nil
	})
	fenv := &faults.Env{Cluster: c, Namespace: r.ns, Selector: r.app.obs.Selector, AppPort: r.app.appPort, Rand: rand.New(rand.NewPCG(uint64(r.seed), 0x5eed)),
		Log: r.opts.Logger, AllowForeignCluster: r.env.AllowForeignCluster}
	if o := s.App.Own; o != nil && o.Source.Helm != nil {
		fenv.Upgrade = func(ctx context.Context, set map[string]string, values []string) (string, error) {
			return upgradeHelmApp(ctx, c, r.ns, o, set, values)
		}
	}
	if s.Load.Via == ViaIngress && c.Managed {
		fenv.AllowNamespaces = []string{ingress.Namespace} // aftershock installed it: faults on the path itself
	}
	r.runner = &faults.Runner{Env: fenv, Reverts: r.reverts, Timeline: r.tl, Pins: r.opts.Pins}
	r.plan = faults.Plan(s.Faults)
	return nil
}

// aim: the traffic path the spec names aims the load at the app.
func (r *run) aim(ctx context.Context) error {
	s := r.s
	p, ok := paths[s.Load.Via]
	if !ok {
		return fmt.Errorf("scenario %s: load.via %q: no such traffic path", s.Name, s.Load.Via)
	}
	r.path = p
	r.lo = loadgen.Options{
		Rate: s.Load.Rate, RampFrom: s.Load.RampFrom, Shape: s.Load.Shape, Duration: s.Load.Duration,
		KeepAlive: s.Load.KeepAlive, Connections: s.Load.Connections, Protocol: s.Load.Protocol, Timeout: s.Load.Timeout, Request: r.app.request, Attribution: r.app.attribution,
		GRPC: loadgen.GRPC{Balancer: s.Load.Balancer},
	}
	if r.app.grpc.Method != "" {
		r.lo.GRPC = r.app.grpc // a user's service (load pods read its descriptors themselves)
	}
	r.drive = hostLoad
	if err := p.aim(ctx, r); err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	if s.Load.Protocol == ProtocolWebSocket && r.drive == hostLoad {
		// from this host: the connection events come from the attack's
		// calling goroutine (load pods send theirs in their stream)
		r.lo.OnConn = func(e report.ConnEvent) { r.conns = append(r.conns, e) }
		if _, err := loadgen.ProbeWebSocket(ctx, r.lo); err != nil {
			return fmt.Errorf("scenario %s: before the load: %w", s.Name, err)
		}
	}
	return nil
}

// load: the load through the path, the fault schedule beside it; then
// every fault reverted and the cluster-seen recoveries read.
func (r *run) load(ctx context.Context) error {
	s := r.s
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.start = time.Now()
	start, err := r.drive.begin(ctx, r)
	if err != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	r.start = start
	r.rec = report.NewRecorder(start, s.Load.Window)
	r.rec.Limit(s.Load.Duration + r.lo.Timeout + time.Minute) // as long as the load can last
	r.tl.Add(report.Event{At: start, Kind: "phase", Detail: "load started"})
	how := fmt.Sprintf("keep-alive %v", s.Load.KeepAlive)
	switch s.Load.Protocol {
	case ProtocolGRPC:
		how = fmt.Sprintf("gRPC over %d connection(s)", s.Load.Connections)
	case ProtocolH2C:
		how = fmt.Sprintf("HTTP/2 (h2c) over %d connection(s)", s.Load.Connections)
	case ProtocolWebSocket:
		how = fmt.Sprintf("WebSocket messages over %d held connection(s)", s.Load.Connections)
	}
	r.say("load: %d/s for %s, %s, via %s; %d fault(s) scheduled", s.Load.Rate, s.Load.Duration, how, s.Load.Via, len(r.plan))

	var (
		wg       sync.WaitGroup
		faultErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			// a bug in a fault must not skip RevertAll (a cleanup)
			if p := recover(); p != nil {
				faultErr = fmt.Errorf("fault schedule: panic: %v", p)
				cancel()
			}
		}()
		r.faultsOut, faultErr = r.runner.Run(runCtx, start, r.plan)
		if faultErr != nil && runCtx.Err() == nil {
			cancel() // a fault failed: stop the load too
		}
	}()
	var mu sync.Mutex
	sink := func(smp report.Sample) {
		mu.Lock()
		r.rec.Add(smp)
		if r.opts.OnSample != nil {
			r.opts.OnSample(smp)
		}
		mu.Unlock()
	}
	stopWatch, stopScale := r.watchBeside(), r.watchScale(runCtx)
	loadErr := r.drive.run(ctx, runCtx, r, sink)
	r.end = time.Now()
	stopWatch()
	stopScale()
	wg.Wait()
	r.tl.Add(report.Event{At: r.end, Kind: "phase", Detail: fmt.Sprintf("load stopped: %d requests at %.0f/s", r.stats.Requests, r.stats.Rate())})
	if faultErr != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, faultErr)
	}
	if loadErr != nil {
		return fmt.Errorf("scenario %s: %w", s.Name, loadErr)
	}
	if err := r.reverts.RevertAll(); err != nil {
		return err
	}
	for i := range r.faultsOut {
		if d := r.obs.ClusterRecovery(r.faultsOut[i].Inject, r.end); d != nil {
			cr := report.Duration(*d)
			r.faultsOut[i].ClusterRecovery = &cr
		}
	}
	return nil
}

// besidePoll is how often a run looks for scenarios beside it during the
// load (every other scenario's run lasts seconds at least).
const besidePoll = 500 * time.Millisecond

// watchBeside notes, until the returned stop, the scenarios that hold the
// cluster beside this run (r.beside).
func (r *run) watchBeside() (stop func()) {
	if r.leased == nil || r.leased.Exclusive {
		return func() {}
	}
	seen := map[string]bool{}
	look := func() {
		for _, b := range r.leased.Beside() {
			seen[b] = true
		}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(besidePoll)
		defer t.Stop()
		for {
			look()
			select {
			case <-done:
				look()
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		r.beside = slices.Sorted(maps.Keys(seen))
	}
}

// info is the report's notes on how the run went: the load as driven, the
// waits, the app, the cluster.
func (r *run) info() map[string]string {
	s, c, app := r.s, r.c, r.app
	info := map[string]string{
		"setup":     r.setupNote,
		"load":      fmt.Sprintf("%d/s for %s, keep-alive %v (achieved %.0f/s); %s %s", s.Load.Rate, s.Load.Duration, s.Load.KeepAlive, r.stats.Rate(), methodOf(app.request), r.target),
		"namespace": r.ns,
	}
	if len(s.Load.Shape) > 0 {
		info["load"] = fmt.Sprintf("shaped: %s (keep-alive %v, achieved %.0f/s over the whole); %s %s", describeShape(s.Load.Shape), s.Load.KeepAlive, r.stats.Rate(), methodOf(app.request), r.target)
	}
	switch s.Load.Protocol {
	case ProtocolGRPC:
		bal := s.Load.Balancer
		if bal == "" {
			bal = loadgen.BalancerPickFirst
		}
		method := sampleapp.GRPCInfoMethod
		if s.Load.GRPCMethod != "" {
			method = s.Load.GRPCMethod
			if len(s.Load.GRPCData) > 0 {
				method += " " + string(s.Load.GRPCData)
			}
		}
		info["load"] = fmt.Sprintf("%d/s for %s, gRPC unary %s over %d client channel(s) held throughout, balancer %s (achieved %.0f/s); to %s", s.Load.Rate, s.Load.Duration, method, s.Load.Connections, bal, r.stats.Rate(), hostOf(r.target))
	case ProtocolH2C:
		info["load"] = fmt.Sprintf("%d/s for %s, HTTP/2 without TLS (h2c) over %d connection(s) held throughout (achieved %.0f/s); %s %s", s.Load.Rate, s.Load.Duration, s.Load.Connections, r.stats.Rate(), methodOf(app.request), r.target)
	case ProtocolWebSocket:
		info["load"] = fmt.Sprintf("%d/s for %s, WebSocket messages (each echoed; a sample from its scheduled send to its echo) over %d connection(s) held throughout, reconnecting after a drop with a back-off of %s doubling to %s (achieved %.0f/s); path %s",
			s.Load.Rate, s.Load.Duration, s.Load.Connections, loadgen.WSBackoffMin, loadgen.WSBackoffMax, r.stats.Rate(), sampleapp.WSPath)
		info["attribution"] = fmt.Sprintf("the handshake's %s header (sample app): a connection's messages are the pod's it reached", sampleapp.HeaderPod)
	}
	if r.warm != "" {
		info["warm-up (not counted)"] = r.warm
	}
	if r.waited != "" {
		info["waited for the cluster (not counted)"] = r.waited
	}
	if len(r.beside) > 0 {
		info["side by side with"] = strings.Join(r.beside, ", ") + " (scenarios on the same cluster during the load)"
	}
	if r.opts.sideBySide != "" {
		info["run side by side first"] = r.opts.sideBySide + " (not trusted: this verdict is from running it again alone)"
	}
	if before, after := r.rec.Dropped(); before+after > 0 {
		info["samples dropped"] = fmt.Sprintf("%d stamped before the load started, %d after it could have ended (not counted)", before, after)
	}
	if !app.attribution.None {
		info["traffic on all pods after"] = app.check.Took.Round(10*time.Millisecond).String() + " past rollout"
	}
	for k, v := range app.info {
		info[k] = v
	}
	if !c.Managed {
		img := "none of aftershock's"
		if r.env.image != nil && needsImage(s) {
			img = r.env.image.Ref
		}
		info["cluster"] = fmt.Sprintf("not created by aftershock (--kubeconfig, allowed): nothing loaded into its nodes; aftershock image pulled: %s", img)
	}
	if r.env.created {
		info["node-monitor-grace-period"] = r.env.grace.String() + " (Kubernetes' default is 40s; shorter so node loss is detected within the test)"
	}
	switch {
	case s.Load.Protocol == ProtocolGRPC && s.App.Own == nil:
		info["attribution"] = fmt.Sprintf("gRPC header metadata %s (sample app)", sampleapp.GRPCHeaderPod)
	case s.Load.Protocol == ProtocolGRPC && app.attribution.GRPCField != "":
		info["attribution"] = app.attribution.String() + " (read with the method's descriptors from the service's reflection)"
	}
	return info
}

// analyze: samples and timeline to a verdict, and the report written.
func (r *run) analyze(context.Context) error {
	s, c, app := r.s, r.c, r.app
	info := r.info()
	kept, _ := RedactedSource(s.Source)
	r.res = report.Analyze(r.rec, report.Input{
		Scenario: s.Name, Spec: string(kept), SpecFile: absPath(s.File), Seed: r.seed, NodeImage: r.env.NodeImage, Cluster: c.Name, Info: info,
		Start: r.start, End: r.end, SLO: s.SLO, Faults: r.faultsOut, Timeline: r.tl.Events(), ReadyPods: app.check.Pods,
		Unstable: r.obs.UnstableSpans(r.start, r.end), Unattributed: app.attribution.None, Expect: s.Expectation(),
		Planned: s.Load.Planned(), Segments: loadSegments(s.Load.Shape), Path: r.where, LostLoad: r.lostLoad, LoadSources: r.sources, Conns: r.conns, Scales: r.scales, Autoscaled: s.App.Autoscale != nil,
	})
	if s.Load.Held() {
		if note := connectionsNote(r.res, s.Load.Connections*max(s.Load.Pods, 1), s.Load.Protocol == ProtocolWebSocket); note != "" {
			r.res.Info["connections"] = note
			r.say("%s", note)
		}
	}
	r.say("verdict %s: %s", strings.ToUpper(string(r.res.Verdict)), strings.Join(r.res.Reasons, "; "))
	if r.opts.Out != "" {
		if err := render.WriteDir(r.opts.Out, r.res); err != nil {
			return err
		}
		r.say("report: %s", r.opts.Out)
	}
	return nil
}

// connectionsNote says how many of the ready pods the calls of conns
// long-lived connections reached before any fault: the finding when they
// are pinned ("1 connection carried every call to 1 of 4 ready pods").
func connectionsNote(res *report.Result, conns int, ws bool) string {
	what, call := "client channel(s)", "call"
	if ws {
		what, call = "WebSocket connection(s)", "message"
	}
	p := res.Baseline()
	if p == nil {
		return ""
	}
	e, _ := p.Evenness()
	if e == nil || len(e.Pods) == 0 {
		return ""
	}
	served := 0
	for _, ps := range e.Pods {
		if ps.Requests > 0 {
			served++
		}
	}
	if served == len(e.Pods) {
		return fmt.Sprintf("%d %s carried %ss to all %d ready pods (%s phase)", conns, what, call, len(e.Pods), p.Name)
	}
	return fmt.Sprintf("pinned: %d %s carried every %s to %d of %d ready pods (%s phase); a Service balances connections, not the %ss on them", conns, what, call, served, len(e.Pods), p.Name, call)
}

// hostOf is a URL's host:port (the URL itself when it does not parse).
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
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

// NodeFaultSettle is how long a scenario that took a node down (stop,
// pause, node partition; not a drain) keeps the cluster after its nodes
// and kube-system pods are Ready again, before the next scenario may start.
const NodeFaultSettle = 30 * time.Second
