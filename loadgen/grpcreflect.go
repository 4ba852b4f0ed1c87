package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// needsDescriptors reports whether the calls need the method's message
// types: a request to encode from JSON, or a response field to read.
func (g GRPC) needsDescriptors() bool { return len(g.Data) > 0 || g.Field != "" }

// Resolve reads the method's descriptors from the server's reflection
// service at target (host:port) when the calls need them (GRPC.Data,
// GRPC.Field): the request is encoded once, the field's path is turned
// into field numbers. Errors name the method, the field and what the
// server has instead.
func (g GRPC) Resolve(ctx context.Context, target string) (GRPC, error) {
	if !g.needsDescriptors() || g.resolved {
		return g, nil
	}
	g = g.withDefaults()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if g.Authority != "" {
		opts = append(opts, grpc.WithAuthority(g.Authority))
	}
	cc, err := grpc.NewClient("passthrough:///"+target, opts...)
	if err != nil {
		return g, fmt.Errorf("gRPC client for %s: %w", target, err)
	}
	defer cc.Close()
	md, err := methodDescriptor(ctx, cc, g.Method)
	if err != nil {
		return g, fmt.Errorf("gRPC method %s at %s: %w", g.Method, target, err)
	}
	g.request = []byte{}
	if len(g.Data) > 0 {
		msg := dynamicpb.NewMessage(md.Input())
		if err := protojson.Unmarshal(g.Data, msg); err != nil {
			return g, fmt.Errorf("gRPC request data for %s (message %s): %w", g.Method, md.Input().FullName(), err)
		}
		if g.request, err = proto.Marshal(msg); err != nil {
			return g, fmt.Errorf("gRPC request data for %s: %w", g.Method, err)
		}
	}
	if g.Field != "" {
		if g.fieldNums, err = fieldPath(md.Output(), g.Field); err != nil {
			return g, fmt.Errorf("gRPC response field %q of %s: %w", g.Field, g.Method, err)
		}
	}
	g.resolved = true
	return g, nil
}

// maxReflectedFiles bounds how many proto files one method's descriptors
// may pull in (its file and every import).
const maxReflectedFiles = 200

// methodDescriptor asks the server's reflection service (grpc.reflection.v1)
// for the file declaring method's service and every file it imports, and
// returns the method; a streaming method is refused (the load calls unary
// methods).
func methodDescriptor(ctx context.Context, cc *grpc.ClientConn, method string) (protoreflect.MethodDescriptor, error) {
	svc, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	reg, err := reflectedFiles(ctx, cc, svc)
	if err != nil {
		return nil, err
	}
	return findMethod(reg, svc, name)
}

// reflectedFiles asks the reflection service for the file declaring svc
// and, one by one, every import it did not send with it.
func reflectedFiles(ctx context.Context, cc *grpc.ClientConn, svc string) (*protoregistry.Files, error) {
	stream, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, reflectionErr(err)
	}
	defer stream.CloseSend()
	files := map[string]*descriptorpb.FileDescriptorProto{}
	ask := func(req *rpb.ServerReflectionRequest) error {
		err := stream.Send(req)
		if err != nil && !errors.Is(err, io.EOF) {
			return reflectionErr(err)
		}
		// a stream the server ended returns io.EOF on send: its status
		// comes with the receive
		resp, err := stream.Recv()
		if err != nil {
			return reflectionErr(err)
		}
		if e := resp.GetErrorResponse(); e != nil {
			return fmt.Errorf("server reflection: %s (%s)", e.GetErrorMessage(), codes.Code(e.GetErrorCode()))
		}
		for _, raw := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
			fd := &descriptorpb.FileDescriptorProto{}
			if err := proto.Unmarshal(raw, fd); err != nil {
				return fmt.Errorf("server reflection: a file descriptor: %w", err)
			}
			files[fd.GetName()] = fd
		}
		return nil
	}
	if err := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: svc}}); err != nil {
		if services, lerr := listServices(stream); lerr == nil {
			return nil, fmt.Errorf("%w; the server has: %s", err, strings.Join(services, ", "))
		}
		return nil, err
	}
	// imports the server left out, one by one (a server may send them with
	// the first answer, or not)
	for len(files) < maxReflectedFiles {
		dep := missingImport(files)
		if dep == "" {
			break
		}
		if err := ask(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileByFilename{FileByFilename: dep}}); err != nil {
			// a well-known type the server does not serve: this binary's
			if f, gerr := protoregistry.GlobalFiles.FindFileByPath(dep); gerr == nil {
				files[dep] = protodesc.ToFileDescriptorProto(f)
				continue
			}
			return nil, fmt.Errorf("import %s: %w", dep, err)
		}
		if files[dep] == nil {
			return nil, fmt.Errorf("import %s: the server's reflection did not send it", dep)
		}
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, f := range files {
		set.File = append(set.File, f)
	}
	reg, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("the server's descriptors: %w", err)
	}
	return reg, nil
}

// findMethod is svc's method name in reg; a streaming one is refused.
func findMethod(reg *protoregistry.Files, svc, name string) (protoreflect.MethodDescriptor, error) {
	d, err := reg.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, fmt.Errorf("no service %s in the server's descriptors", svc)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a service", svc)
	}
	m := sd.Methods().ByName(protoreflect.Name(name))
	if m == nil {
		var have []string
		for i := range sd.Methods().Len() {
			have = append(have, string(sd.Methods().Get(i).Name()))
		}
		return nil, fmt.Errorf("service %s has no method %s (it has: %s)", svc, name, strings.Join(have, ", "))
	}
	if m.IsStreamingClient() || m.IsStreamingServer() {
		return nil, fmt.Errorf("%s is a streaming method; the load makes unary calls", m.FullName())
	}
	return m, nil
}

// listServices asks the reflection service for the services it knows.
func listServices(stream rpb.ServerReflection_ServerReflectionInfoClient) ([]string, error) {
	if err := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"}}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if len(names) == 0 {
		return nil, errors.New("no services")
	}
	slices.Sort(names)
	return names, nil
}

// missingImport is an import of one of files that is not among them.
func missingImport(files map[string]*descriptorpb.FileDescriptorProto) string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names) // the same order every time
	for _, n := range names {
		for _, dep := range files[n].GetDependency() {
			if files[dep] == nil {
				return dep
			}
		}
	}
	return ""
}

func reflectionErr(err error) error {
	if status.Code(err) == codes.Unimplemented {
		return errors.New("the server serves no reflection (grpc.reflection.v1), which request data and a response-field attribution need to know the method's messages")
	}
	return fmt.Errorf("server reflection: %w", err)
}

// fieldPath turns a dot path of field names ("hostname", "meta.pod"; the
// .proto's names or their JSON names) into field numbers: every step but
// the last a singular message field, the last a singular string.
func fieldPath(md protoreflect.MessageDescriptor, path string) ([]protowire.Number, error) {
	var nums []protowire.Number
	parts := strings.Split(path, ".")
	for i, p := range parts {
		fields := md.Fields()
		f := fields.ByName(protoreflect.Name(p))
		if f == nil {
			f = fields.ByJSONName(p)
		}
		if f == nil {
			var have []string
			for j := range fields.Len() {
				have = append(have, string(fields.Get(j).Name()))
			}
			return nil, fmt.Errorf("message %s has no field %q (it has: %s)", md.FullName(), p, strings.Join(have, ", "))
		}
		last := i == len(parts)-1
		switch {
		case f.IsList() || f.IsMap():
			return nil, fmt.Errorf("field %s is a list or map; want a single value", f.FullName())
		case last && f.Kind() != protoreflect.StringKind:
			return nil, fmt.Errorf("field %s is a %s; the pod's name is a string", f.FullName(), f.Kind())
		case !last && f.Kind() != protoreflect.MessageKind:
			return nil, fmt.Errorf("field %s is a %s, not a message with field %s", f.FullName(), f.Kind(), parts[i+1])
		}
		nums = append(nums, f.Number())
		md = f.Message()
	}
	return nums, nil
}

// wireField reads the string at nums (a path of field numbers, as
// fieldPath gives) from an encoded message, without decoding the rest:
// the last occurrence wins, as protobuf's own decoding has it. Empty when
// absent or malformed.
func wireField(b []byte, nums []protowire.Number) string {
	var got []byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == nums[0] && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return ""
			}
			b = b[m:]
			if len(nums) == 1 {
				got = v
			} else if s := wireField(v, nums[1:]); s != "" {
				got = []byte(s)
			}
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		b = b[m:]
	}
	return string(got)
}
