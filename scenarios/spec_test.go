package scenarios

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/clusters/appsource"
	"github.com/aftershock-dev/aftershock/faults"
	"github.com/aftershock-dev/aftershock/report"
)

func TestEveryShippedScenarioParses(t *testing.T) {
	files, err := Files(".")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 6)
	names := map[string]bool{}
	for _, f := range files {
		s, err := ParseFile(f)
		require.NoError(t, err, f)
		names[s.Name] = true
		assert.Equal(t, f, s.File)
	}
	for _, n := range []string{"steady-state", "pod-kill", "node-drain", "node-stop", "network-delay", "fragile-pod-kill"} {
		assert.True(t, names[n], n)
	}
}

func TestParseFillsTypes(t *testing.T) {
	s, err := Parse([]byte(`
name: demo
seed: 42
cluster: {workers: 3, nodeMonitorGracePeriod: 20s}
app: {replicas: 4, pdb: {minAvailable: 2}, readinessProbe: false, gracefulShutdown: false, latency: 5ms, errorRate: 1%}
load: {rate: 12000/m, duration: 90s, keepAlive: true, window: 100ms}
faults:
  - {type: pod-kill, at: 20s, every: 20s, count: 3, percent: 50%, gracePeriod: 0s}
  - {type: network-delay, at: 5s, for: 10s, delay: 200ms, jitter: 20ms}
slo: {availability: 99.5%, p99: 500ms, recovery: 10s, jain: 0.9}
expect: fail
`), "demo.yaml")
	require.NoError(t, err)
	assert.Equal(t, 200, s.Load.Rate)
	assert.Equal(t, 100*time.Millisecond, s.Load.Window)
	assert.True(t, s.App.NoReadinessProbe)
	assert.True(t, s.App.NoGracefulShutdown)
	assert.InDelta(t, 0.01, s.App.ErrorRate, 1e-9)
	assert.InDelta(t, 0.995, s.SLO.Availability, 1e-9)
	assert.Equal(t, report.Duration(500*time.Millisecond), s.SLO.P99)
	require.Len(t, s.Faults, 2)
	assert.Equal(t, 50, s.Faults[0].Percent)
	require.NotNil(t, s.Faults[0].GracePeriod)
	assert.Zero(t, *s.Faults[0].GracePeriod)
	assert.Equal(t, faults.NetworkDelay, s.Faults[1].Type)
	assert.Equal(t, report.Fail, s.Expect)
	assert.Equal(t, []string{"-latency=5ms", "-error-rate=0.01", "-graceful=false"}, s.appArgs())

	// no preStop-like delay (0s is not the default 3s) and a slow start
	s, err = Parse([]byte("name: x\napp: {shutdownDelay: 0s, startupDelay: 4s}\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n"), "x.yaml")
	require.NoError(t, err)
	assert.Equal(t, []string{"-shutdown-delay=0s", "-startup-delay=4s"}, s.appArgs())
}

func TestParseErrorsNameFileFieldAndValue(t *testing.T) {
	base := "name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n"
	tests := []struct {
		yaml string
		want string
	}{
		{base + "bogus: 1\n", `f.yaml: bogus: unknown field`},
		{"name: x\nload: {rate: 10/s, duration: 60s, burst: 3}\nslo: {availability: 99%}\n", `f.yaml: load.burst: unknown field`},
		{"name: x\nload: {rate: 10/s, duration: 6O s}\nslo: {availability: 99%}\n", `f.yaml: load.duration: "6O s": not a duration`},
		{"name: x\nload: {rate: 10/h, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.rate: "10/h": rate unit must be /s or /m`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 199%}\n", `f.yaml: slo.availability: "199%": must be between 0 and 100%`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 100%}\n", `slo.availability: "100%": 100% leaves no error budget`},
		{base + "faults: [{type: pod-kill, at: 20x}]\n", `f.yaml: faults[0].at: "20x": not a duration`},
		{base + "faults: [{type: pod-kil, at: 20s}]\n", `f.yaml: faults[0]: type "pod-kil": want one of`},
		{base + "faults: [{type: node-drain, at: 5s, pods: 2}]\n", `f.yaml: faults[0]: pods: node-drain does not take it (its options: node, for)`},
		{base + "faults: [{type: scale, at: 5s}]\n", `f.yaml: faults[0]: replicas (not set): scale needs replicas in 0..100`},
		{base + "faults: [{type: pod-kill, at: 5s, replicas: 2}]\n", `f.yaml: faults[0]: replicas: pod-kill does not take it`},
		{base + "faults: [{type: rollout, at: 5s}]\n", `f.yaml: faults[0]: rollout needs a change: image, env or patch`},
		{base + "faults: [{type: helm-upgrade, at: 5s, set: {a: b}}]\n", `f.yaml: faults[0].type: "helm-upgrade": needs an app from a Helm chart (app.helm)`},
		{base + "faults: [{type: rollback, at: 5s, env: {A: b}}]\n", `f.yaml: faults[0]: env: rollback does not take it (its options: target)`},
		{base + "faults: [{type: rollout, at: 5s, env: {A: [1]}}]\n", `f.yaml: faults[0].env.A: "[1]": want a string (quote it)`},
		{base + "faults: [{type: node-drain, at: 50s, for: 20s}]\n", `f.yaml: faults: the last fault ends at 1m10s, not before load.duration 1m0s`},
		{base + "app: {replicas: 2, pdb: {minAvailable: 2}}\n", `f.yaml: app.pdb.minAvailable: "2": must be below app.replicas (2)`},
		{base + "cluster: {workers: 1}\nfaults: [{type: node-stop, at: 10s}]\n", `f.yaml: faults[0].type: "node-stop": needs cluster.workers >= 2`},
		{"name: Bad_Name\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: name: "Bad_Name": want a DNS label`},
		{"name: x\nslo: {availability: 99%}\n", `f.yaml: load.rate: required`},
		{base + "expect: maybe\n", `f.yaml: expect: "maybe": want pass, fail or inconclusive`},
		{"name: x\nload: {via: carrierPigeon, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.via: "carrierPigeon": want nodePort`},
		{base + "faults: [{type: pod-kill, at: 10s, target: {ingress: true}}]\n", `f.yaml: faults[0].target.ingress: "true": the Ingress controller exists only with load.via: ingress`},
		{"name: x\nload: {via: ingress, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\nfaults: [{type: pod-kill, at: 10s, target: {ingress: true, selector: a=b}}]\n", `f.yaml: faults[0].target: ingress: true names the controller's pods`},
		{"name: x\nload: {connections: 2, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.connections: "2": caps kept-alive connections; set load.keepAlive: true`},
		{"name: x\nload: {ingress: {replicas: 2}, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.ingress: "2": only with load.via: ingress`},
		{"name: x\nload: {protocol: quic, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.protocol: "quic": want http, h2c, grpc or websocket`},
		{"name: x\nload: {protocol: grpc, keepAlive: true, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.keepAlive: "true": grpc connections are held`},
		{"name: x\nload: {grpc: {balancer: round_robin}, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.grpc: only with load.protocol: grpc`},
		{"name: x\nload: {protocol: websocket, keepAlive: true, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.keepAlive: "true": websocket connections are held`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%, reconnect: 2s}\n", `f.yaml: slo.reconnect: "2s": only with load.protocol: websocket`},
		{"name: x\napp: {autoscale: {min: 3, max: 2, cpu: 50%}}\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: app.autoscale.max: "2": want 3..20 (at least min)`},
		{"name: x\napp: {autoscale: {min: 2, max: 4}}\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: app.autoscale.cpu: want the target CPU utilization, e.g. 50%`},
		{"name: x\napp: {replicas: 3, autoscale: {min: 2, max: 4, cpu: 50%}}\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: app.replicas: "3": with app.autoscale the app starts at autoscale.min (2)`},
		{"name: x\napp: {cpuPerRequest: 1s}\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: app.cpuPerRequest: "1s": want at most 50ms`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%, scaleOut: 60s}\n", `f.yaml: slo.scaleOut: "1m0s": only with app.autoscale`},
		{"name: x\nload: {protocol: grpc, grpc: {balancer: random}, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.grpc.balancer: "random": want pick_first or round_robin`},
		{"name: x\nload: {protocol: grpc, grpc: {balancer: round_robin}, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.grpc.balancer: "round_robin": only with load.via: inCluster`},
		{"name: x\nload: {via: ingress, ingress: {replicas: 9}, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.ingress.replicas: "9": want 1..5`},
		{"name: x\nload: {pods: 3, rate: 10/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.pods: "3": only with load.via: inCluster`},
		{"name: x\nload: {via: inCluster, pods: 21, rate: 100/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.pods: "21": want 1..20`},
		{"name: x\nload: {via: inCluster, pods: 5, rate: 3/s, duration: 60s}\nslo: {availability: 99%}\n", `f.yaml: load.pods: "5": more pods than requests per second`},
		{base + "app: {startupDelay: 20s}\n", `f.yaml: app.startupDelay: "20s": want at most 10s`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%, rollout: {errors: 0}}\n", `f.yaml: slo.rollout: no deploy event in faults to check (rollout-restart, rollout, rollback, helm-upgrade, scale)`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%, rollout: {duration: 90s}}\nfaults: [{type: rollout-restart, at: 5s}]\n", `f.yaml: slo.rollout.errors: required`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%, rollout: {errors: -1}}\nfaults: [{type: rollout-restart, at: 5s}]\n", `f.yaml: slo.rollout.errors: "-1": want 0 or more`},
		{"name: x\nload: {rate: 10/s, duration: 60s}\nslo: {availability: 99%, rollout: {errors: 0, duration: 9O}}\nfaults: [{type: rollout-restart, at: 5s}]\n", `f.yaml: slo.rollout.duration: "9O": not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "f.yaml")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseExpectation(t *testing.T) {
	base := "name: x\napp: {replicas: 2}\nload: {rate: 10/s, duration: 10s}\nslo: {availability: 99%}\n"
	s, err := Parse([]byte(base+"expect: {verdict: fail, check: error budget}\n"), "x.yaml")
	require.NoError(t, err)
	assert.Equal(t, &report.Expectation{Verdict: report.Fail, Check: "error budget"}, s.Expectation())
	s, err = Parse([]byte(base), "x.yaml")
	require.NoError(t, err)
	assert.Equal(t, &report.Expectation{Verdict: report.Pass}, s.Expectation())
	for in, field := range map[string]string{
		"expect: {check: recovery}":                "expect.verdict",
		"expect: {verdict: pass, check: recovery}": "expect.check",
		"expect: {verdict: fail, why: x}":          "expect.why",
		"expect: maybe":                            "expect",
	} {
		_, err := Parse([]byte(base+in+"\n"), "x.yaml")
		var fe *FieldError
		require.ErrorAs(t, err, &fe, in)
		assert.Equal(t, field, fe.Field, in)
	}
}

// Every wrong field is reported at once, across sections and faults.
func TestEveryFieldErrorAtOnce(t *testing.T) {
	_, err := Parse([]byte(`name: Bad_Name
cluster: {workers: 9}
app: {replicas: 3}
load: {rate: 100/s, rampFrom: 9000/s, duration: 30s, timeout: 10m, window: 10ms}
faults:
  - {type: pod-kill, at: 5s, pods: -1}
  - {type: no-such-fault, at: 5s}
slo: {availability: 100%}
`), "five.yaml")
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`five.yaml: name: "Bad_Name"`,
		`five.yaml: cluster.workers: "9"`,
		`five.yaml: load.rampFrom: "9000": above 5000/s`,
		`five.yaml: load.timeout: "10m0s": at most 30s per request`,
		`five.yaml: load.window: "10ms"`,
		`five.yaml: slo.availability:`,
		`five.yaml: faults[0]`,
		`five.yaml: faults[1]`,
	} {
		assert.Contains(t, msg, want)
	}
	_, err = Parse([]byte(`name: bad-dur
load: {rate: 10/s, duration: forever}
slo: {availability: 99%, p99: soon}
`), "dur.yaml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `load.duration: "forever": not a duration`)
	assert.Contains(t, err.Error(), `slo.p99: "soon": not a duration`)
	assert.NotContains(t, err.Error(), "load.duration: required", "a field the parser named is not named again")
}

// A 300 MiB scenario file is refused by its size, not read.
func TestHugeScenarioFileRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(p)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(300<<20))
	require.NoError(t, f.Close())
	_, err = ParseFile(p)
	require.ErrorContains(t, err, "huge.yaml: 314572800 bytes; at most 1048576 are read")
}

// Deploy events parse with their options.
func TestParseDeployEvents(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`name: d
load: {rate: 10/s, duration: 60s}
faults:
  - {type: rollout-restart, at: 5s}
  - {type: scale, at: 20s, replicas: 1, for: 15s}
  - {type: rollout, at: 40s, image: "web:2", env: {V: "2"}, patch: {metadata: {annotations: {a: b}}}}
  - {type: rollback, at: 45s}
slo: {availability: 99%, rollout: {errors: 0, duration: 90s}}
`), 0o644))
	s, err := ParseFile(p)
	require.NoError(t, err)
	assert.Equal(t, &report.RolloutSLO{Errors: 0, Duration: report.Duration(90 * time.Second)}, s.SLO.Rollout)
	assert.True(t, s.Faults[0].Deploy() && s.Faults[1].Deploy())
	require.Len(t, s.Faults, 4)
	assert.Equal(t, "rollout-restart", s.Faults[0].Type)
	assert.Equal(t, "web:2", s.Faults[2].Image)
	assert.Equal(t, map[string]string{"V": "2"}, s.Faults[2].Env)
	assert.Equal(t, map[string]any{"metadata": map[string]any{"annotations": map[string]any{"a": "b"}}}, s.Faults[2].Patch)
	assert.Equal(t, "rollback", s.Faults[3].Type)
	require.NotNil(t, s.Faults[1].Replicas)
	assert.EqualValues(t, 1, *s.Faults[1].Replicas)
	assert.Equal(t, 15*time.Second, s.Faults[1].For)
	// deploy events act on the scenario's own Deployment: side by side,
	// given the cores for the pods they start and stop
	was := clusters.SideBySide
	t.Cleanup(func() { clusters.SideBySide = was })
	clusters.SideBySide = 4
	alone, _ := s.Alone()
	assert.False(t, alone, "4 cores: side by side")
	clusters.SideBySide = 2
	alone, why := s.Alone()
	assert.True(t, alone, "2 cores: alone")
	assert.Equal(t, "rollout-restart starts and stops the app's pods in bulk, which on 2 cores slows every scenario beside it", why)
}

// helm-upgrade: its set and values go on top of the app's chart, values
// paths resolve against the scenario file, and the upgraded chart must
// render when the scenario is parsed.
func TestParseHelmUpgrade(t *testing.T) {
	s, err := ParseFile("helm-upgrade.yaml")
	require.NoError(t, err)
	require.Len(t, s.Faults, 1)
	assert.Equal(t, map[string]string{"podAnnotations.release": "2"}, s.Faults[0].Set)
	src := upgraded(s.App.Own, map[string]string{"replicaCount": "5"}, []string{"v.yaml"})
	assert.Equal(t, map[string]string{"replicaCount": "5"}, src.Helm.Set)
	assert.Equal(t, []string{"v.yaml"}, src.Helm.Values)
	assert.Empty(t, s.App.Own.Source.Helm.Set, "the app's own source is not changed")
	// the shipped upgrade renders its annotation as a string (the API
	// server refuses a number there: found on a cluster)
	objs, err := appsource.Render(upgraded(s.App.Own, s.Faults[0].Set, nil), "ns")
	require.NoError(t, err)
	var found bool
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			v, ok, _ := unstructured.NestedFieldNoCopy(o.Object, "spec", "template", "metadata", "annotations", "release")
			assert.True(t, ok)
			assert.Equal(t, "2", v)
			found = true
		}
	}
	assert.True(t, found, "the chart renders a Deployment")

	dir := t.TempDir()
	spec := func(fault string) string {
		return "name: h\napp: {helm: {chart: " + filepath.Join(wd(t), "examples/httpbin/chart") + "}, service: httpbin:http}\n" +
			"load: {rate: 10/s, duration: 60s}\nslo: {availability: 99%}\nfaults: [" + fault + "]\n"
	}
	p := filepath.Join(dir, "h.yaml")
	require.NoError(t, os.WriteFile(p, []byte(spec("{type: helm-upgrade, at: 5s, values: [missing.yaml]}")), 0o644))
	_, err = ParseFile(p)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "h.yaml: faults[0]: the chart with this upgrade's set and values: helm.values[0] "+filepath.Join(dir, "missing.yaml")+": no such file")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "v2.yaml"), []byte("podAnnotations: {release: \"2\"}\n"), 0o644))
	require.NoError(t, os.WriteFile(p, []byte(spec("{type: helm-upgrade, at: 5s, values: [v2.yaml]}")), 0o644))
	s, err = ParseFile(p)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(dir, "v2.yaml")}, s.Faults[0].Values)
}

func wd(t *testing.T) string {
	d, err := os.Getwd()
	require.NoError(t, err)
	return d
}
