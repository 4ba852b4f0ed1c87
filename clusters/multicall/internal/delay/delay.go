// Package delay is the userspace network-fault agent aftershock
// starts inside a target pod's network namespace where the kernel has no
// sch_netem: a TCP forwarder built on the toxiproxy library that adds
// latency (and jitter) to everything the app sends back. Traffic reaches it
// through an iptables REDIRECT that aftershock adds and removes.
//
// It exits by itself after -lifetime, so an agent left behind by a killed
// run cannot outlive it for long; aftershock kills it on revert.
// cmd/aftershock-agent runs it alone; aftershock copies its own executable
// into the node as aftershock-agent and runs it there (clusters/multicall).
package delay

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/collectors"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Main runs the agent with command-line args (without the program name:
// "delay -listen ... -latency ...") and returns the process exit code.
func Main(args []string) int {
	if len(args) < 1 || args[0] != "delay" {
		fmt.Fprintln(os.Stderr, "usage: aftershock-agent delay -listen ADDR -upstream ADDR -latency D [-jitter D] [-lifetime D] [-tag T]")
		return 2
	}
	fs := flag.NewFlagSet("delay", flag.ContinueOnError)
	listen := fs.String("listen", "0.0.0.0:15000", "address to accept redirected connections on")
	upstream := fs.String("upstream", "127.0.0.1:8080", "the app's address inside the pod")
	latency := fs.Duration("latency", 0, "added to the app's responses")
	jitter := fs.Duration("jitter", 0, "+/- random variation of the latency")
	lifetime := fs.Duration("lifetime", 15*time.Minute, "exit after this long, whatever happens")
	_ = fs.String("tag", "", "a marker so aftershock can find this process")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if err := run(*listen, *upstream, *latency, *jitter, *lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "aftershock-agent:", err)
		return 1
	}
	return 0
}

func run(listen, upstream string, latency, jitter, lifetime time.Duration) error {
	if latency <= 0 {
		return fmt.Errorf("-latency %s: must be > 0", latency)
	}
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	srv.Metrics.ProxyMetrics = collectors.NewProxyMetricCollectors()
	p := toxiproxy.NewProxy(srv, "aftershock", listen, upstream)
	if err := p.Start(); err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	defer p.Stop()
	toxic := fmt.Sprintf(`{"name":"delay","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":%d,"jitter":%d}}`,
		latency.Milliseconds(), jitter.Milliseconds())
	if _, err := p.Toxics.AddToxicJson(bytes.NewBufferString(toxic)); err != nil {
		return fmt.Errorf("add latency toxic: %w", err)
	}
	fmt.Fprintf(os.Stderr, "aftershock-agent: %s -> %s, +%s ±%s, for at most %s\n", listen, upstream, latency, jitter, lifetime)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	select {
	case <-ctx.Done():
	case <-time.After(lifetime):
	}
	return nil
}
