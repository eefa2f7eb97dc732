package authz

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Observer is told of every decision (logs, metrics). It must not block.
type Observer interface {
	Decided(ctx context.Context, r *Request, d *Decision, elapsed time.Duration)
}

// Service is the ext_authz v3 gRPC server.
type Service struct {
	authv3.UnimplementedAuthorizationServer
	snapshot atomic.Pointer[Snapshot]
	observer Observer

	// OnPanic, when set, receives the stack of a panic that Check turned into a 500. The panic
	// value itself is not passed on: it may hold request data.
	OnPanic func(stack []byte)
}

// NewService serves decisions from snap until Swap replaces it. observer may be nil.
func NewService(snap *Snapshot, observer Observer) *Service {
	s := &Service{observer: observer}
	s.snapshot.Store(snap)
	return s
}

// Swap installs a new snapshot; requests already deciding finish on the old one.
func (s *Service) Swap(snap *Snapshot) { s.snapshot.Store(snap) }

// Snapshot returns the snapshot in force.
func (s *Service) Snapshot() *Snapshot { return s.snapshot.Load() }

// Check answers Envoy. Every outcome, including a malformed request and a bug, is a
// CheckResponse; the gRPC error is always nil.
func (s *Service) Check(ctx context.Context, req *authv3.CheckRequest) (resp *authv3.CheckResponse, _ error) {
	start := time.Now()
	snap := s.snapshot.Load()
	var r *Request
	var d Decision
	defer func() {
		if p := recover(); p != nil {
			d = Decision{Reason: ReasonInternal, Description: "internal error", Realm: snap.realm()}
			resp = Render(&d)
			if s.OnPanic != nil {
				s.OnPanic(debug.Stack())
			}
		}
		if s.observer != nil {
			s.observer.Decided(ctx, r, &d, time.Since(start))
		}
	}()
	r, err := Extract(req)
	if err != nil {
		d = Decision{Reason: ReasonBadRequest, Description: err.Error(), Realm: snap.realm()}
		return Render(&d), nil
	}
	d = Decide(ctx, snap, r)
	return Render(&d), nil
}
