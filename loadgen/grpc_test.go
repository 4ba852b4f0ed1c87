package loadgen

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"github.com/aftershock-dev/aftershock/report"
)

// grpcTestServer answers every method on 127.0.0.1, naming as its "pod"
// the client connection a call came on (so calls spread over connections
// show as spread over pods), or failing with code after delay.
func grpcTestServer(t testing.TB, code codes.Code, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		var in emptypb.Empty
		if err := ss.RecvMsg(&in); err != nil {
			return err
		}
		p, _ := peer.FromContext(ss.Context())
		md, _ := metadata.FromIncomingContext(ss.Context())
		_ = ss.SetHeader(metadata.Pairs(sampleapp.GRPCHeaderPod, p.Addr.String(), sampleapp.GRPCHeaderNode, "node-1", "x-authority", strings.Join(md.Get(":authority"), ",")))
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ss.Context().Done():
				return ss.Context().Err()
			}
		}
		if code != codes.OK {
			return status.Error(code, "as asked")
		}
		return ss.SendMsg(&emptypb.Empty{})
	}))
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return "http://" + ln.Addr().String() + "/"
}

func attackGRPCFor(t *testing.T, o Options) ([]report.Sample, Stats) {
	t.Helper()
	var (
		mu  sync.Mutex
		got []report.Sample
	)
	st, err := Attack(context.Background(), o, func(s report.Sample) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	})
	require.NoError(t, err)
	return got, st
}

// Calls go at the rate, over as many connections as asked, held for the
// whole attack: each connection is one "pod" here, so 1 connection pins
// every call to one, 3 spread them evenly over three.
func TestAttackGRPCSpreadsCallsOverItsConnections(t *testing.T) {
	url := grpcTestServer(t, codes.OK, 0)
	for _, conns := range []int{1, 3} {
		got, st := attackGRPCFor(t, Options{URL: url, Protocol: ProtocolGRPC, Rate: 150, Duration: time.Second, Connections: conns})
		assert.InDelta(t, 150, len(got), 3, "calls at the rate, bounded by the duration")
		assert.EqualValues(t, len(got), st.Requests)
		per := map[string]int{}
		for _, s := range got {
			require.True(t, s.OK(), "%+v", s)
			assert.Equal(t, "node-1", s.Node)
			per[s.Pod]++
		}
		assert.Len(t, per, conns, "one pod per connection: %v", per)
		for pod, n := range per {
			assert.InDelta(t, len(got)/conns, n, 1, "connections take calls in turn: %s", pod)
		}
	}
}

// A call that ends in a status other than OK is a failed sample classed by
// its code; one past the timeout is DEADLINE_EXCEEDED.
func TestAttackGRPCClassesFailuresByStatusCode(t *testing.T) {
	for _, tc := range []struct {
		code  codes.Code
		delay time.Duration
		class string
	}{
		{codes.Unavailable, 0, "grpc UNAVAILABLE"},
		{codes.Internal, 0, "grpc INTERNAL"},
		{codes.OK, 300 * time.Millisecond, "grpc DEADLINE_EXCEEDED"},
	} {
		got, _ := attackGRPCFor(t, Options{URL: grpcTestServer(t, tc.code, tc.delay), Protocol: ProtocolGRPC, Rate: 20, Duration: 500 * time.Millisecond, Timeout: 100 * time.Millisecond})
		require.NotEmpty(t, got)
		for _, s := range got {
			assert.False(t, s.OK())
			assert.Equal(t, tc.class, report.ErrorClass(s), s.Error)
		}
	}
}

// Nothing listening: every call fails UNAVAILABLE, at the rate, and the
// attack still ends on time.
func TestAttackGRPCNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	t0 := time.Now()
	got, _ := attackGRPCFor(t, Options{URL: "http://" + addr + "/", Protocol: ProtocolGRPC, Rate: 20, Duration: 500 * time.Millisecond, Timeout: 200 * time.Millisecond})
	assert.Less(t, time.Since(t0), 2*time.Second)
	require.NotEmpty(t, got)
	for _, s := range got {
		assert.Equal(t, "grpc UNAVAILABLE", report.ErrorClass(s), s.Error)
	}
}

func TestAttackGRPCRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{URL: "http://10.0.0.1:80/", Protocol: ProtocolGRPC, Rate: 1, Duration: time.Second}, "not a loopback"},
		{Options{URL: "http://127.0.0.1:80/", Protocol: "carrier-pigeon", Rate: 1, Duration: time.Second}, `load protocol "carrier-pigeon"`},
		{Options{URL: "http://127.0.0.1:80/", Protocol: ProtocolGRPC, GRPC: GRPC{Method: "Check"}, Rate: 1, Duration: time.Second}, `gRPC method "Check"`},
	} {
		_, err := Attack(context.Background(), tc.o, func(report.Sample) {})
		assert.ErrorContains(t, err, tc.want)
	}
	assert.NoError(t, ValidateMethod("/grpc.health.v1.Health/Check"))
	assert.NoError(t, ValidateMethod("grpc.health.v1.Health/Check"))
	assert.Error(t, ValidateMethod("/grpc.health.v1.Health/"))
}

// The calls carry the :authority asked (an Ingress rule's host), else the
// target's host and port.
func TestAttackGRPCAuthority(t *testing.T) {
	url := grpcTestServer(t, codes.OK, 0)
	for _, tc := range []struct{ authority, want string }{
		{"as-x.aftershock.test", "as-x.aftershock.test"},
		{"", strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")},
	} {
		got, _ := attackGRPCFor(t, Options{URL: url, Protocol: ProtocolGRPC, Rate: 20, Duration: 200 * time.Millisecond,
			GRPC: GRPC{Authority: tc.authority, PodHeader: sampleapp.GRPCHeaderPod, NodeHeader: "x-authority"}})
		require.NotEmpty(t, got)
		for _, s := range got {
			assert.Equal(t, tc.want, s.Node)
		}
	}
}
