package report

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 5x spike at 10 s (the second segment), the autoscaler's 2 -> 4 at
// +20 s and 4 -> 6 at +35 s, the four added pods ready at +24, +25, +39 and
// +40 s and serving their share from then: each time is read against the
// spike, and the check passes or fails on the last added pod's ready time.
func TestScaleOutTimesFromTheSpike(t *testing.T) {
	spike := t0.Add(10 * time.Second)
	readyAt := map[string]time.Time{"c": spike.Add(24 * time.Second), "d": spike.Add(25 * time.Second), "e": spike.Add(39 * time.Second), "f": spike.Add(40 * time.Second)}
	ss := synth(100, 70*time.Second, 3, func(i int, at time.Time, r *rand.Rand) Sample {
		pods := []string{"a", "b"}
		for _, p := range []string{"c", "d", "e", "f"} {
			if !at.Before(readyAt[p]) {
				pods = append(pods, p)
			}
		}
		return Sample{Status: 200, Latency: 3 * time.Millisecond, Pod: pods[i%len(pods)]}
	})
	var tl []Event
	for p, at := range readyAt {
		tl = append(tl, Event{At: at, Kind: "pod-ready", Detail: p + " on worker"})
	}
	in := Input{Scenario: "spike", Start: t0, End: t0.Add(70 * time.Second), SLO: SLO{Availability: 0.99, ScaleOut: Duration(45 * time.Second)},
		ReadyPods: []string{"a", "b"}, Timeline: tl, Autoscaled: true,
		Segments: []LoadSegment{{Name: "base", From: 0, To: Duration(10 * time.Second), Planned: 200}, {Name: "spike", From: Duration(10 * time.Second), To: Duration(70 * time.Second), Planned: 6000}},
		Scales:   []ScaleEvent{{At: spike.Add(35 * time.Second), From: 4, To: 6}, {At: spike.Add(20 * time.Second), From: 2, To: 4}},
	}
	res := Analyze(record(100*time.Millisecond, ss), in)
	so := res.ScaleOut
	require.NotNil(t, so)
	assert.Equal(t, Duration(10*time.Second), so.SpikeAt)
	assert.Equal(t, int32(2), so.From)
	assert.Equal(t, int32(6), so.Max)
	require.NotNil(t, so.Decision)
	assert.Equal(t, Duration(20*time.Second), *so.Decision)
	require.NotNil(t, so.Ready)
	assert.Equal(t, Duration(40*time.Second), *so.Ready, "the last of the 4 added pods")
	require.NotNil(t, so.FairShare)
	assert.InDelta(t, 40, so.FairShare.D().Seconds(), 1)
	assert.Zero(t, so.Failed)
	assert.InDelta(t, 4000, so.Requests, 20, "spike to the last pod ready: 40 s at 100/s")
	var ck Check
	for _, c := range res.Checks {
		if c.Name == "scale-out" {
			ck = c
		}
	}
	assert.Equal(t, StatusPass, ck.Status, ck.Value)

	in.SLO.ScaleOut = Duration(30 * time.Second)
	assert.Equal(t, StatusFail, scaleOutCheck(Analyze(record(100*time.Millisecond, ss), in).ScaleOut, in.SLO.ScaleOut).Status)
	in.Scales = []ScaleEvent{{At: t0.Add(5 * time.Second), From: 2, To: 3}}
	so = Analyze(record(100*time.Millisecond, ss), in).ScaleOut
	assert.Nil(t, so.Decision, "a scale-up before the spike is not its answer")
	assert.Equal(t, StatusFail, scaleOutCheck(so, in.SLO.ScaleOut).Status)
}

// An autoscaler still adding pods when the load stopped: a fail once the
// load ran the limit's length after the spike (the answer took longer,
// whatever it would have been), not shown before that (it might still
// have come in time): inconclusive, never a fail on no evidence.
func TestScaleOutUnfinishedWhenTheLoadStopped(t *testing.T) {
	spike := t0.Add(10 * time.Second)
	ss := synth(100, 90*time.Second, 3, func(i int, at time.Time, r *rand.Rand) Sample {
		return Sample{Status: 200, Latency: 3 * time.Millisecond, Pod: []string{"a", "b"}[i%2]}
	})
	in := Input{Scenario: "spike", Start: t0, End: t0.Add(90 * time.Second), SLO: SLO{Availability: 0.99, ScaleOut: Duration(75 * time.Second)},
		ReadyPods: []string{"a", "b"}, Autoscaled: true,
		Segments: []LoadSegment{{Name: "base", From: 0, To: Duration(10 * time.Second), Planned: 200}, {Name: "spike", From: Duration(10 * time.Second), To: Duration(90 * time.Second), Planned: 8000}},
		// (the run of session 19: its last step 0.7 s before the load's end)
		Scales: []ScaleEvent{{At: spike.Add(29 * time.Second), From: 2, To: 4}, {At: spike.Add(44 * time.Second), From: 4, To: 7}, {At: spike.Add(89300 * time.Millisecond), From: 7, To: 8}},
	}
	res := Analyze(record(100*time.Millisecond, ss), in)
	so := res.ScaleOut
	require.NotNil(t, so)
	assert.Equal(t, Duration(80*time.Second), so.Observed)
	assert.Nil(t, so.Ready, "no added pod joined")
	c := scaleOutCheck(so, in.SLO.ScaleOut)
	assert.Equal(t, StatusFail, c.Status, "80 s watched against 75 s: %s", c.Value)
	assert.Equal(t, Fail, res.Verdict)

	in.SLO.ScaleOut = Duration(100 * time.Second)
	res = Analyze(record(100*time.Millisecond, ss), in)
	c = scaleOutCheck(res.ScaleOut, in.SLO.ScaleOut)
	assert.Equal(t, StatusSkipped, c.Status, c.Value)
	assert.Contains(t, c.Value, "the load stopped 1m20s after the spike")
	assert.Equal(t, Inconclusive, res.Verdict, res.Reasons)

	in.Scales = nil // no decision either, in 80 s of a 100 s limit
	c = scaleOutCheck(Analyze(record(100*time.Millisecond, ss), in).ScaleOut, in.SLO.ScaleOut)
	assert.Equal(t, StatusSkipped, c.Status, c.Value)
}
