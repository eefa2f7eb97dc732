package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

// The chaos rhythm: a phase of faults (each a few seconds, then Normal for a moment), then a
// calm phase longer than settle in which the expectations are strict. Config reloads and key
// rotations happen in both, so that each is met with and without a working JWKS.
const (
	faultFor     = 3 * time.Second
	slowFaultFor = 6 * time.Second // Hang and SlowDrip: longer than the 5 s fetch timeout
	faultGap     = time.Second
	// slowFaultGap follows Hang and SlowDrip: the fetch they hold may run for its whole 5 s
	// timeout, and only one fetch runs at a time, so the next fault would meet no fetch at all.
	slowFaultGap   = 5 * time.Second
	faultsPerPhase = 5
	calmFor        = 15 * time.Second
)

// faultOrder is the order faults come in. Hang and SlowDrip each hold a fetch for its whole
// timeout, so they are left out of every other pass.
var faultOrder = []faultjwks.Mode{
	faultjwks.Status500, faultjwks.Garbage, faultjwks.Hang, faultjwks.Truncated, faultjwks.Huge,
	faultjwks.Redirect, faultjwks.SlowDrip, faultjwks.UnsupportedBeside, faultjwks.DuplicateKid,
	faultjwks.DuplicateKidSame, faultjwks.DuplicateMember, faultjwks.Reset, faultjwks.Empty,
}

// chaos runs faults, reloads and rotations until ctx ends, then leaves the server in Normal.
type chaos struct {
	tl     *timeline
	pool   *pool
	fj     *faultjwks.Server
	reload *reloader
	log    func(format string, args ...any)
	fail   func(category, detail string)

	mu        sync.Mutex
	windows   map[faultjwks.Mode]int // fault windows run
	served    map[faultjwks.Mode]int // JWKS requests answered in each mode
	rotations int
	retired   int
	next      int // index into the fault schedule
	pass      int
}

func (c *chaos) run(ctx context.Context) {
	defer c.tl.end()
	if !sleep(ctx, 3*time.Second) {
		return
	}
	for ctx.Err() == nil {
		for i := range faultsPerPhase {
			m := c.nextFault()
			gap := faultGap
			if m == faultjwks.Hang || m == faultjwks.SlowDrip {
				gap = slowFaultGap
			}
			if !c.fault(ctx, m) || !sleep(ctx, gap) {
				return
			}
			if i == 1 {
				c.rotate() // between faults: the new key is first met by a failing JWKS
			}
		}
		calm := time.Now()
		c.reload.step()
		if !sleep(ctx, 3*time.Second) {
			return
		}
		c.rotate() // and here by a working one
		if !sleep(ctx, 10*time.Second-time.Since(calm)) {
			return
		}
		c.reload.step()
		if !sleep(ctx, calmFor-time.Since(calm)) {
			return
		}
	}
}

// nextFault walks faultOrder, skipping Hang and SlowDrip on odd passes.
func (c *chaos) nextFault() faultjwks.Mode {
	for {
		m := faultOrder[c.next]
		c.next++
		if c.next == len(faultOrder) {
			c.next, c.pass = 0, c.pass+1
		}
		if (m == faultjwks.Hang || m == faultjwks.SlowDrip) && c.pass%2 == 1 {
			continue
		}
		return m
	}
}

// fault runs one fault window. It reports false when ctx ended (the fault is off either way).
func (c *chaos) fault(ctx context.Context, m faultjwks.Mode) bool {
	d := faultFor
	if m == faultjwks.Hang || m == faultjwks.SlowDrip {
		d = slowFaultFor
	}
	before := c.fj.Requests()
	c.tl.begin(m, c.pool.firstKid())
	ok := sleep(ctx, d)
	c.tl.end()
	c.mu.Lock()
	c.windows[m]++
	c.served[m] += c.fj.Requests() - before
	c.mu.Unlock()
	return ok
}

func (c *chaos) rotate() {
	kid, retired, err := c.pool.rotate()
	if err != nil {
		c.fail("rotation failed", err.Error())
		return
	}
	c.mu.Lock()
	c.rotations++
	if retired != "" {
		c.retired++
	}
	c.mu.Unlock()
	msg := fmt.Sprintf("rotated: new key %s", kid)
	if retired != "" {
		msg += ", retired " + retired
	}
	c.log("%s (state: %s)", msg, c.tl.now().active)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
