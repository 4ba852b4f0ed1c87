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

func heapAfter(b *testing.B, srv *httptest.Server, d time.Duration) uint64 {
	rec := report.NewRecorder(time.Now(), 100*time.Millisecond)
	if _, err := Attack(context.Background(), Options{URL: srv.URL, Rate: 1000, Duration: d}, rec.Add); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(rec)
	return ms.HeapAlloc
}

// BenchmarkHeapLongRun checks that memory does not grow with run length:
// the heap (after GC, recorder still live) after a 60 s attack at 1000 rps
// is within 10% of a 10 s one.
func BenchmarkHeapLongRun(b *testing.B) {
	srv := benchServer(b)
	var short, long uint64
	for i := 0; i < b.N; i++ {
		short = heapAfter(b, srv, 10*time.Second)
		long = heapAfter(b, srv, 60*time.Second)
	}
	b.ReportMetric(float64(short)/1e6, "heap10s-MB")
	b.ReportMetric(float64(long)/1e6, "heap60s-MB")
	b.ReportMetric(float64(long)/float64(short), "heap-ratio")
	if float64(long) > 1.1*float64(short) {
		b.Errorf("heap after 60 s %.1f MB vs 10 s %.1f MB: grows with run length", float64(long)/1e6, float64(short)/1e6)
	}
}
