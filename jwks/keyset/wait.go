package keyset

import (
	"context"
	"time"
)

// The share of a caller's remaining time a wait may use, and the least time it leaves over.
// Envoy's ext_authz timeout is 200 ms by default: a check that waited the whole of it would
// answer just as Envoy gives up, so Envoy would see DEADLINE_EXCEEDED instead of the answer —
// and with failure_mode_allow the request would pass unauthenticated.
const (
	waitShare  = 0.8
	waitMargin = 20 * time.Millisecond
)

// WaitContext bounds a wait (for a key refresh, a session lookup) so that the caller still has
// time to answer before ctx's deadline: it ends at 80% of the time left or 20 ms before the
// deadline, whichever is earlier — at once when less than 20 ms is left. Without a deadline it
// is ctx. Call it only where a wait begins: it starts a timer.
func WaitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	now := time.Now()
	left := deadline.Sub(now)
	budget := min(time.Duration(float64(left)*waitShare), left-waitMargin)
	return context.WithDeadline(ctx, now.Add(budget))
}
