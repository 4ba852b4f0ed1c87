package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
)

// startServe runs the app on a free 127.0.0.1 port until the returned
// stop (its SIGTERM) and waits for serve to return.
func startServe(t *testing.T, c config) (addr string, stop func() error) {
	t.Helper()
	c.addr = freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	waitListening(t, c.addr)
	return c.addr, func() error { cancel(); return <-done }
}

func grpcConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

func info(cc *grpc.ClientConn) (string, metadata.MD, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var hdr metadata.MD
	out := new(wrapperspb.StringValue)
	err := cc.Invoke(ctx, sampleapp.GRPCInfoMethod, &emptypb.Empty{}, out, grpc.Header(&hdr))
	return out.GetValue(), hdr, err
}

// One port serves HTTP/1.1 and gRPC: the info call names the pod and node
// in its answer and its header metadata, and so does the health service.
func TestGRPCBesideHTTPOnOnePort(t *testing.T) {
	addr, stop := startServe(t, config{pod: "p1", node: "n1", graceful: true, drainTimeout: time.Second})
	defer func() { require.NoError(t, stop()) }()
	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "p1", resp.Header.Get(HeaderPod))

	cc := grpcConn(t, addr)
	v, hdr, err := info(cc)
	require.NoError(t, err)
	assert.Equal(t, "pod=p1 node=n1", v)
	assert.Equal(t, []string{"p1"}, hdr.Get(sampleapp.GRPCHeaderPod))
	assert.Equal(t, []string{"n1"}, hdr.Get(sampleapp.GRPCHeaderNode))
	var hh metadata.MD
	h, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}, grpc.Header(&hh))
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, h.Status)
	assert.Equal(t, []string{"p1"}, hh.Get(sampleapp.GRPCHeaderPod))
}

// -error-rate and -latency apply to the info call as to /.
func TestGRPCInfoFaults(t *testing.T) {
	addr, stop := startServe(t, config{pod: "p1", errorRate: 1, latency: 50 * time.Millisecond, graceful: true, drainTimeout: time.Second})
	defer func() { require.NoError(t, stop()) }()
	t0 := time.Now()
	_, hdr, err := info(grpcConn(t, addr))
	assert.Equal(t, codes.Internal, status.Code(err), "%v", err)
	assert.GreaterOrEqual(t, time.Since(t0), 50*time.Millisecond)
	assert.Equal(t, []string{"p1"}, hdr.Get(sampleapp.GRPCHeaderPod), "a failed call still names its pod")
}

// On SIGTERM the health service says NOT_SERVING while the info call keeps
// answering on the open connection for the shutdown delay; then the drain
// ends the connection (GOAWAY) and serve returns.
func TestGRPCDrainsOnSIGTERM(t *testing.T) {
	addr, stop := startServe(t, config{pod: "p1", graceful: true, shutdownDelay: 500 * time.Millisecond, drainTimeout: 2 * time.Second})
	cc := grpcConn(t, addr)
	_, _, err := info(cc)
	require.NoError(t, err)
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	require.Eventually(t, func() bool {
		h, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
		return err == nil && h.Status == healthpb.HealthCheckResponse_NOT_SERVING
	}, time.Second, 20*time.Millisecond, "health NOT_SERVING while draining")
	_, _, err = info(cc)
	assert.NoError(t, err, "still answering while draining")
	select {
	case err := <-stopped:
		require.NoError(t, err, "drained with a gRPC connection open")
	case <-time.After(4 * time.Second):
		t.Fatal("serve did not return: the open gRPC connection held the drain")
	}
}
