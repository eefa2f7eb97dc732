package httpcheck

import (
	"context"
	"sync/atomic"
	"time"
)

// deadline is a call's context with the check's deadline, whose timer is made only when the
// check waits on it (Done: a key refresh, a lookup at Better Auth). A cache hit only asks Err,
// which reads the clock: context.WithTimeout's timer, its registration with the request's
// context and their allocations were a twentieth of a cached check's CPU.
//
// Until a timer is made it is the request's context with a deadline; after, the timer's
// context (context.WithDeadline of the request's), whose Value also finds the timer's own
// cancellation, so that a context derived from it is cancelled with it as usual.
type deadline struct {
	parent context.Context
	at     time.Time
	timed  atomic.Pointer[timed]
}

type timed struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// set makes d parent with the deadline at (or parent's, when earlier).
func (d *deadline) set(parent context.Context, at time.Time) {
	if pd, ok := parent.Deadline(); ok && pd.Before(at) {
		at = pd
	}
	d.parent, d.at = parent, at
}

// stop releases the timer, if one was made (context.WithTimeout's cancel).
func (d *deadline) stop() {
	if t := d.timed.Load(); t != nil {
		t.cancel()
	}
}

func (d *deadline) timer() context.Context {
	if t := d.timed.Load(); t != nil {
		return t.ctx
	}
	ctx, cancel := context.WithDeadline(d.parent, d.at)
	if !d.timed.CompareAndSwap(nil, &timed{ctx, cancel}) {
		cancel()
		return d.timed.Load().ctx
	}
	return ctx
}

func (d *deadline) Deadline() (time.Time, bool) { return d.at, true }

func (d *deadline) Done() <-chan struct{} { return d.timer().Done() }

func (d *deadline) Err() error {
	if t := d.timed.Load(); t != nil {
		return t.ctx.Err()
	}
	if err := d.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(d.at) {
		return context.DeadlineExceeded
	}
	return nil
}

func (d *deadline) Value(key any) any {
	if t := d.timed.Load(); t != nil {
		return t.ctx.Value(key)
	}
	return d.parent.Value(key)
}
