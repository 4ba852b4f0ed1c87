package scenarios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/clusters/ingress"
	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/loadgen"
	"github.com/aftershock-dev/aftershock/report"
)

// Spec is a scenario. Parse reads one from YAML; the zero values of optional
// fields are documented on each.
type Spec struct {
	Name        string
	Description string
	Seed        int64 // victim choice; 0 means 1
	Cluster     ClusterSpec
	App         AppSpec
	Load        LoadSpec
	Faults      []faults.Spec
	SLO         report.SLO
	// Expect is the verdict the scenario is meant to reach (default pass).
	// A negative control expects fail: `go test` and `aftershock run` gate
	// on it. ExpectCheck, with an expected fail, names the check that must
	// be the reason (`expect: {verdict: fail, check: recovery}`).
	Expect      report.Verdict
	ExpectCheck string
	// File is where the spec was read from (empty for Go-built specs).
	File string
	// Source is the YAML as read; result.json embeds it (aftershock replay).
	Source []byte
}

// ClusterSpec says what cluster a scenario needs.
type ClusterSpec struct {
	Workers int // default 2
	// explicitWorkers: the spec named a worker count (checked against a
	// shared cluster's; the default is not).
	explicitWorkers bool
	// NodeMonitorGracePeriod for the controller manager (0: Kubernetes' 40s).
	NodeMonitorGracePeriod time.Duration
}

// DefaultShutdownDelay is how long the sample app keeps serving after
// SIGTERM unless app.shutdownDelay says otherwise (0s: it stops listening
// at once, as an app without a preStop hook does).
const DefaultShutdownDelay = 3 * time.Second

// MaxCPUPerRequest bounds app.cpuPerRequest.
const MaxCPUPerRequest = 50 * time.Millisecond

// MaxStartupDelay bounds app.startupDelay.
const MaxStartupDelay = 10 * time.Second

// AppSpec describes the sample app deployment.
type AppSpec struct {
	Replicas               int32 // default 3
	PDBMinAvailable        int32 // 0: no PodDisruptionBudget
	NoReadinessProbe       bool
	NoGracefulShutdown     bool          // the app exits at once on SIGTERM
	ShutdownDelay          time.Duration // how long it keeps serving after SIGTERM (default 3s: DefaultShutdownDelay)
	StartupDelay           time.Duration // how long it takes to listen after it starts (a slow start)
	Latency                time.Duration // added to every response
	ErrorRate              float64       // fraction of responses that are 500
	TerminationGracePeriod time.Duration // default 30s
	TolerationSeconds      int64         // not-ready/unreachable tolerations (default 10)
	CPUPerRequest          time.Duration // CPU time each / request spends (a busy loop), so load moves CPU use
	// Autoscale, when set, puts a HorizontalPodAutoscaler on CPU over the
	// app (metrics-server is installed for it); Replicas starts at Min.
	Autoscale *clusters.Autoscale

	// Own, when set, is the user's application instead of the sample app
	// (the fields above are then refused).
	Own *OwnApp
	// Request is what load sends (default GET /).
	Request loadgen.Request
	// Attribution says how a response names its pod (sample app: its
	// header; a user's app: none unless given).
	Attribution loadgen.Attribution
	// AutoAttribution (attribution: auto): the run finds the attribution
	// from a few probe responses once the app serves (Attribution is None
	// until then, and stays None when the pod's name appears nowhere).
	AutoAttribution bool
	// probePaths are more request paths attribution: auto tries, in
	// order, after Request's, when Request's responses name no pod
	// (Probe's well-known paths; a run tries Request's alone).
	probePaths []string
}

// LoadSpec is the traffic a scenario sends through the Service.
type LoadSpec struct {
	Rate     int // requests per second
	RampFrom int // optional linear ramp from this rate
	// Shape is the rate over time when load.shape gives one (a spike, a
	// ramp or steps over Rate); nil: Rate (or the ramp) throughout.
	Shape     loadgen.Shape
	Duration  time.Duration
	KeepAlive bool
	Timeout   time.Duration // per request (default 2s)
	Window    time.Duration // metric window (default 1s, >= 100ms)
	// Via is the traffic path: ViaNodePort (from the host through the
	// Service's NodePort on 127.0.0.1) or ViaInCluster (from Pods load
	// pods to the Service's ClusterIP by its DNS name).
	Via  string
	Pods int // load pods (inCluster; default 3)
	// Connections caps a client's open connections (0: as many as needed);
	// with keepAlive, how many connections traffic is pinned to.
	Connections int
	// IngressReplicas is the Ingress controller's replica count (ingress;
	// default 1).
	IngressReplicas int
	// Protocol is ProtocolHTTP (default), ProtocolH2C (the same requests as
	// HTTP/2 without TLS), ProtocolGRPC (unary gRPC calls to the sample
	// app's info method) or ProtocolWebSocket (messages to the sample app's
	// WebSocket echo): all but http over Connections long-lived connections
	// (default 1), each pinned to the pod its connection reached.
	Protocol string
	// Balancer is the gRPC client's load balancing (load.grpc.balancer):
	// loadgen.BalancerPickFirst (default) through the Service's ClusterIP,
	// or loadgen.BalancerRoundRobin over the pods of a headless Service.
	Balancer string
	// GRPCMethod and GRPCData are the gRPC method a user's service is
	// called with and its request as JSON (load.grpc.method, .data); the
	// sample app's info method when empty.
	GRPCMethod string
	GRPCData   json.RawMessage
}

// Held reports whether the load holds its connections for the whole run
// (h2c, gRPC, WebSocket): calls follow them to the pods they first reached.
func (l LoadSpec) Held() bool { return l.Multiplexed() || l.Protocol == ProtocolWebSocket }

// Multiplexed reports whether the load is HTTP/2 (h2c, gRPC): requests as
// streams on a held connection.
func (l LoadSpec) Multiplexed() bool { return l.Protocol == ProtocolGRPC || l.Protocol == ProtocolH2C }

// Load protocols (load.protocol).
const (
	ProtocolHTTP = loadgen.ProtocolHTTP
	ProtocolGRPC = loadgen.ProtocolGRPC
	ProtocolH2C  = loadgen.ProtocolH2C
	// ProtocolWebSocket: messages over held WebSocket connections that
	// reconnect when dropped (the sample app's echo).
	ProtocolWebSocket = loadgen.ProtocolWebSocket
)

// Traffic paths (load.via).
const (
	ViaNodePort  = "nodePort"
	ViaInCluster = "inCluster"
	ViaIngress   = "ingress"
)

// MaxLoadPods bounds load.pods.
const MaxLoadPods = 20

// MaxSpecBytes bounds a scenario file.
const MaxSpecBytes = 1 << 20

// MaxFaults bounds the faults of one scenario.
const MaxFaults = 20

// Planned is how many requests the load is asked to send.
func (l LoadSpec) Planned() int {
	if len(l.Shape) > 0 {
		return int(l.Shape.Planned())
	}
	r := float64(l.Rate)
	if l.RampFrom > 0 {
		r = float64(l.Rate+l.RampFrom) / 2
	}
	return int(r * l.Duration.Seconds())
}

// raw* mirror the YAML with strings where units are written out, so every
// error can name its field and value.
type rawSpec struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Seed        int64      `json:"seed"`
	Cluster     rawCluster `json:"cluster"`
	App         rawApp     `json:"app"`
	Load        rawLoad    `json:"load"`
	Faults      []rawFault `json:"faults"`
	SLO         rawSLO     `json:"slo"`
	Expect      any        `json:"expect"`
}

type rawCluster struct {
	Workers                int    `json:"workers"`
	NodeMonitorGracePeriod string `json:"nodeMonitorGracePeriod"`
}

type rawApp struct {
	Replicas int32 `json:"replicas"`
	PDB      *struct {
		MinAvailable int32 `json:"minAvailable"`
	} `json:"pdb"`
	ReadinessProbe         *bool  `json:"readinessProbe"`
	GracefulShutdown       *bool  `json:"gracefulShutdown"`
	ShutdownDelay          string `json:"shutdownDelay"`
	StartupDelay           string `json:"startupDelay"`
	Latency                string `json:"latency"`
	ErrorRate              string `json:"errorRate"`
	TerminationGracePeriod string `json:"terminationGracePeriod"`
	TolerationSeconds      int64  `json:"tolerationSeconds"`
	CPUPerRequest          string `json:"cpuPerRequest"`
	Autoscale              *struct {
		Min int32  `json:"min"`
		Max int32  `json:"max"`
		CPU string `json:"cpu"`
	} `json:"autoscale"`
	rawOwnApp
}

type rawLoad struct {
	Rate        string    `json:"rate"`
	RampFrom    string    `json:"rampFrom"`
	Shape       *rawShape `json:"shape"`
	Duration    string    `json:"duration"`
	KeepAlive   bool      `json:"keepAlive"`
	Timeout     string    `json:"timeout"`
	Window      string    `json:"window"`
	Via         string    `json:"via"`
	Pods        int       `json:"pods"`
	Connections int       `json:"connections"`
	Protocol    string    `json:"protocol"`
	GRPC        *struct {
		Balancer string          `json:"balancer"`
		Method   string          `json:"method"`
		Data     json.RawMessage `json:"data"`
	} `json:"grpc"`
	Ingress *struct {
		Replicas int `json:"replicas"`
	} `json:"ingress"`
}

type rawFault struct {
	Type        string            `json:"type"`
	At          string            `json:"at"`
	Every       string            `json:"every"`
	For         string            `json:"for"`
	Count       int               `json:"count"`
	Pods        int               `json:"pods"`
	Percent     string            `json:"percent"`
	GracePeriod string            `json:"gracePeriod"`
	Node        string            `json:"node"`
	Delay       string            `json:"delay"`
	Jitter      string            `json:"jitter"`
	Loss        string            `json:"loss"`
	Scope       string            `json:"scope"`
	Replicas    *int32            `json:"replicas"`
	Image       string            `json:"image"`
	Env         map[string]string `json:"env"`
	Patch       map[string]any    `json:"patch"`
	Set         map[string]string `json:"set"`
	Values      []string          `json:"values"`
	Target      *struct {
		Selector string `json:"selector"`
		Port     int    `json:"port"`
		Ingress  bool   `json:"ingress"`
	} `json:"target"`
}

type rawSLO struct {
	Availability      string  `json:"availability"`
	P99               string  `json:"p99"`
	Recovery          string  `json:"recovery"`
	Jain              float64 `json:"jain"`
	MaxBudgetConsumed float64 `json:"maxBudgetConsumed"`
	RecoveryWindow    string  `json:"recoveryWindow"`
	Rejoin            string  `json:"rejoin"`
	Reconnect         string  `json:"reconnect"`
	ScaleOut          string  `json:"scaleOut"`
	Rollout           *struct {
		Errors   *int   `json:"errors"`
		Duration string `json:"duration"`
	} `json:"rollout"`
}

// FieldError names the file, field and value that are wrong.
type FieldError struct {
	File, Field, Value, Problem string
}

func (e *FieldError) Error() string {
	loc := e.File
	if loc == "" {
		loc = "scenario"
	}
	if e.Value == "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Problem)
	}
	return fmt.Sprintf("%s: %s: %q: %s", loc, e.Field, e.Value, e.Problem)
}

// ParseFile reads and validates a scenario file.
func ParseFile(path string) (*Spec, error) {
	b, err := appsource.ReadFileLimited(path, MaxSpecBytes)
	if err != nil {
		return nil, err
	}
	return Parse(b, path)
}

var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// Parse reads a scenario from YAML (strict: unknown fields are errors) and
// validates it. file names the source in errors.
func Parse(b []byte, file string) (*Spec, error) {
	if len(b) > MaxSpecBytes {
		return nil, &FieldError{File: file, Field: "(file)", Value: fmt.Sprintf("%d bytes", len(b)), Problem: fmt.Sprintf("a scenario is at most %d bytes", MaxSpecBytes)}
	}
	var raw rawSpec
	if err := yaml.UnmarshalStrict(b, &raw); err != nil {
		if path, value, problem, ok := shapeError(b); ok {
			return nil, &FieldError{File: file, Field: path, Value: value, Problem: problem}
		}
		if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
			return nil, &FieldError{File: file, Field: m[1], Problem: "unknown field"}
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p := &parser{file: file}
	s := p.spec(raw)
	s.File, s.Source = file, append([]byte(nil), b...)
	if err := s.Validate(); err != nil || p.err != nil {
		return nil, p.with(err)
	}
	return s, nil
}

// with joins the parser's errors and Validate's, every field once: a field
// the parser already named (a bad duration, say) is not named again as
// missing.
func (p *parser) with(validate error) error {
	named := map[string]bool{}
	for _, e := range p.errs {
		var fe *FieldError
		if errors.As(e, &fe) {
			named[fe.Field] = true
		}
	}
	errs := append([]error(nil), p.errs...)
	if j, ok := validate.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			var fe *FieldError
			if errors.As(e, &fe) && named[fe.Field] {
				continue
			}
			errs = append(errs, e)
		}
	} else if validate != nil {
		errs = append(errs, validate)
	}
	return errors.Join(errs...)
}

type parser struct {
	file string
	err  error
	errs []error
}

// fail records an error; every one of a file's errors is reported at once.
func (p *parser) fail(field, value, problem string) {
	p.errs = append(p.errs, &FieldError{File: p.file, Field: field, Value: value, Problem: problem})
	p.err = errors.Join(p.errs...)
}

func (p *parser) dur(field, v string) time.Duration {
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.fail(field, v, "not a duration (like 500ms, 20s, 1m30s)")
		return 0
	}
	if d < 0 {
		p.fail(field, v, "must not be negative")
	}
	return d
}

// frac reads "99.5%" or "0.995" as a fraction.
func (p *parser) frac(field, v string) float64 {
	if v == "" {
		return 0
	}
	s := strings.TrimSpace(v)
	scale := 1.0
	if strings.HasSuffix(s, "%") {
		s, scale = strings.TrimSuffix(s, "%"), 0.01
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		p.fail(field, v, "not a number or percentage (like 99.5% or 0.995)")
		return 0
	}
	f *= scale
	if f < 0 || f > 1 {
		p.fail(field, v, "must be between 0 and 100%")
	}
	return f
}

// rate reads "200/s", "200" or "12000/m" as requests per second.
func (p *parser) rate(field, v string) int {
	if v == "" {
		return 0
	}
	s, per := strings.TrimSpace(v), 1.0
	if i := strings.Index(s, "/"); i >= 0 {
		switch s[i+1:] {
		case "s":
		case "m":
			per = 60
		default:
			p.fail(field, v, "rate unit must be /s or /m")
			return 0
		}
		s = s[:i]
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		p.fail(field, v, "not a positive rate (like 200/s)")
		return 0
	}
	r := int(math.Round(n / per))
	if r < 1 {
		p.fail(field, v, "below 1 request per second")
	}
	return r
}

func (p *parser) spec(r rawSpec) *Spec {
	s := &Spec{Name: r.Name, Description: r.Description, Seed: r.Seed}
	s.Cluster = ClusterSpec{Workers: r.Cluster.Workers, NodeMonitorGracePeriod: p.dur("cluster.nodeMonitorGracePeriod", r.Cluster.NodeMonitorGracePeriod)}
	s.App = p.sampleApp(r.App)
	p.ownApp(r.App, s)
	if s.App.Own != nil {
		p.noSampleAppSettings(r.App)
	}
	s.Load = p.load(r.Load)
	if len(r.Faults) > MaxFaults {
		p.fail("faults", strconv.Itoa(len(r.Faults)), fmt.Sprintf("at most %d faults in one scenario", MaxFaults))
		r.Faults = r.Faults[:MaxFaults]
	}
	for i, f := range r.Faults {
		s.Faults = append(s.Faults, p.fault(i, f))
	}
	s.SLO = p.slo(r.SLO)
	p.expect(r.Expect, s)
	return s
}

// sampleApp reads app's settings of the built-in sample app.
func (p *parser) sampleApp(a rawApp) AppSpec {
	app := AppSpec{
		Replicas: a.Replicas, TolerationSeconds: a.TolerationSeconds,
		ShutdownDelay:          DefaultShutdownDelay,
		StartupDelay:           p.dur("app.startupDelay", a.StartupDelay),
		Latency:                p.dur("app.latency", a.Latency),
		ErrorRate:              p.frac("app.errorRate", a.ErrorRate),
		TerminationGracePeriod: p.dur("app.terminationGracePeriod", a.TerminationGracePeriod),
	}
	if a.ShutdownDelay != "" {
		app.ShutdownDelay = p.dur("app.shutdownDelay", a.ShutdownDelay)
	}
	if app.StartupDelay > MaxStartupDelay {
		p.fail("app.startupDelay", a.StartupDelay, fmt.Sprintf("want at most %s (its liveness probe restarts a pod that does not answer for 15 s)", MaxStartupDelay))
	}
	if a.PDB != nil {
		app.PDBMinAvailable = a.PDB.MinAvailable
		if a.PDB.MinAvailable <= 0 {
			p.fail("app.pdb.minAvailable", strconv.Itoa(int(a.PDB.MinAvailable)), "must be >= 1")
		}
	}
	app.CPUPerRequest = p.dur("app.cpuPerRequest", a.CPUPerRequest)
	if app.CPUPerRequest > MaxCPUPerRequest {
		p.fail("app.cpuPerRequest", a.CPUPerRequest, fmt.Sprintf("want at most %s", MaxCPUPerRequest))
	}
	if as := a.Autoscale; as != nil {
		cpu := p.frac("app.autoscale.cpu", as.CPU)
		app.Autoscale = &clusters.Autoscale{Min: as.Min, Max: as.Max, CPUPercent: int32(math.Round(cpu * 100))}
		switch {
		case as.Min < 1:
			p.fail("app.autoscale.min", strconv.Itoa(int(as.Min)), "want at least 1")
		case as.Max < as.Min || as.Max > 20:
			p.fail("app.autoscale.max", strconv.Itoa(int(as.Max)), fmt.Sprintf("want %d..20 (at least min)", as.Min))
		case as.CPU == "" || cpu <= 0:
			p.fail("app.autoscale.cpu", as.CPU, "want the target CPU utilization, e.g. 50%")
		case a.Replicas != 0 && a.Replicas != as.Min:
			p.fail("app.replicas", strconv.Itoa(int(a.Replicas)), fmt.Sprintf("with app.autoscale the app starts at autoscale.min (%d): leave replicas out", as.Min))
		}
		app.Replicas = as.Min
	}
	app.NoReadinessProbe = a.ReadinessProbe != nil && !*a.ReadinessProbe
	app.NoGracefulShutdown = a.GracefulShutdown != nil && !*a.GracefulShutdown
	return app
}

// noSampleAppSettings refuses the sample app's settings beside an own app.
func (p *parser) noSampleAppSettings(a rawApp) {
	for _, f := range []struct {
		name string
		set  bool
	}{{"replicas", a.Replicas != 0}, {"pdb", a.PDB != nil}, {"readinessProbe", a.ReadinessProbe != nil}, {"gracefulShutdown", a.GracefulShutdown != nil},
		{"shutdownDelay", a.ShutdownDelay != ""}, {"startupDelay", a.StartupDelay != ""}, {"latency", a.Latency != ""}, {"errorRate", a.ErrorRate != ""},
		{"terminationGracePeriod", a.TerminationGracePeriod != ""}, {"tolerationSeconds", a.TolerationSeconds != 0},
		{"cpuPerRequest", a.CPUPerRequest != ""}, {"autoscale", a.Autoscale != nil}} {
		if f.set {
			p.fail("app."+f.name, "", "a setting of the built-in sample app; with app.manifests or app.helm set it in your own manifests or chart")
		}
	}
}

// load reads load.
func (p *parser) load(l rawLoad) LoadSpec {
	ls := LoadSpec{
		Rate: p.rate("load.rate", l.Rate), RampFrom: p.rate("load.rampFrom", l.RampFrom),
		Duration: p.dur("load.duration", l.Duration), KeepAlive: l.KeepAlive,
		Timeout: p.dur("load.timeout", l.Timeout), Window: p.dur("load.window", l.Window),
		Via: l.Via, Pods: l.Pods, Connections: l.Connections, Protocol: l.Protocol,
	}
	ls.Shape = p.shape(l.Shape, ls.Rate, ls.Duration, ls.RampFrom)
	if g := l.GRPC; g != nil {
		ls.Balancer, ls.GRPCData = g.Balancer, g.Data
		if ls.Protocol != ProtocolGRPC {
			p.fail("load.grpc", "", "only with load.protocol: grpc")
		}
		if g.Method != "" {
			if err := loadgen.ValidateMethod(g.Method); err != nil {
				p.fail("load.grpc.method", g.Method, "want package.Service/Method, e.g. info.InfoService/Info")
			}
			ls.GRPCMethod = "/" + strings.TrimPrefix(g.Method, "/")
		}
		if d := bytes.TrimSpace(g.Data); len(d) > 0 && (d[0] != '{' || !json.Valid(d)) {
			p.fail("load.grpc.data", string(d), "want the request message as an object of its fields, e.g. {message: hello}")
		}
	}
	if l.Ingress != nil {
		ls.IngressReplicas = l.Ingress.Replicas
		if ls.IngressReplicas == 0 {
			p.fail("load.ingress.replicas", "", "required in load.ingress (1..5)")
		}
	}
	return ls
}

// slo reads slo.
func (p *parser) slo(r rawSLO) report.SLO {
	slo := report.SLO{
		Availability:      p.frac("slo.availability", r.Availability),
		P99:               report.Duration(p.dur("slo.p99", r.P99)),
		Recovery:          report.Duration(p.dur("slo.recovery", r.Recovery)),
		Jain:              r.Jain,
		MaxBudgetConsumed: r.MaxBudgetConsumed,
		RecoveryWindows:   report.Duration(p.dur("slo.recoveryWindow", r.RecoveryWindow)),
		Rejoin:            report.Duration(p.dur("slo.rejoin", r.Rejoin)),
		Reconnect:         report.Duration(p.dur("slo.reconnect", r.Reconnect)),
		ScaleOut:          report.Duration(p.dur("slo.scaleOut", r.ScaleOut)),
	}
	if ro := r.Rollout; ro != nil {
		slo.Rollout = &report.RolloutSLO{Duration: report.Duration(p.dur("slo.rollout.duration", ro.Duration))}
		if ro.Errors == nil {
			p.fail("slo.rollout.errors", "", "required: the failed requests a deploy event may cost (0: none)")
		} else {
			slo.Rollout.Errors = *ro.Errors
		}
	}
	return slo
}

// fault reads faults[i].
func (p *parser) fault(i int, f rawFault) faults.Spec {
	fp := fmt.Sprintf("faults[%d].", i)
	fs := faults.Spec{
		Type: f.Type, At: p.dur(fp+"at", f.At), Every: p.dur(fp+"every", f.Every), For: p.dur(fp+"for", f.For),
		Count: f.Count, Pods: f.Pods, Node: f.Node, Delay: p.dur(fp+"delay", f.Delay), Jitter: p.dur(fp+"jitter", f.Jitter),
		Loss: p.frac(fp+"loss", f.Loss), Scope: f.Scope, Replicas: f.Replicas,
		Image: f.Image, Env: f.Env, Patch: f.Patch, Set: f.Set,
	}
	for _, v := range f.Values {
		fs.Values = append(fs.Values, p.path(v))
	}
	if f.Percent != "" {
		fs.Percent = int(math.Round(100 * p.frac(fp+"percent", f.Percent)))
	}
	if f.GracePeriod != "" {
		g := p.dur(fp+"gracePeriod", f.GracePeriod)
		fs.GracePeriod = &g
	}
	if t := f.Target; t != nil && t.Ingress {
		// the Ingress controller aftershock installs (load.via: ingress)
		if t.Selector != "" || t.Port != 0 {
			p.fail(fp+"target", "", "ingress: true names the controller's pods; give no selector or port with it")
		}
		fs.Target, fs.TargetPort, fs.TargetNamespace = ingress.Selector, ingress.Port, ingress.Namespace
	} else if t != nil {
		sel, err := labels.Parse(t.Selector)
		switch {
		case t.Selector == "":
			p.fail(fp+"target.selector", "", "required: a label selector of pods in the scenario's namespace, like app=redis")
		case err != nil:
			p.fail(fp+"target.selector", t.Selector, "not a label selector: "+err.Error())
		case sel.Empty():
			p.fail(fp+"target.selector", t.Selector, "selects every pod; name the pods to hit")
		}
		if t.Port < 0 || t.Port > 65535 {
			p.fail(fp+"target.port", strconv.Itoa(t.Port), "want a port number 1..65535")
		}
		fs.Target, fs.TargetPort = t.Selector, t.Port
	}
	return fs
}

// expect reads expect: a verdict, or {verdict: fail, check: NAME}.
func (p *parser) expect(raw any, s *Spec) {
	switch e := raw.(type) {
	case nil:
	case string:
		s.Expect = report.Verdict(e)
	case map[string]any:
		for k, v := range e {
			str, ok := v.(string)
			switch {
			case !ok:
				p.fail("expect."+k, fmt.Sprint(v), "want a string")
			case k == "verdict":
				s.Expect = report.Verdict(str)
			case k == "check":
				s.ExpectCheck = str
			default:
				p.fail("expect."+k, str, "unknown field; want verdict and check")
			}
		}
		if s.Expect == "" {
			p.fail("expect.verdict", "", "required: pass, fail or inconclusive")
		}
	default:
		p.fail("expect", fmt.Sprint(e), "want pass, fail, inconclusive or {verdict: fail, check: NAME}")
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// MaxRequestTimeout bounds load.timeout: a cancelled run waits for no
// request longer than this (and in-flight requests are cancelled anyway).
const MaxRequestTimeout = 30 * time.Second

// MaxRate bounds load.rate and load.rampFrom.
const MaxRate = 5000

// fieldErrs collects a spec's field errors, so that all of them are
// reported at once.
type fieldErrs struct {
	file string
	errs []error
}

// fail records an error and returns it (a section stops at its first error
// where later checks depend on the field).
func (c *fieldErrs) fail(field, value, problem string) error {
	err := &FieldError{File: c.file, Field: field, Value: value, Problem: problem}
	c.errs = append(c.errs, err)
	return err
}

// Validate checks a spec (also one built in Go), filling in defaults. It
// reports every wrong field at once.
func (s *Spec) Validate() error {
	c := &fieldErrs{file: s.File}
	if s.Name == "" || !nameRE.MatchString(s.Name) || len(s.Name) > 40 {
		c.fail("name", s.Name, "want a DNS label: lower-case letters, digits and '-', at most 40")
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	s.validateClusterAndApp(c)
	s.validateLoad(c)
	s.validateSLO(c)
	s.validateFaults(c)
	return errors.Join(c.errs...)
}

func (s *Spec) validateClusterAndApp(c *fieldErrs) {
	if s.Cluster.Workers < 0 || s.Cluster.Workers > 5 {
		c.fail("cluster.workers", strconv.Itoa(s.Cluster.Workers), "want 1..5 (0 means 2)")
	}
	if s.Cluster.Workers != 0 {
		s.Cluster.explicitWorkers = true
	}
	if s.Cluster.Workers == 0 {
		s.Cluster.Workers = 2
	}
	if s.App.Own != nil {
		if err := s.validateOwnApp(c.fail); err == nil && s.App.Attribution.None && !s.App.AutoAttribution && s.SLO.Jain > 0 {
			c.fail("slo.jain", fmt.Sprint(s.SLO.Jain), "evenness cannot be measured with app.attribution none: say how a response names its pod ({header: ...}, {json: ...} or {regex: ...})")
		}
	}
	if s.App.Replicas < 0 || s.App.Replicas > 20 {
		c.fail("app.replicas", strconv.Itoa(int(s.App.Replicas)), "want 1..20 (0 means 3)")
		return
	}
	if s.App.Replicas == 0 {
		s.App.Replicas = 3
	}
	if s.App.PDBMinAvailable >= s.App.Replicas && s.App.PDBMinAvailable > 0 {
		c.fail("app.pdb.minAvailable", strconv.Itoa(int(s.App.PDBMinAvailable)), fmt.Sprintf("must be below app.replicas (%d), or no pod could ever be evicted", s.App.Replicas))
	}
}

func (s *Spec) validateLoad(c *fieldErrs) {
	s.validatePace(c)
	if s.Load.Via == "" {
		s.Load.Via = ViaNodePort
	}
	if _, ok := paths[s.Load.Via]; !ok {
		c.fail("load.via", s.Load.Via, "want "+pathNames())
	}
	s.validateProtocol(c)
	s.validatePathSettings(c)
}

// validatePace checks the load's rate, shape, duration and windows.
func (s *Spec) validatePace(c *fieldErrs) {
	switch {
	case s.Load.Rate <= 0:
		c.fail("load.rate", "", "required (like 200/s)")
	case s.Load.Rate > MaxRate:
		c.fail("load.rate", strconv.Itoa(s.Load.Rate), fmt.Sprintf("above %d/s: more than a 2-core machine drives through kind", MaxRate))
	}
	if s.Load.RampFrom > MaxRate {
		c.fail("load.rampFrom", strconv.Itoa(s.Load.RampFrom), fmt.Sprintf("above %d/s: more than a 2-core machine drives through kind", MaxRate))
	}
	if len(s.Load.Shape) > 0 {
		switch err := s.Load.Shape.Validate(); {
		case err != nil:
			c.fail("load.shape", "", err.Error())
		case s.Load.Shape.Duration() != s.Load.Duration:
			c.fail("load.shape", s.Load.Shape.Duration().String(), fmt.Sprintf("lasts as long as load.duration (%s)", s.Load.Duration))
		case s.Load.Shape.Peak() > MaxRate:
			c.fail("load.shape", fmt.Sprint(s.Load.Shape.Peak()), fmt.Sprintf("above %d/s: more than a 2-core machine drives through kind", MaxRate))
		}
	}
	switch {
	case s.Load.Duration <= 0:
		c.fail("load.duration", "", "required (like 60s)")
	case s.Load.Duration > 30*time.Minute:
		c.fail("load.duration", s.Load.Duration.String(), "at most 30m")
	}
	if s.Load.Timeout > MaxRequestTimeout {
		c.fail("load.timeout", s.Load.Timeout.String(), fmt.Sprintf("at most %s per request", MaxRequestTimeout))
	}
	if s.Load.Window != 0 && s.Load.Window < report.MinWindow {
		c.fail("load.window", s.Load.Window.String(), "at least 100ms")
	}
}

// validateProtocol checks load.protocol, what goes with it, and the
// connections it holds.
func (s *Spec) validateProtocol(c *fieldErrs) {
	if s.Load.Protocol == "" {
		s.Load.Protocol = ProtocolHTTP
	}
	held := s.Load.Held()
	switch {
	case s.Load.Protocol != ProtocolHTTP && !held:
		c.fail("load.protocol", s.Load.Protocol, "want http, h2c, grpc or websocket")
	case s.Load.Protocol == ProtocolWebSocket && s.App.Own != nil:
		c.fail("load.protocol", s.Load.Protocol, "with the built-in sample app only so far (its echo on "+sampleapp.WSPath+")")
	case s.SLO.ScaleOut > 0 && s.App.Autoscale == nil:
		c.fail("slo.scaleOut", s.SLO.ScaleOut.String(), "only with app.autoscale (the time its autoscaler takes to add ready pods)")
	case s.SLO.Reconnect > 0 && s.Load.Protocol != ProtocolWebSocket:
		c.fail("slo.reconnect", s.SLO.Reconnect.String(), "only with load.protocol: websocket (held connections that reconnect)")
	case held && s.Load.KeepAlive:
		c.fail("load.keepAlive", "true", s.Load.Protocol+" connections are held for the whole load; load.connections says how many")
	case !loadgen.ValidBalancer(s.Load.Balancer):
		c.fail("load.grpc.balancer", s.Load.Balancer, "want pick_first or round_robin")
	case s.Load.Balancer == loadgen.BalancerRoundRobin && s.Load.Via != ViaInCluster:
		c.fail("load.grpc.balancer", s.Load.Balancer, "only with load.via: inCluster (it resolves the pods' addresses, a headless Service's DNS name, inside the cluster)")
	}
	s.validateGRPC(c)
	switch {
	case s.Load.Connections < 0 || s.Load.Connections > 1000:
		c.fail("load.connections", strconv.Itoa(s.Load.Connections), "want 1..1000 (0: as many as needed)")
	case held:
		if s.Load.Connections == 0 {
			s.Load.Connections = 1
		}
	case s.Load.Connections > 0 && !s.Load.KeepAlive:
		c.fail("load.connections", strconv.Itoa(s.Load.Connections), "caps kept-alive connections; set load.keepAlive: true")
	}
}

// validatePathSettings checks the settings of one traffic path (the
// Ingress's replicas, the load pods) against load.via.
func (s *Spec) validatePathSettings(c *fieldErrs) {
	switch {
	case s.Load.Via != ViaIngress && s.Load.IngressReplicas != 0:
		c.fail("load.ingress", fmt.Sprint(s.Load.IngressReplicas), "only with load.via: ingress")
	case s.Load.Via == ViaIngress && s.Load.IngressReplicas == 0:
		s.Load.IngressReplicas = 1
	case s.Load.IngressReplicas < 0 || s.Load.IngressReplicas > 5:
		c.fail("load.ingress.replicas", strconv.Itoa(s.Load.IngressReplicas), "want 1..5")
	}
	switch {
	case s.Load.Via != ViaInCluster && s.Load.Pods != 0:
		c.fail("load.pods", strconv.Itoa(s.Load.Pods), "only with load.via: inCluster (host load runs in this process)")
	case s.Load.Via == ViaInCluster && s.Load.Pods == 0:
		s.Load.Pods = 3
	case s.Load.Pods < 0 || s.Load.Pods > MaxLoadPods:
		c.fail("load.pods", strconv.Itoa(s.Load.Pods), fmt.Sprintf("want 1..%d", MaxLoadPods))
	case s.Load.Via == ViaInCluster && s.Load.Rate > 0 && s.Load.Rate < s.Load.Pods:
		c.fail("load.pods", strconv.Itoa(s.Load.Pods), fmt.Sprintf("more pods than requests per second (load.rate %d/s): each pod needs at least 1/s", s.Load.Rate))
	}
}

// validateGRPC checks what a gRPC load calls and how its answers name the
// pod: the sample app's info method by its header; a user's service by the
// method it names, with a gRPC header or response field (or none).
func (s *Spec) validateGRPC(c *fieldErrs) {
	a := s.App.Attribution
	grpcAttr := a.GRPCHeader != "" || a.GRPCField != ""
	switch {
	case s.Load.Protocol != ProtocolGRPC:
		if grpcAttr {
			c.fail("app.attribution", a.String(), "grpcHeader and grpcField are for load.protocol: grpc")
		}
	case s.App.Own == nil:
		switch {
		case s.Load.GRPCMethod != "" || len(s.Load.GRPCData) > 0:
			c.fail("load.grpc.method", s.Load.GRPCMethod, "the sample app is called on its info method ("+sampleapp.GRPCInfoMethod+"); method and data are for your own service (app.manifests or app.helm)")
		case grpcAttr:
			c.fail("app.attribution", a.String(), "the sample app names its pod in its own gRPC header; grpcHeader and grpcField are for your own service")
		}
	case s.Load.GRPCMethod == "":
		c.fail("load.grpc.method", "", "required with your own gRPC service: the unary method the load calls, e.g. info.InfoService/Info")
	case s.App.AutoAttribution:
		c.fail("app.attribution", "auto", "auto reads HTTP responses; for gRPC name where the answer names the pod: {grpcField: hostname} or {grpcHeader: NAME}")
	case !a.None && !grpcAttr:
		c.fail("app.attribution", a.String(), "a gRPC answer names its pod in {grpcHeader: NAME} or {grpcField: PATH} (or none)")
	case s.Load.Balancer == loadgen.BalancerRoundRobin:
		c.fail("load.grpc.balancer", s.Load.Balancer, "with the sample app only so far (aftershock adds its headless Service)")
	}
}

func (s *Spec) validateSLO(c *fieldErrs) {
	switch {
	case s.SLO.Availability <= 0:
		c.fail("slo.availability", "", "required (like 99.5%)")
	case s.SLO.Availability >= 1:
		c.fail("slo.availability", fmt.Sprintf("%g%%", s.SLO.Availability*100), "100% leaves no error budget; use at most 99.99%")
	}
	if math.IsNaN(s.SLO.Jain) || s.SLO.Jain < 0 || s.SLO.Jain > 1 {
		c.fail("slo.jain", fmt.Sprint(s.SLO.Jain), "want 0..1")
	}
	if b := s.SLO.MaxBudgetConsumed; math.IsNaN(b) || math.IsInf(b, 0) || b < 0 {
		c.fail("slo.maxBudgetConsumed", fmt.Sprint(b), "want a number >= 0 (1 = the whole budget)")
	}
	if ro := s.SLO.Rollout; ro != nil {
		if ro.Errors < 0 {
			c.fail("slo.rollout.errors", strconv.Itoa(ro.Errors), "want 0 or more failed requests")
		}
		if !slices.ContainsFunc(s.Faults, faults.Spec.Deploy) {
			c.fail("slo.rollout", "", "no deploy event in faults to check ("+strings.Join(faults.DeployTypes, ", ")+")")
		}
	}
	switch s.Expect {
	case "":
		s.Expect = report.Pass
	case report.Pass, report.Fail, report.Inconclusive:
	default:
		c.fail("expect", string(s.Expect), "want pass, fail or inconclusive")
	}
	if s.ExpectCheck != "" && s.Expect != report.Fail {
		c.fail("expect.check", s.ExpectCheck, "only an expected fail has a reason to check")
	}
}

// validateFaults checks every fault (each one's first error), then the
// plan as a whole.
func (s *Spec) validateFaults(c *fieldErrs) {
	ok := true
	for i, f := range s.Faults {
		field := fmt.Sprintf("faults[%d]", i)
		ferr := f.Validate()
		switch {
		case f.TargetNamespace == ingress.Namespace && s.Load.Via != ViaIngress:
			c.fail(field+".target.ingress", "true", "the Ingress controller exists only with load.via: ingress")
		case ferr != nil:
			c.fail(field, "", ferr.Error())
		case f.Type == faults.PodKill && s.App.Replicas == 1 && f.Pods > 1:
			c.fail(field+".pods", strconv.Itoa(f.Pods), "more than app.replicas")
		case f.NodeLevel() && s.Cluster.Workers < 2:
			c.fail(field+".type", f.Type, "needs cluster.workers >= 2 (the app must have somewhere to go)")
		case f.Type == faults.HelmUpgrade && (s.App.Own == nil || s.App.Own.Source.Helm == nil):
			c.fail(field+".type", f.Type, "needs an app from a Helm chart (app.helm)")
		case f.Type == faults.HelmUpgrade:
			if _, err := appsource.Render(upgraded(s.App.Own, f.Set, f.Values), validateNamespace); err != nil {
				c.fail(field, "", "the chart with this upgrade's set and values: "+err.Error())
				break
			}
			continue
		default:
			continue
		}
		ok = false
	}
	if !ok || s.Load.Duration <= 0 {
		return
	}
	if end := faults.End(faults.Plan(s.Faults)); end >= s.Load.Duration {
		c.fail("faults", "", fmt.Sprintf("the last fault ends at %s, not before load.duration %s: leave time to observe recovery", end, s.Load.Duration))
	}
}

// Expectation is the spec's expectation as the report keeps it.
func (s *Spec) Expectation() *report.Expectation {
	return &report.Expectation{Verdict: s.Expect, Check: s.ExpectCheck}
}

// Files lists the scenario files in dir.
func Files(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, errors.New("no scenario files (*.yaml) in " + dir)
	}
	return m, nil
}
