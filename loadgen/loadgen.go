package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/aftershock-dev/aftershock/report"
)

// Response headers that name the serving pod and node (set by the sample app, clusters/multicall/internal/server).
const (
	HeaderPod  = sampleapp.HeaderPod
	HeaderNode = sampleapp.HeaderNode
	// headerReused is set by our transport on each response, never sent.
	headerReused = "X-Aftershock-Conn-Reused"
)

// Defaults.
const (
	DefaultTimeout    = 2 * time.Second
	DefaultMaxWorkers = 512
)

// Options configure an attack. URL, Rate (or MaxRate) and Duration are
// required.
type Options struct {
	URL string // a loopback URL, e.g. http://127.0.0.1:34567/
	// Request is what to send to URL (default GET with no body).
	Request Request
	// Attribution says how a response names its pod (default: the sample
	// app's X-Aftershock-Pod header).
	Attribution Attribution
	// Rate is requests per second. With RampFrom > 0 the rate ramps linearly
	// from RampFrom to Rate over the duration.
	Rate     int
	RampFrom int
	// Shape, when set, is the rate over time instead of Rate and RampFrom
	// (steps, ramps, spikes); Duration should be its length.
	Shape Shape
	// MaxRate sends as fast as Workers allow (Rate is then ignored).
	MaxRate bool
	// Duration bounds the attack in time (required, > 0).
	Duration time.Duration
	// MaxRequests bounds it in count; 0 means 2 x the planned count.
	MaxRequests uint64
	// KeepAlive reuses connections; false opens a new one per request.
	KeepAlive bool
	// Connections caps the connections open at once (0: as many as the
	// workers need), e.g. a client that holds 2 kept-alive connections.
	// With ProtocolGRPC it is the number of client connections (channels)
	// the calls are spread over, held for the whole attack (0: 1).
	Connections int
	// Protocol is ProtocolHTTP (default) or ProtocolGRPC: unary calls of
	// GRPC.Method to URL's host and port (HTTP/2 without TLS).
	Protocol string
	GRPC     GRPC
	// OnConn, when set, is told each change of a held connection
	// (ProtocolWebSocket: connected to a pod, dropped), from the goroutine
	// that calls sink.
	OnConn func(report.ConnEvent)
	// Timeout per request (default DefaultTimeout).
	Timeout time.Duration
	// InCluster: the attack runs in a load pod; URL must then name a
	// Service (NAME.NAMESPACE.svc), not a loopback address.
	InCluster bool
	// Workers is the initial worker count (default 8); MaxWorkers caps it
	// (default DefaultMaxWorkers).
	Workers, MaxWorkers uint64
}

// Stats summarise an attack.
type Stats struct {
	Requests uint64
	Elapsed  time.Duration
}

// Rate is requests per second achieved.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

func (o *Options) validate() (*url.URL, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("load target %q: want an http(s) URL", o.URL)
	}
	check := CheckLoopback
	if o.InCluster {
		check = CheckServiceHost
	}
	if err := check(u.Hostname()); err != nil {
		return nil, fmt.Errorf("load target %q: %w", o.URL, err)
	}
	if o.Duration <= 0 {
		return nil, fmt.Errorf("load duration %s: must be > 0 (every attack is bounded in time)", o.Duration)
	}
	switch o.Protocol {
	case "", ProtocolHTTP:
	case ProtocolH2C:
		if u.Scheme != "http" {
			return nil, fmt.Errorf("load target %q: h2c is HTTP/2 without TLS: want an http URL", o.URL)
		}
	case ProtocolWebSocket:
		if u.Scheme != "http" {
			return nil, fmt.Errorf("load target %q: WebSocket load is ws:// (no TLS): want an http URL", o.URL)
		}
	case ProtocolGRPC:
		if o.GRPC.Method != "" {
			if err := ValidateMethod(o.GRPC.Method); err != nil {
				return nil, err
			}
			o.GRPC.Method = "/" + strings.TrimPrefix(o.GRPC.Method, "/")
		}
		if !ValidBalancer(o.GRPC.Balancer) {
			return nil, fmt.Errorf("gRPC balancer %q: want %s or %s", o.GRPC.Balancer, BalancerPickFirst, BalancerRoundRobin)
		}
	default:
		return nil, fmt.Errorf("load protocol %q: want %s, %s, %s or %s", o.Protocol, ProtocolHTTP, ProtocolH2C, ProtocolGRPC, ProtocolWebSocket)
	}
	if len(o.Shape) > 0 {
		if o.MaxRate || o.RampFrom > 0 {
			return nil, fmt.Errorf("load shape: not with a maximal rate or a ramp (the shape says the rate)")
		}
		if err := o.Shape.Validate(); err != nil {
			return nil, err
		}
	} else if !o.MaxRate && o.Rate <= 0 {
		return nil, fmt.Errorf("load rate %d/s: must be > 0", o.Rate)
	}
	if o.RampFrom < 0 || (o.RampFrom > 0 && o.MaxRate) {
		return nil, fmt.Errorf("load ramp from %d/s: needs a positive start and a fixed rate", o.RampFrom)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Workers == 0 {
		o.Workers = 8
	}
	if o.MaxWorkers == 0 {
		o.MaxWorkers = DefaultMaxWorkers
	}
	if o.MaxRequests == 0 {
		planned := uint64(float64(max(o.Rate, o.RampFrom)) * o.Duration.Seconds())
		if len(o.Shape) > 0 {
			planned = uint64(o.Shape.Planned())
		}
		if o.MaxRate {
			planned = uint64(200_000 * o.Duration.Seconds()) // far above what localhost serves
		}
		o.MaxRequests = 2*planned + 100
	}
	return u, nil
}

// CheckLoopback accepts only loopback hosts: load never leaves this machine.
func CheckLoopback(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("host %q is not a loopback address; aftershock sends load only to 127.0.0.1 (publish the port on 127.0.0.1)", host)
	}
	return nil
}

// reuseTransport records on each response whether its connection was
// reused, bounds each request (its body read included) by the request
// timeout, and ends every request in flight when the attack's context is
// cancelled (vegeta's Stop only stops new ones): a cancelled run stops
// sending and waiting at once, whatever the request timeout.
//
// The timeout is here rather than in http.Client.Timeout: for a
// RoundTripper it does not know, the client starts a goroutine and a timer
// for every request to enforce its Timeout (net/http setRequestCancel),
// which cost a fifth of the request rate with keep-alive on (issue 21).
type reuseTransport struct {
	base    http.RoundTripper
	attack  context.Context // nil: never cancelled
	timeout time.Duration   // 0: none
}

// reusedYes is the header value marking a reused connection (never
// modified: a shared slice saves an allocation per response).
var reusedYes = []string{"1"}

func (t reuseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &tracked{}
	c.trace.GotConn = c.gotConn
	ctx, done := t.requestContext(req.Context())
	resp, err := t.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(ctx, &c.trace)))
	if resp == nil {
		done()
		return resp, err
	}
	c.body = doneBody{ReadCloser: resp.Body, done: done}
	resp.Body = &c.body
	if c.reused {
		resp.Header[headerReused] = reusedYes
	} else {
		delete(resp.Header, headerReused)
	}
	return resp, err
}

// CloseIdleConnections closes the base transport's idle connections.
func (t reuseTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// tracked is what a request needs traced and released, in one allocation.
type tracked struct {
	trace  httptrace.ClientTrace
	body   doneBody
	reused bool
}

func (c *tracked) gotConn(i httptrace.GotConnInfo) { c.reused = i.Reused }

// requestContext returns parent bounded by the timeout and ended with the
// attack, and the func that releases it. A request without a context of
// its own (vegeta's) is derived from the attack's context directly, which
// saves a context.AfterFunc per request.
func (t reuseTransport) requestContext(parent context.Context) (context.Context, func()) {
	attack := t.attack
	if attack != nil && parent == context.Background() {
		parent, attack = t.attack, nil
	}
	var cancel context.CancelFunc
	switch {
	case t.timeout > 0:
		parent, cancel = context.WithTimeout(parent, t.timeout)
	case attack != nil:
		parent, cancel = context.WithCancel(parent)
	default:
		return parent, nop
	}
	if attack == nil {
		return parent, cancel
	}
	stop := context.AfterFunc(attack, cancel)
	return parent, func() { stop(); cancel() }
}

func nop() {}

// doneBody releases a request's cancellation when its body is closed.
type doneBody struct {
	io.ReadCloser
	done func()
}

func (b *doneBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

func client(ctx context.Context, o Options) *http.Client {
	if o.Protocol == ProtocolH2C {
		return &http.Client{Transport: reuseTransport{base: h2cTransports(o), attack: ctx, timeout: o.Timeout}}
	}
	dialer := &net.Dialer{Timeout: o.Timeout}
	if o.KeepAlive {
		dialer.KeepAlive = 30 * time.Second
	} else {
		dialer.KeepAlive = -1
	}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		DisableKeepAlives:   !o.KeepAlive,
		MaxIdleConnsPerHost: 10000,
		MaxConnsPerHost:     o.Connections,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{Transport: reuseTransport{base: tr, attack: ctx, timeout: o.Timeout}}
}

// h2cTransports: HTTP/2 without TLS (prior knowledge), over Connections
// connections (default 1) held for the attack, requests multiplexed on
// them and spread over them in turn (a Transport holds one HTTP/2
// connection per host while its streams suffice: one Transport each).
func h2cTransports(o Options) http.RoundTripper {
	n := max(o.Connections, 1)
	rr := &roundRobin{ts: make([]http.RoundTripper, n)}
	for i := range rr.ts {
		tr := &http.Transport{
			DialContext: (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			Protocols:   new(http.Protocols),
		}
		tr.Protocols.SetUnencryptedHTTP2(true)
		rr.ts[i] = tr
	}
	return rr
}

// roundRobin sends each request through the next of its transports.
type roundRobin struct {
	ts   []http.RoundTripper
	next atomic.Uint64
}

// CloseIdleConnections closes every transport's idle connections.
func (r *roundRobin) CloseIdleConnections() {
	for _, t := range r.ts {
		if c, ok := t.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

func (r *roundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.ts[(r.next.Add(1)-1)%uint64(len(r.ts))].RoundTrip(req)
}

// Sample converts one vegeta result, attributed as the sample app does.
func Sample(r *vegeta.Result) report.Sample { return Attribution{}.Sample(r) }

// Sample converts one vegeta result, naming its pod as a says.
func (a Attribution) Sample(r *vegeta.Result) report.Sample {
	s := report.Sample{Start: r.Timestamp, Latency: r.Latency, Status: int(r.Code)}
	if r.Code == 0 {
		s.Error = r.Error
		if s.Error == "" {
			s.Error = "no response"
		}
	}
	if r.Headers != nil {
		s.Reused = len(r.Headers[headerReused]) > 0
	}
	if r.Code != 0 {
		s.Pod, s.Node = a.Pod(r.Headers, r.Body)
	}
	return s
}

// Attack sends load as o says and hands every sample to sink, in completion
// order, from one goroutine. It returns when the duration or request bound
// is reached or ctx is cancelled; a cancelled attack returns ctx's error
// along with the stats so far.
func Attack(ctx context.Context, o Options, sink func(report.Sample)) (Stats, error) {
	u, err := o.validate()
	if err != nil {
		return Stats{}, err
	}
	var pacer vegeta.Pacer = vegeta.ConstantPacer{Freq: o.Rate, Per: time.Second}
	switch {
	case len(o.Shape) > 0:
		pacer = o.Shape
	case o.MaxRate:
		pacer = vegeta.ConstantPacer{} // as fast as workers allow
	case o.RampFrom > 0:
		pacer = vegeta.LinearPacer{
			StartAt: vegeta.ConstantPacer{Freq: o.RampFrom, Per: time.Second},
			Slope:   float64(o.Rate-o.RampFrom) / o.Duration.Seconds(),
		}
	}
	switch o.Protocol {
	case ProtocolGRPC:
		return attackGRPC(ctx, o, u, pacer, sink)
	case ProtocolWebSocket:
		return attackWebSocket(ctx, o, u, pacer, sink)
	}
	workers := o.Workers
	if o.MaxRate {
		workers = o.MaxWorkers
	}
	maxBody := int64(0)
	if o.Attribution.NeedsBody() {
		maxBody = MaxAttributionBody
	}
	hc := client(ctx, o)
	defer hc.CloseIdleConnections() // the held connections end with the attack
	atk := vegeta.NewAttacker(
		vegeta.Client(hc),
		vegeta.Workers(workers),
		vegeta.MaxWorkers(o.MaxWorkers),
		vegeta.MaxBody(maxBody),
		vegeta.Redirects(vegeta.NoFollow),
	)
	target := vegeta.NewStaticTargeter(o.Request.target(u))
	start := time.Now()
	results := atk.Attack(countingTargeter(target, o.MaxRequests), pacer, o.Duration, "aftershock")
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	var st Stats
	st.Requests = drain(results, func(r *vegeta.Result) { sink(o.Attribution.Sample(r)) })
	st.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("load stopped early: %w", err)
	}
	return st, nil
}

// drain hands every result but the count bound's to use, in completion
// order, from one goroutine, and returns how many it handed. vegeta's
// results channel is unbuffered: a worker waits at its send until the
// receiver takes the result, and parks if the receiver is busy. So the
// receiver here only moves results into a buffer and another goroutine
// converts and records them: a worker finds the receiver waiting (measured:
// recording on the receiving goroutine cost 6% of the request rate with
// keep-alive on, issue 21).
func drain(results <-chan *vegeta.Result, use func(*vegeta.Result)) uint64 {
	buf := make(chan *vegeta.Result, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range buf {
			use(r)
		}
	}()
	var n uint64
	for r := range results {
		if r.Error == vegeta.ErrNoTargets.Error() && r.Code == 0 {
			continue // the count bound was reached
		}
		n++
		buf <- r
	}
	close(buf)
	<-done
	return n
}

// countingTargeter stops the attack after n targets (vegeta calls
// targeters from many workers at once).
func countingTargeter(t vegeta.Targeter, n uint64) vegeta.Targeter {
	var sent atomic.Uint64
	return func(tgt *vegeta.Target) error {
		if sent.Add(1) > n {
			return vegeta.ErrNoTargets
		}
		return t(tgt)
	}
}
