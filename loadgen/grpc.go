package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"github.com/aftershock-dev/aftershock/report"
)

// Protocols of the load (Options.Protocol).
const (
	ProtocolHTTP = "http" // HTTP/1.1 through vegeta (the default)
	ProtocolGRPC = "grpc" // unary gRPC calls over Connections long-lived connections
	ProtocolH2C  = "h2c"  // HTTP/2 without TLS through vegeta, requests multiplexed over Connections connections
)

// GRPC is what gRPC load calls (Options.GRPC).
type GRPC struct {
	// Method is the full method name, "/pkg.Service/Method" (default the
	// sample app's sampleapp.GRPCInfoMethod).
	Method string `json:"method,omitempty"`
	// Data is the request message as JSON (protobuf's JSON mapping: the
	// .proto's field names or their JSON names); empty: an empty message,
	// sent without descriptors. Encoded once, with the method's
	// descriptors from the server's reflection service (Resolve).
	Data json.RawMessage `json:"data,omitempty"`
	// PodHeader is the response header metadata naming the serving pod
	// (default sampleapp.GRPCHeaderPod, unless Field is set); NodeHeader
	// the node (optional).
	PodHeader  string `json:"podHeader,omitempty"`
	NodeHeader string `json:"nodeHeader,omitempty"`
	// Field is a response field naming the serving pod instead: a dot path
	// of fields ending in a string ("hostname", "meta.pod"), found with the
	// descriptors from the server's reflection service.
	Field string `json:"field,omitempty"`
	// Balancer is how each connection's client picks its server:
	// BalancerPickFirst (default: the one address it dialled, e.g. a
	// Service's ClusterIP) or BalancerRoundRobin (every address the target
	// resolves to, e.g. a headless Service's pods, a call to each in turn).
	Balancer string `json:"balancer,omitempty"`
	// Authority is the :authority the calls carry (an Ingress rule's host);
	// empty: the target's host and port.
	Authority string `json:"authority,omitempty"`

	// set by Resolve: the encoded request, the field's numbers
	resolved  bool
	request   []byte
	fieldNums []protowire.Number
}

// gRPC client load balancing policies (GRPC.Balancer).
const (
	BalancerPickFirst  = "pick_first"
	BalancerRoundRobin = "round_robin"
)

// ValidBalancer reports whether b names a balancer ("" is the default,
// BalancerPickFirst).
func ValidBalancer(b string) bool {
	return b == "" || b == BalancerPickFirst || b == BalancerRoundRobin
}

func (g GRPC) withDefaults() GRPC {
	if g.Method == "" { // the sample app's info method, which names the pod in its header
		g.Method = sampleapp.GRPCInfoMethod
		if g.PodHeader == "" && g.Field == "" {
			g.PodHeader, g.NodeHeader = sampleapp.GRPCHeaderPod, sampleapp.GRPCHeaderNode
		}
	}
	return g
}

// ValidateMethod checks a full gRPC method name: "/pkg.Service/Method"
// (the leading slash may be left out).
func ValidateMethod(m string) error {
	m = strings.TrimPrefix(m, "/")
	svc, meth, ok := strings.Cut(m, "/")
	if !ok || svc == "" || meth == "" || strings.Contains(meth, "/") || strings.ContainsAny(m, " \t") {
		return fmt.Errorf("gRPC method %q: want package.Service/Method", m)
	}
	return nil
}

// rawCodec sends and receives messages as their encoded bytes: the load
// needs no generated code for the method it calls.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = data
	return nil
}
func (rawCodec) Name() string { return "proto" } // the bytes are protobuf's: the content-type says so

// grpcClients opens n clients of target (host:port), each with
// connections of its own (a Service balances connections, not calls):
// pick_first dials target as it is, one connection; round_robin resolves
// it in DNS and holds a connection to every address.
func grpcClients(target string, n int, balancer, authority string) ([]*grpc.ClientConn, error) {
	conns := make([]*grpc.ClientConn, 0, n)
	for range n {
		name, opts := "passthrough:///"+target, []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
		}
		if authority != "" {
			opts = append(opts, grpc.WithAuthority(authority))
		}
		if balancer == BalancerRoundRobin {
			name = "dns:///" + target
			opts = append(opts, grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"round_robin": {}}]}`))
		}
		cc, err := grpc.NewClient(name, opts...)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("gRPC client for %s: %w", target, err)
		}
		cc.Connect()
		conns = append(conns, cc)
	}
	return conns, nil
}

// attackGRPC sends unary gRPC calls at the pacer's schedule, spread over
// the connections in turn, each bounded by the timeout; the whole bounded
// by duration and count. Samples reach sink from one goroutine.
func attackGRPC(ctx context.Context, o Options, u *url.URL, pacer vegeta.Pacer, sink func(report.Sample)) (Stats, error) {
	g := o.GRPC.withDefaults()
	n := max(o.Connections, 1)
	g, err := g.Resolve(ctx, u.Host)
	if err != nil {
		return Stats{}, err
	}
	conns, err := grpcClients(u.Host, n, g.Balancer, g.Authority)
	if err != nil {
		return Stats{}, err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	samples := make(chan report.Sample, 1024)
	// calls go to workers that live for the attack (a goroutine per call
	// would grow a fresh stack for each), more of them up to MaxWorkers
	// while every one is busy, as vegeta's attacker does
	calls := make(chan *grpc.ClientConn)
	start := time.Now()
	go func() {
		var wg sync.WaitGroup
		workers := uint64(0)
		spawn := func() {
			workers++
			wg.Go(func() {
				for cc := range calls {
					samples <- callGRPC(ctx, cc, g, o.Timeout)
				}
			})
		}
		for range min(max(o.Workers, 1), o.MaxWorkers) {
			spawn()
		}
		defer func() {
			close(calls)
			wg.Wait()
			close(samples)
		}()
		pace(ctx, &o, pacer, start, func(hit uint64) bool {
			cc := conns[hit%uint64(n)]
			select {
			case calls <- cc:
				return true
			default:
			}
			if workers < o.MaxWorkers {
				spawn()
			}
			select {
			case calls <- cc:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	var st Stats
	for s := range samples {
		st.Requests++
		sink(s)
	}
	st.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("load stopped early: %w", err)
	}
	return st, nil
}

// callGRPC makes one call: a sample of status 200 when it returned OK,
// else an Error naming its status code ("grpc UNAVAILABLE: ...").
func callGRPC(ctx context.Context, cc *grpc.ClientConn, g GRPC, timeout time.Duration) report.Sample {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		hdr     metadata.MD
		in, out = g.request, []byte(nil)
	)
	if in == nil {
		in = []byte{}
	}
	t0 := time.Now()
	err := cc.Invoke(cctx, g.Method, &in, &out, grpc.Header(&hdr))
	s := report.Sample{Start: t0, Latency: time.Since(t0), Reused: true} // over a held connection
	if err != nil {
		st := status.Convert(err)
		s.Error = fmt.Sprintf("%s%s: %s", report.GRPCPrefix, codeName(st.Code()), st.Message())
	} else {
		s.Status = 200
	}
	switch {
	case len(g.fieldNums) > 0:
		if err == nil {
			s.Pod = wireField(out, g.fieldNums)
		}
	case g.PodHeader != "":
		if v := hdr.Get(g.PodHeader); len(v) > 0 {
			s.Pod = v[0]
		}
	}
	if g.NodeHeader != "" {
		if v := hdr.Get(g.NodeHeader); len(v) > 0 {
			s.Node = v[0]
		}
	}
	return s
}

// codeName is a status code's name as the gRPC specification spells it
// (UNAVAILABLE, DEADLINE_EXCEEDED).
func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", uint32(c))
}

var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// Unanswered reports whether a gRPC error says the server did not answer
// (unavailable, or no answer in time), which trying again may mend.
func Unanswered(err error) bool {
	c := status.Code(err)
	return c == codes.Unavailable || c == codes.DeadlineExceeded
}

// pace calls fire with each hit's number at the pacer's schedule from
// start: at most o.MaxRequests hits within o.Duration, until ctx ends or
// fire says stop. The schedule of every held-connection load (gRPC,
// WebSocket); HTTP's is vegeta's own.
func pace(ctx context.Context, o *Options, pacer vegeta.Pacer, start time.Time, fire func(hit uint64) bool) {
	for hits := uint64(0); hits < o.MaxRequests; {
		elapsed := time.Since(start)
		if elapsed >= o.Duration {
			return
		}
		wait, stop := pacer.Pace(elapsed, hits)
		if stop {
			return
		}
		if wait > 0 {
			select {
			case <-time.After(min(wait, o.Duration-elapsed)):
				continue
			case <-ctx.Done():
				return
			}
		}
		if !fire(hits) {
			return
		}
		hits++
	}
}

// CallGRPC makes one call of g (resolved, see Resolve) to target
// (host:port) on a connection of its own, which a Service may send to any
// of its pods: what readiness checks send before the load. It returns the
// pod the answer names.
func CallGRPC(ctx context.Context, target string, g GRPC, timeout time.Duration) (pod string, err error) {
	g = g.withDefaults()
	conns, err := grpcClients(target, 1, BalancerPickFirst, g.Authority)
	if err != nil {
		return "", err
	}
	defer conns[0].Close()
	s := callGRPC(ctx, conns[0], g, timeout)
	if s.Error != "" {
		return "", errors.New(s.Error)
	}
	return s.Pod, nil
}
