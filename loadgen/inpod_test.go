package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/aftershock-dev/aftershock/report"
)

func TestSampleLineRoundTrip(t *testing.T) {
	t0 := time.Unix(1764400000, 123456789)
	for _, s := range []report.Sample{
		{Start: t0, Latency: 1234567 * time.Nanosecond, Status: 200, Pod: "sampleapp-abc", Node: "worker2", Reused: true},
		{Start: t0, Latency: 2 * time.Second, Error: `Get "http://x.y.svc/": dial tcp 10.96.0.1:80: connect: connection refused`},
		{Start: t0, Latency: time.Millisecond, Status: 503, Pod: "a pod \"with\" spaces\n"},
	} {
		line := SampleLine(s)
		require.True(t, strings.HasSuffix(string(line), "\n"))
		got, err := ParseSampleLine(strings.TrimSuffix(string(line), "\n"))
		require.NoError(t, err, "%s", line)
		assert.True(t, got.Start.Equal(s.Start))
		got.Start = s.Start
		assert.Equal(t, s, got)
	}
	for _, bad := range []string{"", "E 3 4", "S 1 2 3", "S x 2 3 0 \"\" \"\" \"\"", `S 1 2 3 0 "a" "b`} {
		_, err := ParseSampleLine(bad)
		assert.Error(t, err, bad)
	}
}

func TestCheckServiceHost(t *testing.T) {
	for _, ok := range []string{"sampleapp.as-pod-kill-1a2b3c.svc", "web.default.svc.cluster.local"} {
		assert.NoError(t, CheckServiceHost(ok), ok)
	}
	for _, bad := range []string{"10.96.0.10", "127.0.0.1", "example.com", "web.default.svc.example.com", "web.svc", "localhost"} {
		assert.Error(t, CheckServiceHost(bad), bad)
	}
	_, err := (&Options{URL: "http://10.0.0.1/", Rate: 1, Duration: time.Second, InCluster: true}).validate()
	assert.ErrorContains(t, err, "not a Service's in-cluster name")
	_, err = (&Options{URL: "http://web.ns.svc:8080/", Rate: 1, Duration: time.Second}).validate()
	assert.ErrorContains(t, err, "not a loopback address", "host load stays on 127.0.0.1")
}

func TestPodSpecCarriesTheAttack(t *testing.T) {
	o := Options{Rate: 300, RampFrom: 30, Duration: 30 * time.Second, KeepAlive: true, Timeout: time.Second,
		Request:     Request{Method: "POST", Path: "/x?y=1", Header: http.Header{"A": {"b"}}, Body: []byte("hi")},
		Attribution: Attribution{Regex: regexp.MustCompile(`pod=(\w+)`)}}
	p := NewPodSpec(o, "http://web.ns.svc:8080/")
	got, err := p.Options()
	require.NoError(t, err)
	assert.Equal(t, "http://web.ns.svc:8080/", got.URL)
	assert.True(t, got.InCluster)
	assert.Equal(t, o.Request, got.Request)
	assert.Equal(t, o.Attribution.Regex.String(), got.Attribution.Regex.String())
	assert.Equal(t, []int{100, 100, 100}, []int{share(300, 3, 0), share(300, 3, 1), share(300, 3, 2)})
	assert.Equal(t, []int{34, 33, 33}, []int{share(100, 3, 0), share(100, 3, 1), share(100, 3, 2)})
}

// A load pod's connection events (WebSocket) travel in its stream beside
// the samples, exactly, and are kept in its outcome in order.
func TestConnLinesInTheStream(t *testing.T) {
	t0 := time.Unix(1764400000, 5)
	evs := []report.ConnEvent{
		{At: t0, Conn: 0, Up: true, Pod: "sampleapp-a", Node: "worker"},
		{At: t0.Add(time.Second), Conn: 0, Pod: "sampleapp-a", Node: "worker", Reason: "close 1001 (going away)"},
		{At: t0.Add(1100 * time.Millisecond), Conn: 0, Up: true, Pod: "sampleapp-b", Node: "worker2"},
	}
	var b strings.Builder
	for i, e := range evs {
		b.Write(ConnLine(e))
		b.Write(SampleLine(report.Sample{Start: t0.Add(time.Duration(i) * time.Millisecond), Status: 200, Pod: e.Pod}))
	}
	b.WriteString("E 3 1000\n")
	o := PodOutcome{Pod: "load-0", Sent: -1}
	n := 0
	consume(context.Background(), strings.NewReader(b.String()), &o, func(report.Sample) { n++ })
	assert.True(t, o.Complete, o.Lost)
	assert.Equal(t, 3, n)
	require.Len(t, o.Conns, 3)
	for i := range evs {
		assert.True(t, evs[i].At.Equal(o.Conns[i].At))
		o.Conns[i].At = evs[i].At
	}
	assert.Equal(t, evs, o.Conns)
	_, err := ParseConnLine(`C 1 2 "a" "b" "c"`)
	assert.Error(t, err, "too few numbers")
}

func TestConsumeCountsLostSamples(t *testing.T) {
	t0 := time.Unix(1764400000, 0)
	lines := func(n int, end string) string {
		var b strings.Builder
		for i := range n {
			b.Write(SampleLine(report.Sample{Start: t0.Add(time.Duration(i) * time.Millisecond), Status: 200, Pod: "p"}))
		}
		return b.String() + end
	}
	run := func(stream string) (PodOutcome, int) {
		o := PodOutcome{Pod: "load-0", Sent: -1}
		got := 0
		consume(context.Background(), strings.NewReader(stream), &o, func(report.Sample) { got++ })
		return o, got
	}
	o, got := run(lines(100, "E 100 30000000000\n"))
	assert.True(t, o.Complete)
	assert.Equal(t, 100, got)
	assert.Empty(t, o.Lost)

	o, _ = run(lines(60, ""))
	assert.False(t, o.Complete)
	assert.Contains(t, o.Lost, "ended after 60 samples without an end line")

	o, _ = run(lines(60, "E 100 30000000000\n"))
	assert.False(t, o.Complete)
	assert.Contains(t, o.Lost, "it sent 100 requests, 60 samples arrived")

	o, _ = run(`X "load target: bad"` + "\n")
	assert.Contains(t, o.Lost, "ended early after 0 samples")
}

// The merge the harness does: three load pods' samples, streamed as lines
// and recorded into one Recorder, give a p99 (merged window histograms)
// within 1% of the exact p99 of all samples computed in one process.
func TestMergedP99MatchesSingleProcess(t *testing.T) {
	t0 := time.Unix(1764400000, 0)
	rng := rand.New(rand.NewPCG(7, 7))
	rec := report.NewRecorder(t0, 100*time.Millisecond)
	var all []time.Duration
	for pod := range 3 {
		// each pod sees another latency distribution (30 s at 100/s)
		base := []float64{0.8, 1.5, 3}[pod]
		var stream strings.Builder
		for i := range 3000 {
			lat := time.Duration((base + rng.ExpFloat64()*base) * float64(time.Millisecond))
			if rng.IntN(100) == 0 {
				lat += time.Duration(rng.IntN(200)) * time.Millisecond
			}
			all = append(all, lat)
			stream.Write(SampleLine(report.Sample{Start: t0.Add(time.Duration(i) * 10 * time.Millisecond), Latency: lat, Status: 200, Pod: fmt.Sprint("app-", rng.IntN(4))}))
		}
		stream.WriteString("E 3000 30000000000\n")
		o := PodOutcome{Sent: -1}
		consume(context.Background(), strings.NewReader(stream.String()), &o, rec.Add)
		require.True(t, o.Complete)
	}
	var h report.Histogram
	total := 0
	for _, w := range rec.Windows() {
		h.Merge(&w.Latency)
		total += w.Total
	}
	assert.Equal(t, 9000, total, "merged count is the sum of the pods' counts")
	slices.Sort(all)
	exact := all[int(0.99*float64(len(all)))-1]
	got := h.Quantile(0.99)
	assert.InEpsilon(t, exact.Seconds(), got.Seconds(), 0.01, "merged p99 %s, exact %s", got, exact)
}

// Each load pod sends its share of a shaped load, and the shape survives
// the trip through the pod's environment.
func TestPodSpecSharesTheShape(t *testing.T) {
	sh := Shape{{For: 10 * time.Second, From: 90, To: 90}, {For: 5 * time.Second, From: 90, To: 300}}
	p := PodLoad{Pods: 3, Spec: NewPodSpec(Options{Rate: 90, Shape: sh, Duration: sh.Duration()}, "http://web.ns.svc:8080/")}
	total := 0.0
	for i := range 3 {
		spec := p.podSpec(i)
		b, err := json.Marshal(spec)
		require.NoError(t, err)
		var back PodSpec
		require.NoError(t, json.Unmarshal(b, &back))
		o, err := back.Options()
		require.NoError(t, err)
		assert.Equal(t, Shape{{For: 10 * time.Second, From: 30, To: 30}, {For: 5 * time.Second, From: 30, To: 100}}, o.Shape)
		total += o.Shape.Planned()
	}
	assert.InDelta(t, sh.Planned(), total, 1e-6, "the pods' shares add up to the shape")
	assert.Equal(t, sh, p.Spec.Shape, "the total is left as it was")
}

// A load pod is Burstable, never BestEffort (the kubelet's BestEffort cgroup
// has cpu.shares 2 on every node: the measuring pod would wait behind the
// app's), and has no CPU limit (a CFS quota would pause it).
func TestLoadPodRequestsCPUWithoutLimit(t *testing.T) {
	pod := PodLoad{Namespace: "ns", Image: "img"}.pod("load-0", "{}")
	require.Len(t, pod.Spec.Containers, 1)
	r := pod.Spec.Containers[0].Resources
	cpu := r.Requests[corev1.ResourceCPU]
	assert.Equal(t, int64(100), cpu.MilliValue())
	assert.False(t, r.Requests.Memory().IsZero())
	assert.Empty(t, r.Limits, "no limits (requests without limits: Burstable)")
}
