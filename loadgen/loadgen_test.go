package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/report"
)

// podServer answers like the sample app, naming pods round-robin.
func podServer(t testing.TB, pods ...string) *httptest.Server {
	var n atomic.Uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1) - 1
		w.Header().Set(HeaderPod, pods[i%uint64(len(pods))])
		w.Header().Set(HeaderNode, "node-1")
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func collect(t *testing.T, o Options) ([]report.Sample, Stats) {
	t.Helper()
	var ss []report.Sample
	st, err := Attack(context.Background(), o, func(s report.Sample) { ss = append(ss, s) })
	require.NoError(t, err)
	return ss, st
}

func TestSamplesCarryPodNodeAndConnectionReuse(t *testing.T) {
	srv := podServer(t, "a", "b")
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keepAlive=", keep), func(t *testing.T) {
			o := Options{URL: srv.URL, Rate: 100, Duration: 500 * time.Millisecond, KeepAlive: keep}
			if keep {
				// at most 4 connections: on a busy machine requests overlap,
				// and without a cap each overlap would open one more
				o.Connections = 4
			}
			ss, st := collect(t, o)
			require.InDelta(t, 50, len(ss), 3)
			assert.EqualValues(t, len(ss), st.Requests)
			reused := 0
			pods := map[string]int{}
			for _, s := range ss {
				require.True(t, s.OK(), "%+v", s)
				assert.Equal(t, "node-1", s.Node)
				pods[s.Pod]++
				if s.Reused {
					reused++
				}
			}
			assert.Len(t, pods, 2)
			if keep {
				assert.Greater(t, reused, len(ss)*8/10, "keep-alive reuses connections")
			} else {
				assert.Zero(t, reused, "every request on a new connection")
			}
		})
	}
}

func TestOnlyLoopbackAndBounded(t *testing.T) {
	bad := []Options{
		{URL: "http://10.0.0.1:80/", Rate: 1, Duration: time.Second},
		{URL: "http://example.com/", Rate: 1, Duration: time.Second},
		{URL: "http://172.18.0.2:30080/", Rate: 1, Duration: time.Second},
		{URL: "http://127.0.0.1:1/", Rate: 1},
		{URL: "http://127.0.0.1:1/", Duration: time.Second},
		{URL: "ftp://127.0.0.1/", Rate: 1, Duration: time.Second},
	}
	for _, o := range bad {
		_, err := Attack(context.Background(), o, func(report.Sample) {})
		require.Error(t, err, "%+v", o)
	}
	_, err := Attack(context.Background(), Options{URL: "http://192.168.1.1/", Rate: 1, Duration: time.Second}, func(report.Sample) {})
	require.ErrorContains(t, err, "not a loopback address")
	require.NoError(t, CheckLoopback("::1"))
	require.NoError(t, CheckLoopback("127.0.0.1"))

	srv := podServer(t, "a")
	start := time.Now()
	ss, _ := collect(t, Options{URL: srv.URL, Rate: 1000, Duration: 10 * time.Second, MaxRequests: 50})
	assert.Len(t, ss, 50, "count bound")
	assert.Less(t, time.Since(start), 2*time.Second)
}

func TestCancelStops(t *testing.T) {
	srv := podServer(t, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	n := 0
	_, err := Attack(ctx, Options{URL: srv.URL, Rate: 100, Duration: time.Minute}, func(report.Sample) { n++ })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.InDelta(t, 30, n, 10)
}

func TestFailuresAreSamples(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusServiceUnavailable)
	}))
	ss, _ := collect(t, Options{URL: srv.URL, Rate: 50, Duration: 200 * time.Millisecond})
	require.NotEmpty(t, ss)
	assert.Equal(t, 503, ss[0].Status)
	assert.Empty(t, ss[0].Error, "an HTTP error status is not a transport error")
	assert.False(t, ss[0].OK())
	srv.Close()
	ss, _ = collect(t, Options{URL: srv.URL, Rate: 50, Duration: 200 * time.Millisecond})
	require.NotEmpty(t, ss)
	assert.Zero(t, ss[0].Status)
	assert.Contains(t, ss[0].Error, "connection refused")
}

// TestScriptedOutageEndToEnd drives 200 rps through loadgen at a server
// that fails every request for exactly 1.0 s, and checks what report sees.
func TestScriptedOutageEndToEnd(t *testing.T) {
	var outFrom, outTo atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		if now >= outFrom.Load() && now < outTo.Load() {
			http.Error(w, "outage", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set(HeaderPod, "a")
	}))
	defer srv.Close()
	start := time.Now()
	inject := start.Add(2 * time.Second)
	outFrom.Store(inject.UnixNano())
	outTo.Store(inject.Add(time.Second).UnixNano())
	rec := report.NewRecorder(start, 100*time.Millisecond)
	_, err := Attack(context.Background(), Options{URL: srv.URL, Rate: 200, Duration: 6 * time.Second}, rec.Add)
	require.NoError(t, err)
	res := report.Analyze(rec, report.Input{Start: start, End: time.Now(), SLO: report.SLO{Availability: 0.99, RecoveryWindows: report.Duration(2 * time.Second)},
		Faults: []report.Fault{{ID: "outage", Type: "scripted", Inject: inject}}})
	f := res.Faults[0]
	require.True(t, f.Recovered, "%+v", f)
	assert.InDelta(t, 1.0, f.Recovery.D().Seconds(), 0.1)
	assert.InDelta(t, 1.0, f.Disruption.D().Seconds(), 0.1)
	assert.InEpsilon(t, 200, res.Failed, 0.1, "1 s of 200/s fails (vegeta catches up after stalls, so +/- 10%%)")
}

// Connections caps the kept-alive connections a client holds.
func TestConnectionsCap(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}))
	defer srv.Close()
	for _, c := range []int{0, 2} {
		mu.Lock()
		clear(conns)
		mu.Unlock()
		st, err := Attack(context.Background(), Options{URL: srv.URL, Rate: 400, Duration: time.Second, KeepAlive: true, Connections: c, Workers: 16}, func(report.Sample) {})
		require.NoError(t, err)
		require.Positive(t, st.Requests)
		mu.Lock()
		n := len(conns)
		mu.Unlock()
		if c > 0 {
			assert.LessOrEqual(t, n, c, "at most %d connections", c)
		} else {
			assert.Greater(t, n, 2, "uncapped, 16 workers open more than 2")
		}
	}
}

// A cancel ends the load within a second, requests in flight included,
// whatever the request timeout: an app that never answers does not hold a
// cancelled run for load.timeout.
func TestCancelEndsRequestsInFlight(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled time.Time
	time.AfterFunc(700*time.Millisecond, func() { cancelled = time.Now(); cancel() })
	var n atomic.Int64
	st, err := Attack(ctx, Options{URL: srv.URL, Rate: 50, Duration: 20 * time.Second, Timeout: 30 * time.Second}, func(s report.Sample) { n.Add(1) })
	stopped := time.Since(cancelled)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, stopped, time.Second, "the load stopped within 1 s of the cancel")
	assert.Positive(t, st.Requests, "requests in flight were returned as samples")
	assert.EqualValues(t, st.Requests, n.Load())
}

// The request timeout bounds the whole request, the body's read included,
// for HTTP/1 and h2c alike, and its failures are classed as timeouts.
func TestTimeoutBoundsHeadersAndBody(t *testing.T) {
	release := make(chan struct{})
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" { // headers at once, the body never ends
			w.Header().Set(HeaderPod, "a")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	defer close(release)
	for _, proto := range []string{ProtocolHTTP, ProtocolH2C} {
		for _, path := range []string{"/headers", "/body"} {
			t.Run(proto+path, func(t *testing.T) {
				var samples []report.Sample
				st, err := Attack(context.Background(), Options{URL: srv.URL + path, Protocol: proto, Rate: 20, Duration: 500 * time.Millisecond,
					Timeout: 200 * time.Millisecond}, func(s report.Sample) { samples = append(samples, s) })
				require.NoError(t, err)
				require.EqualValues(t, 10, st.Requests)
				for _, s := range samples {
					assert.False(t, s.OK(), "a request that outlived its timeout failed")
					assert.Equal(t, report.ClassTimeout, report.ErrorClass(s), s.Error)
					assert.Less(t, s.Latency, 600*time.Millisecond, "ended by the 200 ms timeout")
				}
			})
		}
	}
}

// h2c: every request is HTTP/2 without TLS, multiplexed over as many
// connections as asked (default 1), held for the attack and taken in turn.
func TestH2CMultiplexesOverItsConnections(t *testing.T) {
	var mu sync.Mutex
	conns, protos := map[string]int{}, map[int]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr]++
		protos[r.ProtoMajor]++
		mu.Unlock()
		w.Header().Set(HeaderPod, r.RemoteAddr)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	for _, c := range []int{0, 3} {
		mu.Lock()
		clear(conns)
		clear(protos)
		mu.Unlock()
		var reused, n int
		st, err := Attack(context.Background(), Options{URL: srv.URL, Protocol: ProtocolH2C, Rate: 150, Duration: time.Second, Connections: c}, func(s report.Sample) {
			require.True(t, s.OK(), "%+v", s)
			n++
			if s.Reused {
				reused++
			}
		})
		require.NoError(t, err)
		require.InDelta(t, 150, st.Requests, 3)
		mu.Lock()
		assert.Equal(t, map[int]int{2: int(st.Requests)}, protos, "every request HTTP/2")
		assert.Len(t, conns, max(c, 1), "connections: %v", conns)
		for addr, k := range conns {
			assert.InDelta(t, n/max(c, 1), k, 2, "taken in turn: %s", addr)
		}
		mu.Unlock()
		assert.GreaterOrEqual(t, reused, n-max(c, 1)*2, "requests after the first on a connection reuse it")
	}
	_, err := Attack(context.Background(), Options{URL: "https://127.0.0.1:1/", Protocol: ProtocolH2C, Rate: 1, Duration: time.Second}, func(report.Sample) {})
	assert.ErrorContains(t, err, "h2c is HTTP/2 without TLS")
}
