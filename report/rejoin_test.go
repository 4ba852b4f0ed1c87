package report

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pod ready at 20 s that serves a trickle (5 %) until 23 s and its
// share (1/4) after: first request at once, fair share 3 s after ready
// (+/- one 100 ms window), its first requests' latency against the
// baseline p99; slo.rejoin gates it.
func TestRejoinTimeToFairShare(t *testing.T) {
	ready := t0.Add(20 * time.Second)
	ss := synth(200, 30*time.Second, 5, func(i int, at time.Time, r *rand.Rand) Sample {
		ok := Sample{Status: 200, Latency: 3 * time.Millisecond, Pod: []string{"a", "b", "c"}[r.IntN(3)]}
		switch off := at.Sub(t0); {
		case off >= 20*time.Second && off < 23*time.Second && r.Float64() < 0.05,
			off >= 23*time.Second && r.Float64() < 0.25:
			return Sample{Status: 200, Latency: 40 * time.Millisecond, Pod: "d"}
		}
		return ok
	})
	in := func(slo SLO, events ...Event) Input {
		return Input{Scenario: "rejoin", Start: t0, End: t0.Add(30 * time.Second), SLO: slo,
			ReadyPods: []string{"a", "b", "c"},
			Timeline:  append([]Event{{At: t0.Add(-2 * time.Second), Kind: "pod-ready", Detail: "a on w1"}}, events...)}
	}
	readyD := Event{At: ready, Kind: "pod-ready", Detail: "d on worker2"}
	res := Analyze(record(100*time.Millisecond, ss), in(SLO{Availability: 0.99, Rejoin: Duration(5 * time.Second)}, readyD))
	require.Len(t, res.Rejoins, 1, "pods ready before the load started are not rejoins")
	rj := res.Rejoins[0]
	assert.Equal(t, "d", rj.Pod)
	require.NotNil(t, rj.FirstRequest)
	assert.LessOrEqual(t, rj.FirstRequest.D(), 300*time.Millisecond)
	require.NotNil(t, rj.FairShare)
	assert.InDelta(t, 3.0, rj.FairShare.D().Seconds(), 0.1, "3 s +/- one window")
	assert.Equal(t, FirstSamples, rj.FirstRequests)
	assert.Equal(t, 40*time.Millisecond, rj.FirstLatencyP50.D(), "kept exactly, not from a histogram")
	assert.InDelta(t, 3, rj.SteadyP99.D().Seconds()*1000, 0.05, "steady p99 in ms, before d joined")
	assert.Equal(t, Pass, res.Verdict, "%v", res.Reasons)
	assert.Contains(t, rj.String(), "d: first request ")
	assert.Equal(t, ready, rj.Ready, "the report shows it joined at +20s (render: TestMarkdownShowsRejoins)")
	assert.Equal(t, "< 100ms", Rejoin{FirstRequest: new(Duration), Precision: Duration(100 * time.Millisecond)}.FirstRequestText())

	res = Analyze(record(100*time.Millisecond, ss), in(SLO{Availability: 0.99, Rejoin: Duration(2 * time.Second)}, readyD))
	assert.Equal(t, Fail, res.Verdict)
	assert.Contains(t, res.Reasons[0], "rejoin d: 3")

	// ready 2 s before the end, never at its share: not shown either way
	late := Event{At: t0.Add(28 * time.Second), Kind: "pod-ready", Detail: "e on worker"}
	res = Analyze(record(100*time.Millisecond, ss), in(SLO{Availability: 0.99, Rejoin: Duration(5 * time.Second)}, readyD, late))
	require.Len(t, res.Rejoins, 2)
	assert.Nil(t, res.Rejoins[1].FirstRequest)
	assert.Equal(t, Inconclusive, res.Verdict, "%v", res.Reasons)

	// no pod became ready: a rejoin gate cannot pass
	res = Analyze(record(100*time.Millisecond, ss), in(SLO{Availability: 0.99, Rejoin: Duration(5 * time.Second)}))
	assert.Equal(t, Inconclusive, res.Verdict)
	assert.Contains(t, res.Reasons[0], "no pod became ready during the run")
}

// A pod told to stop at 10 s that keeps serving until 13 s (a graceful
// shutdown while the endpoints drop it) served about 3 s after; one that
// stopped serving before it was told to served nothing after; the report's
// table says so.
func TestRetirementServedAfterStop(t *testing.T) {
	stop := t0.Add(10 * time.Second)
	ss := synth(200, 20*time.Second, 5, func(i int, at time.Time, r *rand.Rand) Sample {
		pod := []string{"a", "b", "c"}[r.IntN(3)]
		switch off := at.Sub(t0); {
		case pod == "a" && off >= 13*time.Second:
			pod = "b"
		case pod == "c" && off >= 8*time.Second:
			pod = "b"
		}
		return Sample{Status: 200, Latency: 3 * time.Millisecond, Pod: pod}
	})
	in := Input{Scenario: "retire", Start: t0, End: t0.Add(20 * time.Second), SLO: SLO{Availability: 0.99}, ReadyPods: []string{"a", "b", "c"},
		Timeline: []Event{
			{At: t0.Add(-time.Second), Kind: "pod-stopping", Detail: "z on w1"}, // before the load: not counted
			{At: stop, Kind: "pod-stopping", Detail: "a on w1"},
			{At: stop, Kind: "pod-stopping", Detail: "c on w2"},
		}}
	res := Analyze(record(100*time.Millisecond, ss), in)
	require.Len(t, res.Retired, 2)
	a, c := res.Retired[0], res.Retired[1]
	assert.Equal(t, "a", a.Pod)
	require.NotNil(t, a.ServedFor)
	assert.InDelta(t, 3.0, a.ServedFor.D().Seconds(), 0.11, "3 s +/- one window")
	assert.InDelta(t, 200*3/3, a.Requests, 120, "about a third of 3 s at 200/s")
	assert.Equal(t, "c", c.Pod)
	assert.Nil(t, c.ServedFor)
	assert.Zero(t, c.Requests)
	assert.Equal(t, "nothing after", c.ServedForText())
	assert.Contains(t, a.ServedForText(), "(±100ms)")
}
