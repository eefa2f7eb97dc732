package authz

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Observer is told of every decision (logs, metrics). It must not block.
type Observer interface {
	Decided(ctx context.Context, r *Request, d *Decision, elapsed time.Duration)
}

// Authorizer decides requests with the Snapshot in force. Every transport holds the same
// one, so that they share the config, the token cache and the reason codes.
type Authorizer struct {
	snapshot atomic.Pointer[Snapshot]
	observer Observer

	// OnPanic, when set, receives the stack of a panic that a decision turned into a 500. The
	// panic value itself is not passed on: it may hold request data.
	OnPanic func(stack []byte)
	// Tracer, when set, wraps each decision in a span (nil: no tracing, no cost).
	Tracer Tracer
}

// Tracer starts a span for a check; the returned func ends it with the decision. The context
// it returns carries the span to the observer (the decision log names its trace).
type Tracer interface {
	Start(ctx context.Context, r *Request) (context.Context, func(*Decision))
}

// NewAuthorizer decides with snapshot (nil: nothing loaded yet, every check answers 503) until
// Publish replaces it. observer may be nil.
func NewAuthorizer(snapshot *Snapshot, observer Observer) *Authorizer {
	a := &Authorizer{observer: observer}
	a.snapshot.Store(snapshot)
	return a
}

// Publish puts a new Snapshot in force; decisions already running finish on the old one.
func (a *Authorizer) Publish(s *Snapshot) { a.snapshot.Store(s) }

// Authorize decides r. It never fails: a bug is a 500 (internal_error), never an escape.
func (a *Authorizer) Authorize(ctx context.Context, r *Request) (d Decision) {
	start := time.Now()
	snapshot := a.snapshot.Load()
	var end func(*Decision)
	if a.Tracer != nil {
		ctx, end = a.Tracer.Start(ctx, r)
	}
	// The observer and the tracer are shown the decision by pointer: it lives in the request's
	// scratch memory when there is some, so that showing it allocates nothing.
	var out *Decision
	if r.Scratch != nil {
		out = &r.Scratch.decision
	} else {
		out = new(Decision)
	}
	defer func() {
		if p := recover(); p != nil {
			*out = a.internalError(snapshot)
		}
		a.observe(ctx, r, out, start)
		if end != nil {
			end(out)
		}
		d = *out
	}()
	*out = Decide(ctx, snapshot, r)
	return *out
}

// Panicked answers for a transport that recovered from a panic of its own (reading the
// request or rendering the answer): a 500, observed like every decision. Call it from the
// deferred recover.
func (a *Authorizer) Panicked(ctx context.Context, transport string) Decision {
	d := a.internalError(a.snapshot.Load())
	a.traced(ctx, &Request{Transport: transport}, &d, time.Now())
	return d
}

func (a *Authorizer) internalError(snapshot *Snapshot) Decision {
	if a.OnPanic != nil {
		a.OnPanic(debug.Stack())
	}
	return Decision{Reason: ReasonInternal, Description: "internal error", Realm: snapshot.realm()}
}

// Refuse answers a request its transport could not read into a Request (reason is normally
// ReasonBadRequest), and tells the observer. detail is for the log only.
func (a *Authorizer) Refuse(ctx context.Context, transport string, reason Reason, description, detail string) Decision {
	start := time.Now()
	d := Decision{Reason: reason, Description: description, Detail: detail, Realm: a.snapshot.Load().realm()}
	a.traced(ctx, &Request{Transport: transport}, &d, start)
	return d
}

// traced observes a decision made outside Authorize, in a span of its own.
func (a *Authorizer) traced(ctx context.Context, r *Request, d *Decision, start time.Time) {
	if a.Tracer != nil {
		var end func(*Decision)
		ctx, end = a.Tracer.Start(ctx, r)
		defer end(d)
	}
	a.observe(ctx, r, d, start)
}

func (a *Authorizer) observe(ctx context.Context, r *Request, d *Decision, start time.Time) {
	if a.observer != nil {
		a.observer.Decided(ctx, r, d, time.Since(start))
	}
}
