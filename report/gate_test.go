package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGate(t *testing.T) {
	failedRecovery := []Check{{Name: "error budget", Status: "pass"}, {Name: "recovery (f1 pod-kill)", Status: "fail"}}
	tests := []struct {
		name    string
		verdict Verdict
		expect  *Expectation
		checks  []Check
		ok      bool
		why     string
	}{
		{"pass, no expectation", Pass, nil, nil, true, "passed"},
		{"fail, no expectation", Fail, nil, failedRecovery, false, "verdict fail, expected pass"},
		{"negative control fails", Fail, &Expectation{Verdict: Fail}, failedRecovery, true, "fail as expected"},
		{"negative control passes", Pass, &Expectation{Verdict: Fail}, nil, false, "verdict pass, expected fail"},
		{"fails for the expected reason", Fail, &Expectation{Verdict: Fail, Check: "recovery"}, failedRecovery, true, "recovery (f1 pod-kill) failed"},
		{"fails for another reason", Fail, &Expectation{Verdict: Fail, Check: "error budget"}, failedRecovery, false, `not for the expected reason "error budget"`},
		{"inconclusive, expected pass", Inconclusive, nil, nil, false, "verdict inconclusive, expected pass"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Verdict: tt.verdict, Expect: tt.expect, Checks: tt.checks}
			ok, why := r.Gate()
			assert.Equal(t, tt.ok, ok)
			assert.Contains(t, why, tt.why)
		})
	}
}

// No samples, and half the asked rate, are inconclusive, never a pass.
func TestShortLoadIsInconclusive(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in := Input{Start: t0, End: t0.Add(10 * time.Second), SLO: SLO{Availability: 0.99}, Planned: 2000}
	empty := Analyze(NewRecorder(t0, time.Second), in)
	assert.Equal(t, Inconclusive, empty.Verdict)
	assert.Contains(t, strings.Join(empty.Reasons, ";"), "no samples")

	half := NewRecorder(t0, time.Second)
	for i := 0; i < 1000; i++ {
		half.Add(Sample{Start: t0.Add(time.Duration(i) * 10 * time.Millisecond), Status: 200, Latency: time.Millisecond, Pod: "a"})
	}
	r := Analyze(half, in)
	assert.Equal(t, Inconclusive, r.Verdict)
	assert.Contains(t, strings.Join(r.Reasons, ";"), "1000 of 2000 planned requests (50%")

	in.Planned = 1000
	assert.Equal(t, Pass, Analyze(half, in).Verdict, "the full planned load passes")
}

// A shaped load must deliver each segment: a spike that was not sent
// proves nothing, even when the total is near the plan.
func TestShortSegmentIsInconclusive(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	segs := []LoadSegment{
		{Name: "0s-5s at 100/s", From: 0, To: Duration(5 * time.Second), Planned: 500},
		{Name: "5s-6s at 1000/s", From: Duration(5 * time.Second), To: Duration(6 * time.Second), Planned: 1000},
		{Name: "6s-10s at 100/s", From: Duration(6 * time.Second), To: Duration(10 * time.Second), Planned: 400},
	}
	in := Input{Start: t0, End: t0.Add(10 * time.Second), SLO: SLO{Availability: 0.99}, Planned: 1900, Segments: segs}
	send := func(spike int) *Recorder {
		rec := NewRecorder(t0, 100*time.Millisecond)
		add := func(from time.Duration, n int, over time.Duration) {
			for i := range n {
				rec.Add(Sample{Start: t0.Add(from + time.Duration(i)*over/time.Duration(n)), Status: 200, Latency: time.Millisecond, Pod: "a"})
			}
		}
		add(0, 500, 5*time.Second)
		add(5*time.Second, spike, time.Second)
		add(6*time.Second, 900, 4*time.Second) // more than asked after the spike: the total looks fine
		return rec
	}
	short := Analyze(send(600), in)
	assert.Equal(t, Inconclusive, short.Verdict)
	assert.Contains(t, strings.Join(short.Reasons, ";"), "load segment 5s-6s at 1000/s delivered 600 of 1000 planned requests (60%")
	require.Len(t, short.LoadSegments, 3)
	assert.Equal(t, []int{500, 600, 900}, []int{short.LoadSegments[0].Sent, short.LoadSegments[1].Sent, short.LoadSegments[2].Sent})

	full := Analyze(send(1000), in)
	assert.Equal(t, Pass, full.Verdict, full.Reasons)
}
