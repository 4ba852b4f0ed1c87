package report

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/aftershock-dev/aftershock/report/reporttest"
)

// hourOfSamples calls fn with a simulated hour of load: 1000 requests per
// second for 3600 s (3.6 million samples), latencies log-normal around
// 3 ms with a 1% tail up to 300 ms, 4 pods, 0.1% failed.
func hourOfSamples(t0 time.Time, fn func(Sample)) {
	r := rand.New(rand.NewPCG(7, 11))
	pods := []string{"web-6d4f-a", "web-6d4f-b", "web-6d4f-c", "web-6d4f-d"}
	for i := 0; i < 3_600_000; i++ {
		lat := time.Duration(3e6 * math.Exp(0.5*r.NormFloat64()))
		if r.IntN(100) == 0 {
			lat += time.Duration(r.Int64N(int64(300 * time.Millisecond)))
		}
		s := Sample{Start: t0.Add(time.Duration(i) * time.Millisecond), Latency: lat, Status: 200, Pod: pods[i%4], Reused: i%3 != 0}
		if r.IntN(1000) == 0 {
			s = Sample{Start: s.Start, Latency: lat, Error: "read: connection reset by peer"}
		}
		fn(s)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkRecorderSimulatedHour feeds a simulated hour (3.6 million
// samples at 1000/s into 36,000 windows of 100 ms) and reports the bytes
// the recorder holds, in total and per window. Targets: at most 40 MB in
// all; p50 and p99 of the whole run within 1% of the exact values.
func BenchmarkRecorderSimulatedHour(b *testing.B) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var held uint64
	var errP50, errP99 float64
	for i := 0; i < b.N; i++ {
		lats := make([]time.Duration, 0, 3_600_000)
		hourOfSamples(t0, func(s Sample) { lats = append(lats, s.Latency) })
		slices.Sort(lats)
		exact := func(q float64) time.Duration { return lats[int(math.Ceil(q*float64(len(lats))))-1] }
		p50, p99 := exact(0.5), exact(0.99)
		lats = nil

		before := heapInUse()
		rec := NewRecorder(t0, 100*time.Millisecond)
		hourOfSamples(t0, rec.Add)
		held = heapInUse() - before
		if n := len(rec.Windows()); n != 36_000 {
			b.Fatalf("%d windows, want 36000", n)
		}
		var h Histogram
		for _, w := range rec.Windows() {
			h.Merge(&w.Latency)
		}
		runtime.KeepAlive(rec)
		errP50 = math.Abs(float64(h.Quantile(0.5)-p50)) / float64(p50)
		errP99 = math.Abs(float64(h.Quantile(0.99)-p99)) / float64(p99)
	}
	b.ReportMetric(float64(held)/1e6, "held-MB")
	b.ReportMetric(float64(held)/36_000, "B/window")
	b.ReportMetric(100*errP50, "p50-err-%")
	b.ReportMetric(100*errP99, "p99-err-%")
	reporttest.Figure(b, "recorder after a simulated hour (36,000 windows)", float64(held)/1e6, 40, false, "MB")
	reporttest.Figure(b, "recorder p50 error over a simulated hour", 100*errP50, 1, false, "%")
	reporttest.Figure(b, "recorder p99 error over a simulated hour", 100*errP99, 1, false, "%")
}
