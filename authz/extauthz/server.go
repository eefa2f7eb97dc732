// Package extauthz is betterauthz's Envoy ext_authz v3 gRPC transport: it reads a
// CheckRequest into an authz.Request (Extract), has the authz.Authorizer decide, and renders the
// Decision as a CheckResponse (Render). It decides nothing itself.
package extauthz

import (
	"context"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

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
	defer func() {
		if p := recover(); p != nil { // in Extract or Render: Authorize recovers its own
			d := s.authorizer.Panicked(ctx, Transport)
			resp = Render(&d)
		}
	}()
	if err := extract(&c.req, req); err != nil {
		d := s.authorizer.Refuse(ctx, Transport, authz.ReasonBadRequest, err.Error(), "")
		return Render(&d)
	}
	c.req.Scratch = &c.scratch
	d := s.authorizer.Authorize(ctx, &c.req)
	return c.answer.render(&d)
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
