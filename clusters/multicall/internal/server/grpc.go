package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
)

// The sample app serves gRPC on its one port beside HTTP/1.1 (HTTP/2
// without TLS, "h2c", which is how gRPC runs inside a cluster): the
// standard health service, and InfoMethod, a unary call answering which pod
// and node served it. Every gRPC response carries the pod and node as
// header metadata (sampleapp.GRPCHeaderPod, GRPCHeaderNode); -latency and
// -error-rate apply to InfoMethod as to / (an injected error is INTERNAL).
// On SIGTERM the health service reports NOT_SERVING while InfoMethod keeps
// answering (as / does), and the server's drain sends HTTP/2 GOAWAY, so
// clients move to other pods without failing calls in flight.

// grpcServer is the app's gRPC server (served through its http.Handler).
func (a *app) grpcServer() *grpc.Server {
	s := grpc.NewServer(grpc.UnaryInterceptor(a.stampGRPC))
	a.health = health.NewServer()
	healthpb.RegisterHealthServer(s, a.health)
	s.RegisterService(&infoService, a)
	return s
}

// stampGRPC names the pod and node on every unary response.
func (a *app) stampGRPC(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs(sampleapp.GRPCHeaderPod, a.c.pod, sampleapp.GRPCHeaderNode, a.c.node))
	return h(ctx, req)
}

// info answers InfoMethod.
func (a *app) info(ctx context.Context) (*wrapperspb.StringValue, error) {
	if a.c.latency > 0 {
		select {
		case <-time.After(a.c.latency):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if a.c.errorRate > 0 && rand.Float64() < a.c.errorRate {
		return nil, status.Error(codes.Internal, "injected error")
	}
	return wrapperspb.String(fmt.Sprintf("pod=%s node=%s", a.c.pod, a.c.node)), nil
}

// infoService is InfoMethod's service, written out as protoc would
// generate it (its messages are protobuf's well-known Empty and
// StringValue, so no .proto of ours is needed).
var infoService = grpc.ServiceDesc{
	ServiceName: sampleapp.GRPCInfoService,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Get",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) { return srv.(*app).info(ctx) }
			if icpt == nil {
				return h(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: sampleapp.GRPCInfoMethod}, h)
		},
	}},
}

// withGRPC sends gRPC requests (HTTP/2, content-type application/grpc) to
// gs and the rest to h.
func withGRPC(gs *grpc.Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			gs.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
