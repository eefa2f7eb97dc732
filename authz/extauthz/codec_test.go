package extauthz

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/betterauthz/betterauthz/authz"
)

// upgradeNote is what each failure below says: the codec is how a CheckRequest gRPC cannot
// decode still gets a CheckResponse, and without it that request gets a gRPC error — which
// Envoy's failure_mode_allow lets through unauthenticated.
const upgradeNote = "a gRPC or go-control-plane upgrade changed what extauthz/service.go relies on; " +
	"until it is fixed, a CheckRequest gRPC cannot decode is answered with a gRPC error, which failure_mode_allow lets through"

// TestGRPCCodecContract pins, one by one, what the check codec (service.go) relies on in gRPC and
// in the generated Authorization service, so that an upgrade that changes any of it fails here,
// loudly, with the reason — rather than only as a vaguer end-to-end failure.
func TestGRPCCodecContract(t *testing.T) {
	// 1. The proto codec is registered as a CodecV2 under the name clients send ("proto").
	base := encoding.GetCodecV2(grpcproto.Name)
	if base == nil || base.Name() != "proto" {
		t.Fatalf("encoding.GetCodecV2(%q) = %v: the proto CodecV2 is not registered: %s", grpcproto.Name, base, upgradeNote)
	}

	// 2. The codec hands a CheckRequest that fails to decode over, with its error, instead of
	// failing the call; anything else it decodes as the proto codec does.
	codec := checkCodec{base}
	env := &checkEnvelope{req: new(authv3.CheckRequest)}
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer{0xff, 0xff, 0xff}}, env); err != nil || env.err == nil {
		t.Fatalf("checkCodec.Unmarshal(garbage) = %v, envelope error %v: want nil and the decoding error: %s", err, env.err, upgradeNote)
	}
	wire, _ := proto.Marshal(httpCheck("GET", "h", "/", nil))
	var req authv3.CheckRequest
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, &req); err != nil || req.GetAttributes().GetRequest().GetHttp().GetPath() != "/" {
		t.Fatalf("checkCodec.Unmarshal(a CheckRequest) = %v, %v: %s", err, &req, upgradeNote)
	}

	// 3. The hand-made service description serves what the generated one declares: one unary
	// method, Check, of envoy.service.auth.v3.Authorization. A method added upstream would be
	// missing from it.
	gen := authv3.Authorization_ServiceDesc
	if gen.ServiceName != "envoy.service.auth.v3.Authorization" || len(gen.Methods) != 1 || gen.Methods[0].MethodName != "Check" || len(gen.Streams) != 0 {
		t.Fatalf("the generated Authorization service is %s with methods %v and streams %v, not one unary Check: %s", gen.ServiceName, gen.Methods, gen.Streams, upgradeNote)
	}
	if serviceDesc.ServiceName != gen.ServiceName || serviceDesc.Methods[0].MethodName != gen.Methods[0].MethodName {
		t.Fatalf("serviceDesc %s/%s is not the generated %s/%s: %s", serviceDesc.ServiceName, serviceDesc.Methods[0].MethodName, gen.ServiceName, gen.Methods[0].MethodName, upgradeNote)
	}

	// 4. A server built with ServerOptions decodes the Check method's request with that codec,
	// through the handler's decoder: bytes that are not protobuf reach checkHandler, which
	// answers with a CheckResponse.
	conn := serveConn(t, NewServer(authz.NewAuthorizer(testLive(fakeVerifier{}), nil)), DefaultMaxRequestBytes)
	resp := &authv3.CheckResponse{}
	err := conn.Invoke(context.Background(), authv3.Authorization_Check_FullMethodName, []byte{0xff, 0xff, 0xff}, resp, grpc.ForceCodec(rawCodec{}))
	if err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != 400 {
		t.Fatalf("a CheckRequest that is not protobuf: %v, %v: the server did not decode it through ServerOptions' codec (grpc.ForceServerCodecV2): %s", err, resp, upgradeNote)
	}
}
