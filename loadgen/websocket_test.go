package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"github.com/aftershock-dev/aftershock/report"
)

// wsTestServer echoes as the sample app does, naming as its "pod" the
// connection's number ("c0", "c1", ...); the connection numbered dropAt
// is closed with 1001 after dropAfter. It counts handshakes.
type wsTestServer struct {
	URL       string
	dials     atomic.Int64
	dropAt    int64
	dropAfter time.Duration
}

func newWSTestServer(t *testing.T, dropAt int64, dropAfter time.Duration) *wsTestServer {
	t.Helper()
	s := &wsTestServer{dropAt: dropAt, dropAfter: dropAfter}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != sampleapp.WSPath {
			http.NotFound(w, r)
			return
		}
		n := s.dials.Add(1) - 1
		pod := fmt.Sprintf("c%d", n)
		w.Header().Set(sampleapp.HeaderPod, pod)
		w.Header().Set(sampleapp.HeaderNode, "n1")
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if n == s.dropAt {
			// the handler's Read sees the close handshake's answer and returns
			defer time.AfterFunc(s.dropAfter, func() { c.Close(websocket.StatusGoingAway, "draining") }).Stop()
		}
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("pod="+pod+" node=n1 "), msg...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/"
	return s
}

func attackWSFor(t *testing.T, o Options) ([]report.Sample, []report.ConnEvent, Stats) {
	t.Helper()
	var (
		samples []report.Sample
		events  []report.ConnEvent
	)
	o.Protocol, o.Request.Path = ProtocolWebSocket, sampleapp.WSPath
	o.OnConn = func(e report.ConnEvent) { events = append(events, e) }
	st, err := Attack(context.Background(), o, func(s report.Sample) { samples = append(samples, s) })
	require.NoError(t, err)
	return samples, events, st
}

// Messages at the rate over held connections, each echo a sample naming
// the connection's pod; a connection closed with 1001 is a drop event and
// reconnects after the back-off's first step, its first message after
// that marked new (Reused false); nothing else fails.
func TestWebSocketHeldConnectionsReconnect(t *testing.T) {
	srv := newWSTestServer(t, 1, 300*time.Millisecond)
	samples, events, st := attackWSFor(t, Options{URL: srv.URL, Rate: 200, Duration: time.Second, Connections: 3, MaxRequests: 1000})

	assert.InDelta(t, 200, float64(st.Requests), 10)
	require.Len(t, samples, int(st.Requests))
	var ups, drops []report.ConnEvent
	for _, e := range events {
		if e.Up {
			ups = append(ups, e)
		} else {
			drops = append(drops, e)
		}
	}
	require.Len(t, drops, 1, "%+v", events)
	assert.Equal(t, "c1", drops[0].Pod)
	assert.Equal(t, "close 1001 (going away)", drops[0].Reason)
	require.Len(t, ups, 4, "3 connects and 1 reconnect: %+v", events)
	re := ups[3]
	assert.Equal(t, drops[0].Conn, re.Conn)
	assert.Equal(t, "c3", re.Pod)
	took := re.At.Sub(drops[0].At)
	assert.GreaterOrEqual(t, took, WSBackoffMin)
	assert.Less(t, took, WSBackoffMin+200*time.Millisecond)

	perPod, fresh, failed := map[string]int{}, 0, 0
	for _, s := range samples {
		if !s.OK() {
			failed++
			assert.Contains(t, []string{"websocket close 1001", "websocket not connected", report.ClassReset}, report.ErrorClass(s), s.Error)
			continue
		}
		perPod[s.Pod]++
		if !s.Reused {
			fresh++
		}
		assert.Equal(t, "n1", s.Node)
		assert.Less(t, s.Latency, time.Second)
	}
	assert.Equal(t, 4, fresh, "the first message on each connection")
	assert.LessOrEqual(t, failed, int(took.Seconds()*200/3)+2, "only what was scheduled on the dropped connection while it reconnected (%s)", took)
	assert.Len(t, perPod, 4, "%v", perPod)
	assert.InDelta(t, 200/3, perPod["c0"], 5)
}

// A server that is gone: every message fails as not connected, and the
// connections retry with the doubling back-off (bounded: not hundreds of
// dials), never more often than every WSBackoffMin.
func TestWebSocketBackoffWhileDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var accepts atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			c.Close() // no handshake: a dial that fails at once
		}
	}()
	defer ln.Close()
	samples, events, _ := attackWSFor(t, Options{URL: "http://" + ln.Addr().String() + "/", Rate: 100, Duration: 1500 * time.Millisecond, Connections: 2, MaxRequests: 1000})
	assert.Empty(t, events, "never connected")
	require.NotEmpty(t, samples)
	for _, s := range samples {
		assert.Equal(t, "websocket not connected", report.ErrorClass(s), s.Error)
	}
	// 0, 50, 100, 200, 400, 800 ms apart: at most 6 dials each in 1.5 s
	assert.LessOrEqual(t, accepts.Load(), int64(12))
	assert.GreaterOrEqual(t, accepts.Load(), int64(8))
}

// Cancelling the attack ends held connections at once, and says so.
func TestWebSocketCancel(t *testing.T) {
	srv := newWSTestServer(t, -1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	n := 0
	t0 := time.Now()
	_, err := Attack(ctx, Options{URL: srv.URL, Protocol: ProtocolWebSocket, Request: Request{Path: sampleapp.WSPath}, Rate: 50, Duration: 10 * time.Second, Connections: 2}, func(report.Sample) {
		mu.Lock()
		n++
		mu.Unlock()
	})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(t0), 2*time.Second)
	assert.Positive(t, n)
}

// The probe names the pod a connection reaches, and says why a WebSocket
// load would fail: a path that is not a WebSocket, nothing listening.
func TestProbeWebSocket(t *testing.T) {
	srv := newWSTestServer(t, -1, 0)
	o := Options{URL: srv.URL, Protocol: ProtocolWebSocket, Request: Request{Path: sampleapp.WSPath}, Rate: 1, Duration: time.Second}
	pod, err := ProbeWebSocket(context.Background(), o)
	require.NoError(t, err)
	assert.Equal(t, "c0", pod)
	o.Request.Path = "/"
	_, err = ProbeWebSocket(context.Background(), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WebSocket handshake with "+srv.URL)
	assert.Contains(t, err.Error(), "404")
}
