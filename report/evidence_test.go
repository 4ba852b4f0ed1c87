package report

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignificant(t *testing.T) {
	tests := []struct {
		k, n int
		p    float64
		want bool
	}{
		{0, 10, 0.01, false},
		{1, 10, 0.01, false},  // P(X>=1) = 0.096: a stray failure
		{2, 10, 0.01, true},   // P(X>=2) = 0.0043
		{10, 10, 0.01, true},  // an outage
		{3, 100, 0.01, false}, // P(X>=3) = 0.079
		{5, 100, 0.01, true},  // P(X>=5) = 0.0034
		{1, 1, 0, true},       // no failure allowed at all
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Significant(tt.k, tt.n, tt.p), "%d of %d at p=%g", tt.k, tt.n, tt.p)
	}
}

// The case: one stray failed request 20 s after a 1.0 s outage must
// not turn "recovered in 1.0 s" into "not recovered".
func TestStrayFailureDoesNotDecideRecovery(t *testing.T) {
	inject := t0.Add(10 * time.Second)
	stray := t0.Add(31 * time.Second)
	healthy := okSample("a", "b", "c")
	ss := synth(200, 40*time.Second, 3, func(i int, at time.Time, r *rand.Rand) Sample {
		if (!at.Before(inject) && at.Before(inject.Add(time.Second))) || at.Equal(stray) {
			return Sample{Status: 503, Latency: time.Millisecond}
		}
		return healthy(i, at, r)
	})
	res := Analyze(record(100*time.Millisecond, ss), Input{
		Start: t0, End: t0.Add(40 * time.Second), SLO: SLO{Availability: 0.99, Recovery: Duration(5 * time.Second)},
		Faults: []Fault{{ID: "kill-1", Type: "pod-kill", Inject: inject}},
	})
	require.Len(t, res.Faults, 1)
	f := res.Faults[0]
	require.True(t, f.Recovered, "recovered despite the stray failure")
	require.NotNil(t, f.Recovery)
	assert.InDelta(t, 1.0, f.Recovery.D().Seconds(), 0.1)
}

// A sustained 5% error rate after the fault, against a 99% SLO, is not a
// recovery, with 1 s and with 100 ms windows.
func TestSustainedErrorsAreNotRecovered(t *testing.T) {
	for _, width := range []time.Duration{time.Second, 100 * time.Millisecond} {
		t.Run(width.String(), func(t *testing.T) {
			inject := t0.Add(10 * time.Second)
			healthy := okSample("a", "b")
			ss := synth(200, 40*time.Second, 4, func(i int, at time.Time, r *rand.Rand) Sample {
				if !at.Before(inject) && (at.Before(inject.Add(time.Second)) || r.Float64() < 0.05) {
					return Sample{Status: 500, Latency: time.Millisecond}
				}
				return healthy(i, at, r)
			})
			res := Analyze(record(width, ss), Input{
				Start: t0, End: t0.Add(40 * time.Second), SLO: SLO{Availability: 0.99, Recovery: Duration(5 * time.Second)},
				Faults: []Fault{{ID: "kill-1", Type: "pod-kill", Inject: inject}},
			})
			require.Len(t, res.Faults, 1)
			assert.False(t, res.Faults[0].Recovered, "5%% errors against a 99%% SLO")
			assert.Nil(t, res.Faults[0].Recovery)
			assert.Equal(t, Fail, res.Verdict)
		})
	}
}

// Latency gets the same rigour: a window is slow only when significantly
// more than 1% of its requests exceed the SLO's p99.
func TestSlowWindowNeedsEvidence(t *testing.T) {
	slo := SLO{Availability: 0.99, P99: Duration(100 * time.Millisecond)}
	w := &Window{Total: 10, OK: 10}
	for i := 0; i < 9; i++ {
		w.Latency.Record(time.Millisecond)
	}
	w.Latency.Record(time.Second) // one slow request of ten
	assert.False(t, WindowBad(w, slo))
	w2 := &Window{Total: 10, OK: 10}
	for i := 0; i < 10; i++ {
		w2.Latency.Record(300 * time.Millisecond)
	}
	assert.True(t, WindowBad(w2, slo))
}

// Evenness gates only with enough requests per pod: 10 per pod is too few
// to tell, and the run is inconclusive rather than passed.
func TestEvennessNeedsRequestsPerPod(t *testing.T) {
	pods := []string{"a", "b", "c", "d"}
	in := Input{Start: t0, End: t0.Add(2 * time.Second), SLO: SLO{Availability: 0.99, Jain: 0.9}, ReadyPods: pods}
	few := Analyze(record(time.Second, synth(20, 2*time.Second, 5, okSample(pods...))), in)
	assert.Equal(t, Inconclusive, few.Verdict, "%v", few.Reasons)
	assert.Contains(t, few.Reasons[0], "need 50 per pod")
	in.End = t0.Add(20 * time.Second)
	enough := Analyze(record(time.Second, synth(20, 20*time.Second, 5, okSample(pods...))), in)
	assert.Equal(t, Pass, enough.Verdict, "%v", enough.Reasons)
}

// A lost load source makes a run inconclusive whatever the samples that
// arrived say, and the report names it.
func TestLostLoadIsInconclusive(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := NewRecorder(t0, time.Second)
	for i := range 1000 {
		rec.Add(Sample{Start: t0.Add(time.Duration(i) * 10 * time.Millisecond), Status: 200, Latency: time.Millisecond, Pod: "a"})
	}
	in := Input{Start: t0, End: t0.Add(10 * time.Second), SLO: SLO{Availability: 0.99}, Planned: 1000, Path: "inCluster: 3 load pods"}
	require.Equal(t, Pass, Analyze(rec, in).Verdict)
	in.LostLoad = []string{"load-1 (worker2): its log ended after 312 samples without an end line"}
	r := Analyze(rec, in)
	assert.Equal(t, Inconclusive, r.Verdict)
	assert.Contains(t, strings.Join(r.Reasons, ";"), "load lost (the verdict would have been pass on the samples that arrived): load-1 (worker2)")
	assert.Equal(t, in.LostLoad, r.LostLoad, "the report names it (render: TestMarkdownNamesLostLoad)")
	assert.Equal(t, in.Path, r.Path)
}

// With keep-alive almost every request is on a reused connection: evenness
// gates on those, not on the handful of new connections.
func TestKeepAliveEvennessGatesOnReusedConnections(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := NewRecorder(t0, time.Second)
	pods := []string{"a", "b", "c", "d"}
	for i := range 2000 {
		rec.Add(Sample{Start: t0.Add(time.Duration(i) * 10 * time.Millisecond), Status: 200, Latency: time.Millisecond, Pod: pods[i%4], Reused: i >= 4})
	}
	r := Analyze(rec, Input{Start: t0, End: t0.Add(20 * time.Second), SLO: SLO{Availability: 0.99, Jain: 0.95}, ReadyPods: pods})
	require.Equal(t, Pass, r.Verdict, r.Reasons)
	for _, c := range r.Checks {
		if c.Name == "evenness (Jain)" {
			assert.Equal(t, StatusPass, c.Status)
			assert.Contains(t, c.Detail, "reused connections")
		}
	}
}
