package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerHeadersAndFaults(t *testing.T) {
	tests := []struct {
		name      string
		cfg       config
		wantCode  int
		minTook   time.Duration
		errorRate float64
	}{
		{name: "ok", cfg: config{pod: "p1", node: "n1"}, wantCode: 200},
		{name: "always fails", cfg: config{pod: "p1", node: "n1", errorRate: 1}, wantCode: 500},
		{name: "slow", cfg: config{pod: "p1", node: "n1", latency: 50 * time.Millisecond}, wantCode: 200, minTook: 50 * time.Millisecond},
		{name: "costly", cfg: config{pod: "p1", node: "n1", cpuPerRequest: 30 * time.Millisecond}, wantCode: 200, minTook: 30 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &app{c: tt.cfg}
			srv := httptest.NewServer(a.handler())
			defer srv.Close()
			start := time.Now()
			resp, err := http.Get(srv.URL + "/")
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tt.wantCode, resp.StatusCode)
			assert.Equal(t, "p1", resp.Header.Get(HeaderPod))
			assert.Equal(t, "n1", resp.Header.Get(HeaderNode))
			assert.GreaterOrEqual(t, time.Since(start), tt.minTook)
		})
	}
}

func TestReadinessFailsWhileDraining(t *testing.T) {
	a := &app{c: config{pod: "p"}}
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	get := func(p string) int {
		resp, err := http.Get(srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, get("/readyz"))
	a.draining.Store(true)
	assert.Equal(t, 503, get("/readyz"))
	assert.Equal(t, 200, get("/healthz"))
	assert.Equal(t, 200, get("/"), "keeps serving while draining")
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	addr := freeAddr(t)
	c := config{addr: addr, pod: "p", latency: 300 * time.Millisecond, graceful: true, shutdownDelay: 100 * time.Millisecond, drainTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	waitListening(t, addr)
	respc := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			respc <- -1
			return
		}
		resp.Body.Close()
		respc <- resp.StatusCode
	}()
	time.Sleep(50 * time.Millisecond) // request in flight
	cancel()                          // SIGTERM
	assert.Equal(t, 200, <-respc, "in-flight request finished")
	require.NoError(t, <-done)
}

// -startup-delay: nothing listens until it has passed (a pod without a
// readiness probe is sent traffic that is refused meanwhile).
func TestStartupDelayListensLate(t *testing.T) {
	addr := freeAddr(t)
	c := config{addr: addr, pod: "p", graceful: true, startupDelay: 400 * time.Millisecond, drainTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- serve(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	time.Sleep(100 * time.Millisecond)
	_, err := net.Dial("tcp", addr)
	require.Error(t, err, "refused while starting")
	waitListening(t, addr)
	assert.GreaterOrEqual(t, time.Since(t0), 400*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

// freeAddr is a 127.0.0.1 address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// waitListening waits (at most 5 s) until addr accepts a connection.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
}

// burn spends CPU, not just time: the process's CPU time grows by about d.
func TestBurnSpendsCPU(t *testing.T) {
	var before, after syscall.Rusage
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &before))
	burn(200 * time.Millisecond)
	require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &after))
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	assert.Greater(t, cpu, 100*time.Millisecond, "CPU time spent in a 200 ms burn (a busy machine may take some of it)")
}
