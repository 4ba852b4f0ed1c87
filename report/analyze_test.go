package report

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// synth generates rate requests per second for dur, starting at t0 plus a
// jitter, with fn deciding each sample's outcome.
func synth(rate int, dur time.Duration, seed uint64, fn func(i int, at time.Time, r *rand.Rand) Sample) []Sample {
	r := rand.New(rand.NewPCG(seed, 99))
	n := int(dur.Seconds() * float64(rate))
	out := make([]Sample, 0, n)
	step := time.Second / time.Duration(rate)
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * step)
		s := fn(i, at, r)
		s.Start = at
		out = append(out, s)
	}
	return out
}

func okSample(pods ...string) func(int, time.Time, *rand.Rand) Sample {
	return func(i int, _ time.Time, r *rand.Rand) Sample {
		return Sample{Status: 200, Latency: time.Duration(2+r.IntN(3)) * time.Millisecond, Pod: pods[r.IntN(len(pods))]}
	}
}

func record(width time.Duration, ss []Sample) *Recorder {
	rec := NewRecorder(t0, width)
	for _, s := range ss {
		rec.Add(s)
	}
	return rec
}

func TestOutageOfOneSecondIsMeasured(t *testing.T) {
	for _, offset := range []time.Duration{0, 37 * time.Millisecond, 50 * time.Millisecond} {
		t.Run(fmt.Sprint("inject+", offset), func(t *testing.T) {
			inject := t0.Add(10*time.Second + offset)
			healthy := okSample("a", "b", "c")
			ss := synth(200, 30*time.Second, 1, func(i int, at time.Time, r *rand.Rand) Sample {
				if !at.Before(inject) && at.Before(inject.Add(time.Second)) {
					return Sample{Status: 503, Latency: time.Millisecond}
				}
				return healthy(i, at, r)
			})
			res := Analyze(record(100*time.Millisecond, ss), Input{
				Scenario: "outage", Start: t0, End: t0.Add(30 * time.Second),
				SLO:    SLO{Availability: 0.99, Recovery: Duration(5 * time.Second)},
				Faults: []Fault{{ID: "kill-1", Type: "pod-kill", Inject: inject}},
			})
			require.Len(t, res.Faults, 1)
			f := res.Faults[0]
			require.True(t, f.Recovered)
			require.NotNil(t, f.Recovery)
			assert.InDelta(t, 1.0, f.Recovery.D().Seconds(), 0.1, "recovery")
			assert.InDelta(t, 1.0, f.Disruption.D().Seconds(), 0.1, "disruption")
			assert.InDelta(t, 1.0, f.LongestBadRun.D().Seconds(), 0.1, "longest bad run")
			require.NotNil(t, f.FirstError)
			assert.Less(t, f.FirstError.D(), 10*time.Millisecond)
			assert.True(t, f.LandedVerdict, "clients saw it")
			// 200 of 6000 failed against a 1% budget of 60: consumed 3.33
			assert.InDelta(t, 200.0/60, res.Budget.Consumed, 0.01)
			assert.Equal(t, Fail, res.Verdict)
			assert.InDelta(t, 100, res.Budget.MaxBurnRate, 0.01, "a window of only failures burns at 1/(1-A)")
		})
	}
}

func TestNoOutageReportsNoRecovery(t *testing.T) {
	ss := synth(200, 30*time.Second, 2, okSample("a", "b"))
	res := Analyze(record(100*time.Millisecond, ss), Input{
		Start: t0, End: t0.Add(30 * time.Second), SLO: SLO{Availability: 0.99, Recovery: Duration(5 * time.Second)},
		Faults: []Fault{{ID: "kill-1", Type: "pod-kill", Inject: t0.Add(10 * time.Second), Landed: ptrTo(true), Evidence: "pod deleted"}},
	})
	f := res.Faults[0]
	assert.False(t, f.Impact)
	assert.Nil(t, f.Recovery)
	assert.Nil(t, f.FirstError)
	assert.Zero(t, f.Disruption)
	assert.Equal(t, Pass, res.Verdict, res.Reasons)
}

func ptrTo[T any](v T) *T { return &v }

func TestEvennessDetectsSkew(t *testing.T) {
	pods := []string{"a", "b", "c", "d"}
	// exactly 40/20/20/20: a, a, b, c, d, a, a, b, ...
	weighted := func(i int, _ time.Time, r *rand.Rand) Sample {
		return Sample{Status: 200, Latency: time.Millisecond, Pod: []string{"a", "a", "b", "c", "d"}[i%5]}
	}
	skew := Analyze(record(time.Second, synth(200, 10*time.Second, 3, weighted)), Input{Start: t0, End: t0.Add(10 * time.Second), SLO: SLO{Availability: 0.99, Jain: 0.9}, ReadyPods: pods})
	e := skew.Phases[0].New
	require.NotNil(t, e)
	assert.Less(t, e.Jain, 0.9)
	assert.Less(t, e.PValue, 0.001)
	assert.InDelta(t, 2.0, e.MaxMin, 0.3)
	assert.Equal(t, Fail, skew.Verdict)

	uniform := Analyze(record(time.Second, synth(200, 10*time.Second, 4, okSample(pods...))), Input{Start: t0, End: t0.Add(10 * time.Second), SLO: SLO{Availability: 0.99, Jain: 0.9}, ReadyPods: pods})
	e = uniform.Phases[0].New
	require.NotNil(t, e)
	assert.Greater(t, e.Jain, 0.98)
	assert.Greater(t, e.PValue, 0.01)
	assert.Less(t, e.CV, 0.1)
	assert.Equal(t, Pass, uniform.Verdict, uniform.Reasons)
}

// Unattributed (attribution: auto found no pod name) with an slo.jain:
// evenness was not measured, so the verdict is inconclusive, not a fail.
func TestEvennessNotMeasuredIsInconclusive(t *testing.T) {
	res := Analyze(record(time.Second, synth(200, 10*time.Second, 4, okSample(""))), Input{Start: t0, End: t0.Add(10 * time.Second),
		SLO: SLO{Availability: 0.99, Jain: 0.9}, Unattributed: true})
	assert.Equal(t, Inconclusive, res.Verdict, res.Reasons)
	assert.Contains(t, strings.Join(res.Reasons, "; "), "evenness not measured: responses name no pod")
}

func TestEvennessCountsReadyPodThatGotNothing(t *testing.T) {
	e := Even(map[string]int{"a": 100, "b": 100, "c": 100}, []string{"a", "b", "c", "d"})
	require.Len(t, e.Pods, 4)
	assert.Zero(t, e.MaxMin, "min is zero")
	assert.InDelta(t, 0.75, e.Jain, 1e-9)
	assert.Less(t, e.PValue, 1e-6)
	assert.Nil(t, Even(nil, []string{"a"}))
}

func TestKeepAliveAndNewConnectionsKeptApart(t *testing.T) {
	ss := synth(100, 5*time.Second, 5, func(i int, _ time.Time, r *rand.Rand) Sample {
		if i%2 == 0 {
			return Sample{Status: 200, Pod: []string{"a", "b"}[r.IntN(2)]}
		}
		return Sample{Status: 200, Pod: "a", Reused: true} // pinned
	})
	res := Analyze(record(time.Second, ss), Input{Start: t0, End: t0.Add(5 * time.Second), SLO: SLO{Availability: 0.99}, ReadyPods: []string{"a", "b"}})
	p := res.Phases[0]
	require.NotNil(t, p.New)
	require.NotNil(t, p.Reused)
	assert.Greater(t, p.New.Jain, 0.95)
	assert.InDelta(t, 0.5, p.Reused.Jain, 1e-9, "keep-alive pinned to one of two pods")
}

func TestBudget(t *testing.T) {
	tests := []struct {
		name     string
		failRate float64
		consumed float64
		verdict  Verdict
	}{
		{"0.5% failures", 0.005, 0.50, Pass},
		{"2% failures", 0.02, 2.0, Fail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			healthy := okSample("a", "b")
			ss := synth(200, 60*time.Second, 6, func(i int, at time.Time, r *rand.Rand) Sample {
				if i%int(1/tt.failRate) == 0 { // exactly tt.failRate
					return Sample{Error: "connection reset by peer"}
				}
				return healthy(i, at, r)
			})
			res := Analyze(record(time.Second, ss), Input{Start: t0, End: t0.Add(60 * time.Second), SLO: SLO{Availability: 0.99}})
			assert.InDelta(t, tt.consumed, res.Budget.Consumed, 0.05)
			assert.Equal(t, tt.verdict, res.Verdict, res.Reasons)
		})
	}
}

func TestFaultWithNoVisibleEffectIsInconclusive(t *testing.T) {
	ss := synth(200, 20*time.Second, 7, okSample("a", "b"))
	in := Input{Start: t0, End: t0.Add(20 * time.Second), SLO: SLO{Availability: 0.99},
		Faults: []Fault{{ID: "delay-1", Type: "network-delay", Inject: t0.Add(5 * time.Second), Revert: t0.Add(15 * time.Second), ExpectedDelay: Duration(200 * time.Millisecond)}}}
	res := Analyze(record(100*time.Millisecond, ss), in)
	assert.Equal(t, Inconclusive, res.Verdict)
	assert.Contains(t, res.Reasons[0], "not shown to have landed")

	in.Faults = []Fault{{ID: "kill-1", Type: "pod-kill", Inject: t0.Add(5 * time.Second)}}
	assert.Equal(t, Inconclusive, Analyze(record(100*time.Millisecond, ss), in).Verdict, "no evidence either way")

	in.Faults = []Fault{{ID: "kill-1", Type: "pod-kill", Inject: t0.Add(5 * time.Second), Landed: ptrTo(false), Evidence: "pod never went away"}}
	assert.Equal(t, Inconclusive, Analyze(record(100*time.Millisecond, ss), in).Verdict)
}

func TestDelayThatLandedIsSeenInLatency(t *testing.T) {
	inject, revert := t0.Add(5*time.Second), t0.Add(15*time.Second)
	ss := synth(200, 20*time.Second, 8, func(i int, at time.Time, r *rand.Rand) Sample {
		l := 2 * time.Millisecond
		if !at.Before(inject) && at.Before(revert) {
			l += 200 * time.Millisecond
		}
		return Sample{Status: 200, Latency: l, Pod: "a"}
	})
	res := Analyze(record(100*time.Millisecond, ss), Input{Start: t0, End: t0.Add(20 * time.Second), SLO: SLO{Availability: 0.99, P99: Duration(time.Second)},
		Faults: []Fault{{ID: "delay-1", Type: "network-delay", Inject: inject, Revert: revert, ExpectedDelay: Duration(200 * time.Millisecond)}}})
	assert.Equal(t, Pass, res.Verdict, res.Reasons)
	require.Len(t, res.Phases, 3)
	assert.InDelta(t, 202, res.Phases[1].Latency.P50.D().Seconds()*1000, 5)
	assert.InDelta(t, 2, res.Phases[0].Latency.P50.D().Seconds()*1000, 0.1)
	assert.Contains(t, res.Faults[0].LandedWhy, "expected +200ms")
}

// A delay whose inject took most of its time (three pods, a loaded
// machine): the p50 that shows it landed is taken from when it was in
// place, not from when the inject began.
func TestDelayCountsFromWhenItWasInPlace(t *testing.T) {
	inject, inPlace, revert := t0.Add(5*time.Second), t0.Add(13*time.Second), t0.Add(17*time.Second)
	ss := synth(200, 20*time.Second, 8, func(i int, at time.Time, r *rand.Rand) Sample {
		l := 2 * time.Millisecond
		if !at.Before(inPlace) && at.Before(revert) {
			l += 200 * time.Millisecond
		}
		return Sample{Status: 200, Latency: l, Pod: "a"}
	})
	f := Fault{ID: "delay-1", Type: "network-delay", Inject: inject, Revert: revert, ExpectedDelay: Duration(200 * time.Millisecond)}
	in := Input{Start: t0, End: t0.Add(20 * time.Second), SLO: SLO{Availability: 0.99, P99: Duration(time.Second)}, Faults: []Fault{f}}
	res := Analyze(record(100*time.Millisecond, ss), in)
	assert.Equal(t, Inconclusive, res.Verdict, "counted from the inject, 8 of its 12 s are undelayed")

	in.Faults[0].InPlace = &inPlace
	res = Analyze(record(100*time.Millisecond, ss), in)
	assert.Equal(t, Pass, res.Verdict, res.Reasons)
	assert.True(t, res.Faults[0].LandedVerdict)
	assert.Contains(t, res.Faults[0].LandedWhy, "+200ms")
}

func TestNotRecoveredFails(t *testing.T) {
	inject := t0.Add(5 * time.Second)
	ss := synth(100, 10*time.Second, 9, func(i int, at time.Time, r *rand.Rand) Sample {
		if at.After(inject) {
			return Sample{Error: "connection refused"}
		}
		return Sample{Status: 200, Pod: "a"}
	})
	res := Analyze(record(time.Second, ss), Input{Start: t0, End: t0.Add(10 * time.Second), SLO: SLO{Availability: 0.99, Recovery: Duration(3 * time.Second)},
		Faults: []Fault{{ID: "stop-1", Type: "node-stop", Inject: inject}}})
	f := res.Faults[0]
	assert.True(t, f.Impact)
	assert.False(t, f.Recovered)
	assert.Equal(t, Fail, res.Verdict)
	var rec *Check
	for i := range res.Checks {
		if res.Checks[i].Name == "recovery stop-1" {
			rec = &res.Checks[i]
		}
	}
	require.NotNil(t, rec)
	assert.Equal(t, StatusFail, rec.Status)
	assert.Contains(t, rec.Value, "not recovered")
}

func TestRecorderClampsWindowAndDropsEarlySamples(t *testing.T) {
	rec := NewRecorder(t0, 10*time.Millisecond)
	assert.Equal(t, MinWindow, rec.Width())
	rec.Add(Sample{Start: t0.Add(-time.Second), Status: 200})
	rec.Add(Sample{Start: t0.Add(250 * time.Millisecond), Status: 200})
	require.Len(t, rec.Windows(), 3)
	assert.Equal(t, 1, rec.Windows()[2].Total)
	assert.Equal(t, DefaultWindow, NewRecorder(t0, 0).Width())
}

func TestEvennessSkipsWindowsWhileTheReadySetChanges(t *testing.T) {
	// pod c is replaced by d at 10 s; the set settles at 12 s
	ss := synth(100, 20*time.Second, 11, func(i int, at time.Time, r *rand.Rand) Sample {
		pods := []string{"a", "b", "c"}
		switch {
		case at.After(t0.Add(10 * time.Second)):
			pods = []string{"a", "b", "d"}
		}
		return Sample{Status: 200, Pod: pods[i%3]}
	})
	in := Input{Start: t0, End: t0.Add(20 * time.Second), SLO: SLO{Availability: 0.99}}
	mixed := Analyze(record(time.Second, ss), in).Phases[0].New
	assert.Len(t, mixed.Pods, 4, "without stability info every pod seen counts")
	assert.Less(t, mixed.Jain, 0.9)

	in.Unstable = []Span{{From: t0.Add(9500 * time.Millisecond), To: t0.Add(12 * time.Second)}}
	res := Analyze(record(time.Second, ss), in)
	assert.Equal(t, 9, res.Phases[0].StableWindows, "windows 0-8: the longest stretch before the change")
	e := res.Phases[0].New
	require.NotNil(t, e)
	assert.Equal(t, 900, e.Requests)
	assert.Len(t, e.Pods, 3)
	assert.Greater(t, e.Jain, 0.999)
	assert.Equal(t, 2000, res.Phases[0].Requests, "availability still counts every window")
}

// Failures that start with the load and end before any fault, with none
// after (the path to the app was not ready: the freshly created cluster's
// in-cluster path timed out 370 of 4800 requests in its first 3.5 s) are the
// harness's: inconclusive, naming the path, never a fail of the app. The
// same failures after a fault, or a second run of them, stay the app's.
func TestFailuresOfTheLoadPathAreInconclusive(t *testing.T) {
	inject := t0.Add(15 * time.Second)
	healthy := okSample("a", "b", "c")
	run := func(bad func(at time.Time) bool) *Result {
		ss := synth(120, 40*time.Second, 3, func(i int, at time.Time, r *rand.Rand) Sample {
			if bad(at) {
				return Sample{Error: "Get \"http://web.ns.svc.cluster.local/\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", Latency: 2 * time.Second}
			}
			return healthy(i, at, r)
		})
		return Analyze(record(100*time.Millisecond, ss), Input{
			Scenario: "incluster", Start: t0, End: t0.Add(40 * time.Second), Path: "inCluster: 3 load pods to http://web.ns.svc.cluster.local/",
			SLO:    SLO{Availability: 0.99},
			Faults: []Fault{{ID: "pod-kill-1", Type: "pod-kill", Inject: inject}},
		})
	}
	res := run(func(at time.Time) bool { return at.Before(t0.Add(3500 * time.Millisecond)) })
	assert.Equal(t, Inconclusive, res.Verdict, res.Reasons)
	assert.Contains(t, fmt.Sprint(res.Reasons), "before any fault, and none after: the load path was not ready, not the app (inCluster: 3 load pods")

	// the same outage starting 2 s into the load: the app's
	res = run(func(at time.Time) bool {
		return !at.Before(t0.Add(2*time.Second)) && at.Before(t0.Add(5500*time.Millisecond))
	})
	assert.Equal(t, Fail, res.Verdict, res.Reasons)
	// a start-up outage and failures after the fault: the app's
	res = run(func(at time.Time) bool {
		return at.Before(t0.Add(3500*time.Millisecond)) || (!at.Before(inject) && at.Before(inject.Add(2*time.Second)))
	})
	assert.Equal(t, Fail, res.Verdict, res.Reasons)
	// lasting into the fault: the app's
	res = run(func(at time.Time) bool { return at.Before(inject.Add(time.Second)) })
	assert.Equal(t, Fail, res.Verdict, res.Reasons)
}

// slo.rollout: per deploy event, its failed requests (by class) against the
// limit, and its time to complete against the duration.
func TestRolloutCheckPerDeployEvent(t *testing.T) {
	inject := t0.Add(10 * time.Second)
	complete := inject.Add(15 * time.Second)
	run := func(failed int, landed *time.Time, slo RolloutSLO) Check {
		healthy := okSample("a", "b")
		n := 0
		ss := synth(100, 40*time.Second, 3, func(i int, at time.Time, r *rand.Rand) Sample {
			if at.After(inject.Add(2*time.Second)) && n < failed {
				n++
				return Sample{Error: "dial tcp 127.0.0.1:1: connect: connection refused"}
			}
			return healthy(i, at, r)
		})
		res := Analyze(record(100*time.Millisecond, ss), Input{
			Scenario: "rollout", Start: t0, End: t0.Add(40 * time.Second),
			SLO: SLO{Availability: 0.9, Rollout: &slo},
			Faults: []Fault{
				{ID: "kill-1", Type: "pod-kill", Inject: t0.Add(time.Second)},
				{ID: "restart-1", Type: "rollout-restart", Deploy: true, Inject: inject, LandedAt: landed},
			},
		})
		var got []Check
		for _, c := range res.Checks {
			if strings.HasPrefix(c.Name, "rollout ") {
				got = append(got, c)
			}
		}
		require.Len(t, got, 1, "one check per deploy event, none for the pod kill")
		return got[0]
	}
	c := run(0, &complete, RolloutSLO{Errors: 0, Duration: Duration(90 * time.Second)})
	assert.Equal(t, "rollout restart-1", c.Name)
	assert.Equal(t, StatusPass, c.Status, c.Value)
	assert.Contains(t, c.Value, "0 failed, complete in 15s")

	c = run(3, &complete, RolloutSLO{Errors: 0})
	assert.Equal(t, StatusFail, c.Status)
	assert.Contains(t, c.Value, "3 failed (refused 3)")
	c = run(3, &complete, RolloutSLO{Errors: 3})
	assert.Equal(t, StatusPass, c.Status, "at the limit")

	c = run(0, &complete, RolloutSLO{Errors: 0, Duration: Duration(10 * time.Second)})
	assert.Equal(t, StatusFail, c.Status, "complete in 15s, limit 10s")
	c = run(0, nil, RolloutSLO{Errors: 0, Duration: Duration(90 * time.Second)})
	assert.Equal(t, StatusFail, c.Status)
	assert.Contains(t, c.Value, "not complete within the 30s watched")
}
