package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/aftershock-dev/aftershock/report"
)

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderPod, "a")
	}))
	b.Cleanup(srv.Close)
	return srv
}

const benchWorkers = 16

// BenchmarkAttackVsVegeta compares the harness's attack path (vegeta +
// connection tracing + sample conversion + a report.Recorder sink) with a
// bare vegeta attack on the same localhost target at max rate for 5 s each.
// Target: rps ratio >= 0.9 (reported as harness/vegeta).
func BenchmarkAttackVsVegeta(b *testing.B) {
	srv := benchServer(b)
	const d = 5 * time.Second
	var harness, bare float64
	for i := 0; i < b.N; i++ {
		rec := report.NewRecorder(time.Now(), time.Second)
		st, err := Attack(context.Background(), Options{URL: srv.URL, MaxRate: true, Duration: d, KeepAlive: true, Workers: benchWorkers, MaxWorkers: benchWorkers}, rec.Add)
		if err != nil {
			b.Fatal(err)
		}
		harness = st.Rate()

		atk := vegeta.NewAttacker(vegeta.Workers(benchWorkers), vegeta.MaxWorkers(benchWorkers), vegeta.KeepAlive(true), vegeta.MaxBody(0))
		tgt := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: srv.URL})
		start := time.Now()
		n := 0
		for range atk.Attack(tgt, vegeta.ConstantPacer{}, d, "bare") {
			n++
		}
		bare = float64(n) / time.Since(start).Seconds()
	}
	b.ReportMetric(harness, "harness-rps")
	b.ReportMetric(bare, "vegeta-rps")
	b.ReportMetric(harness/bare, "rps-ratio")
	if harness/bare < 0.9 {
		b.Errorf("harness attack path reaches %.0f rps, bare vegeta %.0f rps: ratio %.2f < 0.9", harness, bare, harness/bare)
	}
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapAfter attacks for d at 1000/s into sink and returns the live heap
// afterwards (sink still reachable).
func heapAfter(b *testing.B, srv *httptest.Server, d time.Duration, sink func(report.Sample)) uint64 {
	if _, err := Attack(context.Background(), Options{URL: srv.URL, Rate: 1000, Duration: d}, sink); err != nil {
		b.Fatal(err)
	}
	return heapNow()
}

// BenchmarkHeapLongRun checks that the attack path keeps nothing per
// request: the live heap after a 60 s attack at 1000/s (into a constant-size
// sink: a count and one histogram) is within 10% of a 10 s one. It also
// reports what a report.Recorder costs per 100 ms window, the one structure
// that grows with run length (by windows, not by samples).
func BenchmarkHeapLongRun(b *testing.B) {
	srv := benchServer(b)
	var short, long, recShort, recLong uint64
	for i := 0; i < b.N; i++ {
		var n int
		var h report.Histogram
		sink := func(s report.Sample) { n++; h.Record(s.Latency) }
		short = heapAfter(b, srv, 10*time.Second, sink)
		long = heapAfter(b, srv, 60*time.Second, sink)
		runtime.KeepAlive(&h)

		r10 := report.NewRecorder(time.Now(), 100*time.Millisecond)
		recShort = heapAfter(b, srv, 10*time.Second, r10.Add)
		r60 := report.NewRecorder(time.Now(), 100*time.Millisecond)
		recLong = heapAfter(b, srv, 60*time.Second, r60.Add)
		runtime.KeepAlive(r10)
		runtime.KeepAlive(r60)
	}
	b.ReportMetric(float64(short)/1e6, "heap10s-MB")
	b.ReportMetric(float64(long)/1e6, "heap60s-MB")
	b.ReportMetric(float64(long)/float64(short), "heap-ratio")
	b.ReportMetric((float64(recLong)-float64(recShort))/500, "recorder-B/window")
	if float64(long) > 1.1*float64(short) {
		b.Errorf("heap after 60 s %.2f MB vs 10 s %.2f MB: the attack path grows with run length", float64(long)/1e6, float64(short)/1e6)
	}
}
