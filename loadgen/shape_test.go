package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/aftershock-dev/aftershock/report"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var _ vegeta.Pacer = Shape{}

// sendTimes plays the pacer as vegeta's attacker does, with no lag: each
// request goes out at the wait Pace asks for.
func sendTimes(t *testing.T, p vegeta.Pacer, bound int) []time.Duration {
	t.Helper()
	var at []time.Duration
	var elapsed time.Duration
	for hits := uint64(0); ; hits++ {
		wait, stop := p.Pace(elapsed, hits)
		if stop {
			return at
		}
		elapsed += wait
		at = append(at, elapsed)
		require.Less(t, len(at), bound, "the pacer never stops")
	}
}

// perSecond counts the send times in each whole second.
func perSecond(at []time.Duration, seconds int) []int {
	n := make([]int, seconds)
	for _, a := range at {
		if i := int(a / time.Second); i < seconds {
			n[i]++
		}
	}
	return n
}

func TestShapeSpikePacesEachSegment(t *testing.T) {
	// 100/s for 5 s, 500/s for 3 s, 100/s for 4 s
	s := Shape{{For: 5 * time.Second, From: 100, To: 100}, {For: 3 * time.Second, From: 500, To: 500}, {For: 4 * time.Second, From: 100, To: 100}}
	require.NoError(t, s.Validate())
	assert.Equal(t, 12*time.Second, s.Duration())
	assert.InDelta(t, 2400, s.Planned(), 1e-6)
	at := sendTimes(t, s, 10000)
	assert.InDelta(t, 2400, len(at), 1, "the shape's integral, then stop")
	got := perSecond(at, 12)
	want := []int{100, 100, 100, 100, 100, 500, 500, 500, 100, 100, 100, 100}
	for i := range want {
		assert.InDelta(t, want[i], got[i], 1, "second %d: %v", i, got)
	}
	assert.Equal(t, 500.0, s.Peak())
	assert.Equal(t, 500.0, s.Rate(6*time.Second))
	assert.Equal(t, 0.0, s.Rate(13*time.Second))
}

func TestShapeRampMatchesVegetasLinearPacer(t *testing.T) {
	// 10/s rising to 110/s over 10 s: what vegeta's LinearPacer sends
	s := Shape{{For: 10 * time.Second, From: 10, To: 110}}
	lin := vegeta.LinearPacer{StartAt: vegeta.ConstantPacer{Freq: 10, Per: time.Second}, Slope: 10}
	ours := perSecond(sendTimes(t, s, 10000), 10)
	for i := range 10 {
		want := lin.Rate(time.Duration(i)*time.Second + 500*time.Millisecond) // the mean over second i
		assert.InDelta(t, want, ours[i], 1.5, "second %d: %v", i, ours)
	}
	assert.InDelta(t, 600, s.Planned(), 1e-6)
}

func TestShapeBehindSendsAtOnce(t *testing.T) {
	s := Constant(100, 10*time.Second)
	wait, stop := s.Pace(2*time.Second, 50) // 200 were due
	assert.False(t, stop)
	assert.Zero(t, wait)
	wait, _ = s.Pace(2*time.Second, 200) // on time: the next in 10 ms
	assert.InDelta(t, 10*time.Millisecond, wait, float64(time.Microsecond))
	_, stop = s.Pace(10*time.Second, 1000)
	assert.True(t, stop, "past the end")
}

func TestShapeRampFromZeroAndPauses(t *testing.T) {
	s := Shape{{For: 2 * time.Second, From: 0, To: 100}, {For: time.Second}, {For: time.Second, From: 50, To: 50}}
	require.NoError(t, s.Validate())
	at := sendTimes(t, s, 1000)
	assert.InDelta(t, 150, len(at), 1)
	got := perSecond(at, 4)
	assert.InDelta(t, 25, got[0], 1)
	assert.InDelta(t, 75, got[1], 1)
	for _, a := range at {
		assert.False(t, a > 2*time.Second && a < 3*time.Second, "a pause sends nothing: one at %s", a)
	}
	assert.InDelta(t, 50, got[3], 1)
}

func TestShapeScaleAndValidate(t *testing.T) {
	s := Shape{{For: time.Second, From: 90, To: 30}}
	assert.Equal(t, Shape{{For: time.Second, From: 30, To: 10}}, s.Scale(1.0/3))
	assert.Equal(t, Shape{{For: time.Second, From: 90, To: 30}}, s, "Scale leaves s as it was")
	assert.ErrorContains(t, Shape{}.Validate(), "no segment")
	assert.ErrorContains(t, Shape{{For: 0, From: 1, To: 1}}.Validate(), "segment 1")
	assert.ErrorContains(t, Shape{{For: time.Second, From: -1, To: 1}}.Validate(), "rates >= 0")
	assert.ErrorContains(t, Shape{{For: time.Second}}.Validate(), "every rate is 0")
}

// An attack with a spike shape sends each segment's count through vegeta.
func TestAttackFollowsTheShape(t *testing.T) {
	srv := podServer(t, "a")
	sh := Shape{{For: 400 * time.Millisecond, From: 100, To: 100}, {For: 400 * time.Millisecond, From: 500, To: 500}, {For: 400 * time.Millisecond, From: 100, To: 100}}
	ss, st := collect(t, Options{URL: srv.URL, Shape: sh, Duration: sh.Duration(), KeepAlive: true, Connections: 8})
	require.InDelta(t, 280, len(ss), 5, "the shape's integral: 40 + 200 + 40")
	assert.EqualValues(t, len(ss), st.Requests)
	start := ss[0].Start
	for _, s := range ss {
		if s.Start.Before(start) {
			start = s.Start
		}
	}
	inSpike := 0
	for _, s := range ss {
		if d := s.Start.Sub(start); d >= 400*time.Millisecond && d < 800*time.Millisecond {
			inSpike++
		}
	}
	assert.InDelta(t, 200, inSpike, 20, "500/s for 400 ms")
	_, err := Attack(context.Background(), Options{URL: srv.URL, Shape: sh, RampFrom: 5, Duration: time.Second}, func(report.Sample) {})
	assert.ErrorContains(t, err, "load shape: not with")
}
