// Package extauthz is betterauthz's Envoy ext_authz v3 gRPC transport: it reads a
// CheckRequest into an authz.Request (Extract), has the authz.Authorizer decide, and renders the
// Decision as a CheckResponse (Render). It decides nothing itself.
package extauthz

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	protov2 "google.golang.org/protobuf/proto"

	"github.com/betterauthz/betterauthz/authz"
)

// Server is the ext_authz v3 Authorization service.
type Server struct {
	authv3.UnimplementedAuthorizationServer
	authorizer *authz.Authorizer
}

// NewServer serves a's decisions.
func NewServer(a *authz.Authorizer) *Server { return &Server{authorizer: a} }

// Check answers Envoy: extract, decide, render. Every outcome, including a malformed request
// and a bug, is a CheckResponse; the gRPC error is always nil.
func (s *Server) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return s.check(ctx, req, new(check)), nil
}

func (s *Server) check(ctx context.Context, req *authv3.CheckRequest, c *check) (resp *authv3.CheckResponse) {
	defer s.recoverAnswer(ctx, &resp)
	if err := extract(&c.req, req); err != nil {
		return s.refuse(ctx, err)
	}
	c.req.Scratch = &c.scratch
	d := s.authorizer.Authorize(ctx, &c.req)
	return c.answer.render(&d)
}

// checkWire answers a CheckRequest read from its wire bytes by the lean decoder (wire.go).
// What the lean decoder refuses, protobuf-go decodes: its error is the answer, as when gRPC
// decoded every CheckRequest; should it decode the request after all, the request is checked
// as decoded — the lean decoder can only cost time, never change an answer.
//
// An allowed answer is encoded at once (an *encodedAnswer); any other is a *CheckResponse.
func (s *Server) checkWire(ctx context.Context, c *wireCheck) (resp any) {
	defer s.recoverWire(ctx, &resp)
	if err := c.lean.decode(c.wire.b); err != nil {
		req := new(authv3.CheckRequest)
		if err := protov2.Unmarshal(c.wire.b, req); err != nil {
			return s.undecodable(ctx, err)
		}
		return s.check(ctx, req, new(check))
	}
	if err := c.lean.request(&c.req); err != nil {
		return s.refuse(ctx, err)
	}
	c.req.Scratch = &c.scratch
	d := s.authorizer.Authorize(ctx, &c.req)
	if !d.Allowed() {
		return deny(&d)
	}
	if e := c.encoded.encode(&d); e != nil {
		return e
	}
	return Render(&d)
}

// refuse answers a request that could not be read.
func (s *Server) refuse(ctx context.Context, err error) *authv3.CheckResponse {
	d := s.authorizer.Refuse(ctx, Transport, authz.ReasonBadRequest, err.Error(), "")
	return Render(&d)
}

// recoverWire is recoverAnswer for checkWire: a panic in reading the request, too, is a 500.
func (s *Server) recoverWire(ctx context.Context, resp *any) {
	if p := recover(); p != nil {
		d := s.authorizer.Panicked(ctx, Transport)
		*resp = Render(&d)
	}
}

// recoverAnswer, deferred, answers a panic in reading the request or rendering the answer
// (Authorize recovers its own).
func (s *Server) recoverAnswer(ctx context.Context, resp **authv3.CheckResponse) {
	if p := recover(); p != nil {
		d := s.authorizer.Panicked(ctx, Transport)
		*resp = Render(&d)
	}
}

// check is the memory one Check needs, allocated at once: the request as authz reads it, the
// decision's scratch memory, and the answer handed to gRPC (which keeps the block alive until
// it has sent it) — and, for a check the gRPC handler decodes, the CheckRequest itself. A
// cache hit allocates nothing else.
type check struct {
	req      authz.Request
	scratch  authz.Scratch
	answer   answer
	in       authv3.CheckRequest
	envelope checkEnvelope
}

// wireCheck is check for a CheckRequest the lean decoder reads: the wire bytes (the one other
// allocation of a cache hit), what the decoder read of them, and the answer, encoded.
type wireCheck struct {
	req     authz.Request
	scratch authz.Scratch
	wire    checkWire
	lean    leanRequest
	encoded encodedAnswer
}

// DefaultMaxRequestBytes is the largest CheckRequest accepted, gRPC's usual limit chosen on
// purpose: Envoy sends the request headers (max_request_headers_kb, 60 KiB by default) and,
// only with with_request_body, up to max_request_bytes of body, which betterauthz never reads.
// Every CheckRequest under the limit gets a CheckResponse; one over it is refused by gRPC
// before it is read (ResourceExhausted), which keeps memory per request bounded — so Envoy's
// max_request_bytes must stay under it (see the README's limits).
const DefaultMaxRequestBytes = 4 << 20

// ServerOptions are the gRPC server options Register needs: the receive limit, and a codec
// that hands CheckRequests over even when they cannot be decoded, so that they are answered
// with a CheckResponse rather than a gRPC error.
func ServerOptions(maxRequestBytes int) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxRequestBytes),
		grpc.ForceServerCodecV2(checkCodec{encoding.GetCodecV2(proto.Name)}),
	}
}

// Register serves s as envoy.service.auth.v3.Authorization on srv, which must have been built
// with ServerOptions. A CheckRequest that is not valid protobuf, or holds invalid UTF-8 in a
// string field, gets a 400 CheckResponse: the generated handler would answer a gRPC error, and
// Envoy treats those as a failed check — with failure_mode_allow the request goes through
// unauthenticated, with the client's own identity headers.
func (s *Server) Register(srv *grpc.Server) {
	srv.RegisterService(&serviceDesc, s)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: authv3.Authorization_ServiceDesc.ServiceName,
	HandlerType: (*authv3.AuthorizationServer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Check", Handler: checkHandler}},
	Metadata:    authv3.Authorization_ServiceDesc.Metadata,
}

// checkEnvelope carries a CheckRequest through the codec together with its decoding error.
type checkEnvelope struct {
	req *authv3.CheckRequest
	err error
}

// checkWire carries a CheckRequest's wire bytes through the codec, copied out of gRPC's
// buffers (which gRPC reuses once the codec returns) into memory of the check's own.
type checkWire struct{ b []byte }

// checkCodec is the proto codec, except that a CheckRequest that fails to decode is handed
// over with its error instead of failing the call, and that the Check method's lean path
// (checkWire) receives the bytes undecoded.
type checkCodec struct{ encoding.CodecV2 }

// Marshal sends an encodedAnswer's bytes as they are, and marshals anything else as the proto
// codec does.
func (c checkCodec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(*encodedAnswer); ok {
		return e.buffers(), nil
	}
	return c.CodecV2.Marshal(v)
}

func (c checkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch env := v.(type) {
	case *checkWire:
		env.b = data.Materialize()
		return nil
	case *checkEnvelope:
		env.err = c.CodecV2.Unmarshal(data, env.req)
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// checkHandler serves Check. Without an interceptor (betterauthz installs none) the request is
// read by the lean decoder; an interceptor is handed the decoded CheckRequest it expects.
func checkHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	s := srv.(*Server)
	if interceptor == nil {
		c := new(wireCheck) // all the check needs but the wire bytes
		if err := dec(&c.wire); err != nil {
			return nil, err // the stream failed: gRPC has already answered
		}
		return s.checkWire(ctx, c), nil
	}
	c := new(check) // the CheckRequest decoded into it, and all its check needs
	env := &c.envelope
	env.req = &c.in
	if err := dec(env); err != nil {
		return nil, err
	}
	if env.err != nil {
		return s.undecodable(ctx, env.err), nil
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: authv3.Authorization_Check_FullMethodName}
	return interceptor(ctx, env.req, info, func(ctx context.Context, req any) (any, error) {
		return s.Check(ctx, req.(*authv3.CheckRequest))
	})
}

// undecodable answers a CheckRequest that could not be decoded.
func (s *Server) undecodable(ctx context.Context, err error) *authv3.CheckResponse {
	d := s.authorizer.Refuse(ctx, Transport, authz.ReasonBadRequest, "CheckRequest could not be decoded", err.Error())
	return Render(&d)
}
