package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/reporttest"
)

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderPod, "a")
		w.Header().Set("X-Served-By", "a")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"meta":{"pod":"a"},"path":"/","note":"pod=a"}`)
	}))
	b.Cleanup(srv.Close)
	return srv
}

const benchWorkers = 16

// attackFloor is the least rps ratio to bare vegeta the harness's attack
// path must reach in every attribution mode, keep-alive on and off.
const attackFloor = 0.95

// BenchmarkAttackVsVegeta compares the harness's attack path (vegeta +
// connection tracing + attribution + sample conversion + a report.Recorder
// sink) with a bare vegeta attack on the same localhost server at max rate,
// for each attribution mode (the sample app's header, a header of one's
// own, a JSON field, a regex, none) and keep-alive on and off: rounds
// interleave harness and bare runs of every case (so a noisy second hits
// both alike: see pairRPS) and the median ratio of the rounds is the
// figure, floor
// attackFloor. AFTERSHOCK_BENCH_ROUNDS (default 9) and
// AFTERSHOCK_BENCH_SECONDS (default 1) set the rounds and each run's length.
func BenchmarkAttackVsVegeta(b *testing.B) {
	srv := benchServer(b)
	d := time.Duration(envOr("AFTERSHOCK_BENCH_SECONDS", 1)) * time.Second
	rounds := envOr("AFTERSHOCK_BENCH_ROUNDS", 9)
	modes := []struct {
		name string
		attr Attribution
	}{
		{"sample-header", Attribution{}},
		{"header", Attribution{Header: "X-Served-By"}},
		{"json", Attribution{JSON: "meta.pod"}},
		{"regex", Attribution{Regex: regexp.MustCompile(`pod=(\w+)`)}},
		{"none", Attribution{None: true}},
	}
	type key struct {
		mode string
		keep bool
	}
	ratios := map[key][]float64{}
	for i := 0; i < b.N; i++ {
		for round := range rounds {
			for _, m := range modes {
				for _, keep := range []bool{true, false} {
					harness, bare := pairRPS(b, srv.URL, m.attr, keep, d, round)
					k := key{m.name, keep}
					ratios[k] = append(ratios[k], harness/bare)
				}
			}
		}
	}
	for _, m := range modes {
		for _, keep := range []bool{true, false} {
			r := ratios[key{m.name, keep}]
			name := fmt.Sprintf("attack/%s/keepalive=%v", m.name, keep)
			b.ReportMetric(median(r), strings.ReplaceAll(name, "/", "-")+"-ratio")
			reporttest.Figure(b, name+" rps vs bare vegeta (median of "+strconv.Itoa(len(r))+")", median(r), attackFloor, true, "x")
		}
	}
}

// benchSlices is how many turns each side of a pair takes within its d:
// short alternating turns, so a second the machine is busy elsewhere
// (the noise of a 2-core machine running both ends) falls on both sides.
const benchSlices = 4

// pairRPS runs the harness and bare vegeta in benchSlices alternating
// turns of d/benchSlices each (which side goes first alternates by round)
// and returns each side's rate over its turns.
func pairRPS(b *testing.B, url string, attr Attribution, keep bool, d time.Duration, round int) (harness, bare float64) {
	turn := d / benchSlices
	var hs, bs []float64
	for i := range 2 * benchSlices {
		runtime.GC() // each turn starts from a collected heap
		if (i+round)%2 == 0 {
			hs = append(hs, harnessRPS(b, url, attr, keep, turn))
		} else {
			bs = append(bs, bareRPS(url, keep, turn))
		}
	}
	return mean(hs), mean(bs)
}

func mean(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func harnessRPS(b *testing.B, url string, attr Attribution, keep bool, d time.Duration) float64 {
	rec := report.NewRecorder(time.Now(), time.Second)
	st, err := Attack(context.Background(), Options{URL: url, MaxRate: true, Duration: d, KeepAlive: keep, Attribution: attr,
		Workers: benchWorkers, MaxWorkers: benchWorkers}, rec.Add)
	if err != nil {
		b.Fatal(err)
	}
	return st.Rate()
}

func bareRPS(url string, keep bool, d time.Duration) float64 {
	// vegeta's own transport (NewAttacker's), kept here to close its idle
	// connections after the turn, as Attack does
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{LocalAddr: &net.TCPAddr{IP: vegeta.DefaultLocalAddr.IP}, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     vegeta.DefaultTLSConfig,
		MaxIdleConnsPerHost: vegeta.DefaultConnections,
		MaxConnsPerHost:     vegeta.DefaultMaxConnections,
		DisableKeepAlives:   !keep,
	}
	defer tr.CloseIdleConnections()
	atk := vegeta.NewAttacker(vegeta.Workers(benchWorkers), vegeta.MaxWorkers(benchWorkers),
		vegeta.Client(&http.Client{Timeout: vegeta.DefaultTimeout, Transport: tr}))
	tgt := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url})
	start := time.Now()
	n := 0
	for range atk.Attack(tgt, vegeta.ConstantPacer{}, d, "bare") {
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func envOr(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
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
	reporttest.Figure(b, "heap after a 60 s attack / after a 10 s one", float64(long)/float64(short), 1.1, false, "x")
}

// grpcFloor is the least rate ratio of gRPC load into a report.Recorder to
// the same client code into a sink that keeps nothing.
const grpcFloor = 0.9

// BenchmarkGRPCAttack: gRPC load from this host at max rate (16 calls in
// flight over one connection, to an in-process server on 127.0.0.1) into a
// report.Recorder, against the same attack whose sink keeps nothing; rounds
// interleave the two, and the median ratio is the figure (floor grpcFloor).
// It also reports a bare grpc-go loop (16 goroutines calling Invoke, no
// pacer, no samples) for scale.
func BenchmarkGRPCAttack(b *testing.B) {
	url := grpcTestServer(b, 0, 0)
	d := time.Duration(envOr("AFTERSHOCK_BENCH_SECONDS", 2)) * time.Second
	rounds := envOr("AFTERSHOCK_BENCH_ROUNDS", 9)
	o := Options{URL: url, Protocol: ProtocolGRPC, MaxRate: true, Duration: d, Workers: benchWorkers, MaxWorkers: benchWorkers}
	var ratios, vsBare, rps []float64
	for i := 0; i < b.N; i++ {
		for range rounds {
			rec := report.NewRecorder(time.Now(), time.Second)
			withRec, err := Attack(context.Background(), o, rec.Add)
			if err != nil {
				b.Fatal(err)
			}
			without, err := Attack(context.Background(), o, func(report.Sample) {})
			if err != nil {
				b.Fatal(err)
			}
			ratios = append(ratios, withRec.Rate()/without.Rate())
			rps = append(rps, withRec.Rate())
			vsBare = append(vsBare, withRec.Rate()/bareGRPC(b, url, d))
		}
	}
	b.ReportMetric(median(rps), "grpc-calls/s")
	b.ReportMetric(median(ratios), "grpc-recorder-ratio")
	b.ReportMetric(median(vsBare), "grpc-vs-bare-ratio")
	reporttest.Figure(b, "grpc rps into a Recorder vs the same attack into nothing (median of "+strconv.Itoa(len(ratios))+")", median(ratios), grpcFloor, true, "x")
}

// bareGRPC is the call rate of benchWorkers goroutines calling the
// server's method back to back over one connection for d.
func bareGRPC(b *testing.B, url string, d time.Duration) float64 {
	u, _ := neturl.Parse(url)
	conns, err := grpcClients(u.Host, 1, "", "")
	if err != nil {
		b.Fatal(err)
	}
	defer conns[0].Close()
	g := GRPC{}.withDefaults()
	var n atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for time.Since(start) < d {
				in, out := []byte{}, []byte(nil)
				if conns[0].Invoke(context.Background(), g.Method, &in, &out) == nil {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}
