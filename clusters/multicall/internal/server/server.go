// Package server is the sample app, the application under test: a small HTTP server that
// says which pod and node served each request.
//
// Every response carries X-Aftershock-Pod and X-Aftershock-Node (from the
// POD_NAME and NODE_NAME environment variables, set through the downward API).
// The same port serves gRPC (HTTP/2 without TLS), see grpc.go, and a
// WebSocket echo on /ws, see ws.go.
// /healthz is liveness, /readyz readiness. On SIGTERM it fails readiness,
// keeps serving for -shutdown-delay (so endpoints can drop it), then finishes
// in-flight requests and exits. -latency and -error-rate make it slow or
// faulty on purpose, for negative controls; -graceful=false exits at once;
// -startup-delay makes it slow to start (it listens only after it).
//
// It does not import any aftershock package: it is what users' apps look like.
// cmd/sampleapp runs it alone; the aftershock executable runs it as its
// "sampleapp" role (clusters/multicall), which is how its image is built.
package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/health"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
)

// Header names set on every response.
const (
	HeaderPod  = sampleapp.HeaderPod
	HeaderNode = sampleapp.HeaderNode
)

type config struct {
	addr          string
	latency       time.Duration
	errorRate     float64
	graceful      bool
	shutdownDelay time.Duration
	startupDelay  time.Duration
	drainTimeout  time.Duration
	cpuPerRequest time.Duration
	pod, node     string
}

// Main runs the sample app with command-line args (without the program
// name) and returns the process exit code.
func Main(args []string) int {
	var c config
	fs := flag.NewFlagSet("sampleapp", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", fmt.Sprintf(":%d", sampleapp.Port), "listen address")
	fs.DurationVar(&c.latency, "latency", 0, "added to every / response")
	fs.Float64Var(&c.errorRate, "error-rate", 0, "fraction of / requests answered 500 (0..1)")
	fs.BoolVar(&c.graceful, "graceful", true, "on SIGTERM fail readiness, drain, then exit; false exits at once")
	fs.DurationVar(&c.shutdownDelay, "shutdown-delay", 3*time.Second, "how long to keep serving after failing readiness on SIGTERM")
	fs.DurationVar(&c.startupDelay, "startup-delay", 0, "how long it takes to start listening (a slow start)")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Second, "how long in-flight requests may take to finish")
	fs.DurationVar(&c.cpuPerRequest, "cpu-per-request", 0, "CPU time every / request spends (a busy loop), so that load moves its CPU use (autoscaling)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c.pod, c.node = os.Getenv("POD_NAME"), os.Getenv("NODE_NAME")
	if c.pod == "" {
		c.pod, _ = os.Hostname()
	}
	if c.errorRate < 0 || c.errorRate > 1 {
		fmt.Fprintf(os.Stderr, "sampleapp: -error-rate %v: want a fraction between 0 and 1\n", c.errorRate)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx, c, log); err != nil {
		log.Error("sampleapp", "err", err)
		return 1
	}
	return 0
}

type app struct {
	c        config
	draining atomic.Bool
	health   *health.Server // the gRPC health service (grpcServer)
	ws       webSockets     // the WebSocket echo's held connections
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		a.stamp(w)
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		a.stamp(w)
		if a.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc(sampleapp.WSPath, a.websocket)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.stamp(w)
		if a.c.cpuPerRequest > 0 {
			burn(a.c.cpuPerRequest)
		}
		if a.c.latency > 0 {
			select {
			case <-time.After(a.c.latency):
			case <-r.Context().Done():
				return
			}
		}
		if a.c.errorRate > 0 && rand.Float64() < a.c.errorRate {
			http.Error(w, "injected error", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "pod=%s node=%s\n", a.c.pod, a.c.node)
	})
	return mux
}

// burn keeps one CPU busy for d (of wall time: a busy loop, no sleep).
func burn(d time.Duration) {
	var sum [32]byte
	for end := time.Now().Add(d); time.Now().Before(end); {
		sum = sha256.Sum256(sum[:])
	}
	_ = sum
}

func (a *app) stamp(w http.ResponseWriter) {
	w.Header().Set(HeaderPod, a.c.pod)
	w.Header().Set(HeaderNode, a.c.node)
}

func serve(ctx context.Context, c config, log *slog.Logger) error {
	a := &app{c: c}
	if c.startupDelay > 0 {
		log.Info("starting slowly: listening in", "delay", c.startupDelay)
		select {
		case <-time.After(c.startupDelay):
		case <-ctx.Done():
			return nil
		}
	}
	srv := &http.Server{Addr: c.addr, Handler: withGRPC(a.grpcServer(), a.handler()), ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true) // h2c with prior knowledge: gRPC
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("serving", "addr", c.addr, "pod", c.pod, "node", c.node, "latency", c.latency, "errorRate", c.errorRate, "graceful", c.graceful)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if !c.graceful {
		log.Info("signal: exiting at once (-graceful=false)")
		srv.Close()
		a.ws.drop() // as the exit would: no close frame
		return nil
	}
	a.draining.Store(true)
	a.health.Shutdown() // NOT_SERVING
	log.Info("signal: readiness failing, still serving", "for", c.shutdownDelay)
	time.Sleep(c.shutdownDelay)
	sctx, cancel := context.WithTimeout(context.Background(), c.drainTimeout)
	defer cancel()
	srv.RegisterOnShutdown(func() { a.ws.goAway(sctx) })
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	a.ws.goAway(sctx) // Shutdown does not wait for hijacked connections: wait for their close handshakes
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("drained, exiting")
	return nil
}
