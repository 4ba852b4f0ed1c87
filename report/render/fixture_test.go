package render

import (
	"math/rand/v2"
	"time"

	"github.com/aftershock-dev/aftershock/report"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// synth generates rate requests per second for dur, starting at t0, with
// fn deciding each sample's outcome (as report's own tests do).
func synth(rate int, dur time.Duration, seed uint64, fn func(i int, at time.Time, r *rand.Rand) report.Sample) []report.Sample {
	r := rand.New(rand.NewPCG(seed, 99))
	n := int(dur.Seconds() * float64(rate))
	out := make([]report.Sample, 0, n)
	step := time.Second / time.Duration(rate)
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * step)
		s := fn(i, at, r)
		s.Start = at
		out = append(out, s)
	}
	return out
}

func record(width time.Duration, ss []report.Sample) *report.Recorder {
	rec := report.NewRecorder(t0, width)
	for _, s := range ss {
		rec.Add(s)
	}
	return rec
}
