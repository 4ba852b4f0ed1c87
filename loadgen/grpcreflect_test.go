package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/aftershock-dev/aftershock/report"
)

// testService is grpc-go's interop TestService: its UnaryCall answers with
// a hostname made from the request (so a test sees both the request's
// encoding and the response field's reading).
type testService struct {
	testpb.UnimplementedTestServiceServer
}

func (testService) UnaryCall(_ context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{
		Username: "user",
		Hostname: fmt.Sprintf("pod-%d-%v", in.GetResponseSize(), in.GetFillServerId()),
		Payload:  &testpb.Payload{Body: []byte("hostname-not-here")},
	}, nil
}

// reflectingServer serves testService on 127.0.0.1, with server reflection
// when reflect is set; it returns host:port.
func reflectingServer(t *testing.T, reflect bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, testService{})
	if reflect {
		reflection.Register(s)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

const unaryCall = "/grpc.testing.TestService/UnaryCall"

// A service aftershock has no generated code for: the request is encoded
// from JSON and the pod read from a response field, both through the
// descriptors the server's reflection gives; the load names the pod.
func TestGRPCDataAndFieldThroughReflection(t *testing.T) {
	target := reflectingServer(t, true)
	g := GRPC{Method: unaryCall, Data: json.RawMessage(`{"responseSize": 7, "fill_server_id": true}`), Field: "hostname"}
	samples, st := attackGRPCFor(t, Options{URL: "http://" + target + "/", Protocol: ProtocolGRPC, GRPC: g, Rate: 50, Duration: 400 * time.Millisecond, Timeout: time.Second})
	require.NotEmpty(t, samples)
	assert.EqualValues(t, len(samples), st.Requests)
	for _, s := range samples {
		require.Empty(t, s.Error)
		assert.Equal(t, "pod-7-true", s.Pod, "the request's fields reached the server and the answer's hostname is the pod")
	}

	// a readiness check's single call, on its own connection
	r, err := g.Resolve(context.Background(), target)
	require.NoError(t, err)
	pod, err := CallGRPC(context.Background(), target, r, time.Second)
	require.NoError(t, err)
	assert.Equal(t, "pod-7-true", pod)

	// no data: an empty request, still read by field
	r, err = GRPC{Method: unaryCall, Field: "hostname"}.Resolve(context.Background(), target)
	require.NoError(t, err)
	pod, err = CallGRPC(context.Background(), target, r, time.Second)
	require.NoError(t, err)
	assert.Equal(t, "pod-0-false", pod)
}

// What a user can get wrong is named: the method, the field, the data, and
// a server without reflection.
func TestGRPCResolveNamesWhatIsWrong(t *testing.T) {
	target := reflectingServer(t, true)
	ctx := context.Background()
	for _, c := range []struct {
		g    GRPC
		want []string
	}{
		{GRPC{Method: "/grpc.testing.TestService/Nope", Field: "hostname"}, []string{"no method Nope", "UnaryCall", "EmptyCall"}},
		{GRPC{Method: "/grpc.testing.NoService/Get", Field: "hostname"}, []string{"grpc.testing.NoService", "the server has:", "grpc.testing.TestService"}},
		{GRPC{Method: "/grpc.testing.TestService/FullDuplexCall", Field: "hostname"}, []string{"streaming", "unary"}},
		{GRPC{Method: unaryCall, Field: "host"}, []string{`no field "host"`, "hostname", "username"}},
		{GRPC{Method: unaryCall, Field: "payload"}, []string{"grpc.testing.SimpleResponse.payload is a message", "string"}},
		{GRPC{Method: unaryCall, Field: "payload.body"}, []string{"grpc.testing.Payload.body is a bytes"}},
		{GRPC{Method: unaryCall, Field: "hostname.x"}, []string{"is a string, not a message with field x"}},
		{GRPC{Method: unaryCall, Data: json.RawMessage(`{"responseSize": "many"}`)}, []string{"request data", "grpc.testing.SimpleRequest", "responseSize"}},
		{GRPC{Method: unaryCall, Data: json.RawMessage(`{"nope": 1}`)}, []string{"request data", "nope"}},
	} {
		_, err := c.g.Resolve(ctx, target)
		require.Error(t, err, "%+v", c.g)
		for _, w := range c.want {
			assert.Contains(t, err.Error(), w, "%+v", c.g)
		}
	}
	_, err := GRPC{Method: unaryCall, Field: "hostname"}.Resolve(ctx, reflectingServer(t, false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "serves no reflection")

	assert.False(t, Unanswered(err), "a server without reflection answered")
	// nothing listening: unanswered (the runner tries again for a while)
	ln, lerr := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, lerr)
	gone := ln.Addr().String()
	ln.Close()
	_, err = GRPC{Method: unaryCall, Field: "hostname"}.Resolve(ctx, gone)
	require.Error(t, err)
	assert.True(t, Unanswered(err), err.Error())

	// an attack whose method cannot be resolved fails before any call
	_, err = Attack(ctx, Options{URL: "http://" + target + "/", Protocol: ProtocolGRPC, GRPC: GRPC{Method: unaryCall, Field: "host"}, Rate: 10, Duration: time.Second, Timeout: time.Second}, func(report.Sample) { t.Fatal("a call was made") })
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), `no field "host"`), err.Error())
}

// The field is read from the wire: the last occurrence wins, nested
// messages are followed, other fields skipped, junk gives nothing.
func TestWireField(t *testing.T) {
	str := func(b []byte, n protowire.Number, s string) []byte {
		b = protowire.AppendTag(b, n, protowire.BytesType)
		return protowire.AppendString(b, s)
	}
	var inner []byte
	inner = protowire.AppendTag(inner, 1, protowire.VarintType)
	inner = protowire.AppendVarint(inner, 42)
	inner = str(inner, 2, "pod-a")
	var msg []byte
	msg = str(msg, 1, "first")
	msg = protowire.AppendTag(msg, 5, protowire.Fixed64Type)
	msg = protowire.AppendFixed64(msg, 7)
	msg = protowire.AppendTag(msg, 3, protowire.BytesType)
	msg = protowire.AppendBytes(msg, inner)
	msg = str(msg, 1, "second")

	assert.Equal(t, "second", wireField(msg, []protowire.Number{1}))
	assert.Equal(t, "pod-a", wireField(msg, []protowire.Number{3, 2}))
	assert.Equal(t, "", wireField(msg, []protowire.Number{4}))
	assert.Equal(t, "", wireField(msg, []protowire.Number{3, 9}))
	assert.Equal(t, "", wireField([]byte{0xff, 0xff}, []protowire.Number{1}))
	assert.Equal(t, "", wireField(msg[:len(msg)-2], []protowire.Number{1}), "a truncated message names nothing")
}
