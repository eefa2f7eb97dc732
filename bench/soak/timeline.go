package main

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

// settle is how long after a fault betterauthz may still show its effects: a fetch that
// started during the fault can run for its 5 s timeout, a kid refused from an empty set stays
// refused for the 5 s negative TTL, and then the next fetch (at most a second later, since the
// load's bogus kids ask for one every second) restores the real keys. 10 s covers that with
// room for a loaded 2-CPU machine.
const settle = 10 * time.Second

// faultState is the fault server's mode at one time and what led to it. A state is never
// changed once published: the timeline swaps in a new one.
type faultState struct {
	active faultjwks.Mode // Normal when no fault is on
	// lastEnd is when the last fault window ended (zero if none yet).
	lastEnd time.Time
	// lastEmptyEnd is when the last Empty window ended: keys betterauthz held before it may
	// have been dropped, since a set without keys is a successful fetch.
	lastEmptyEnd time.Time
	// dupKid is the kid the last DuplicateKid window listed twice, and lastDupEnd when that
	// window ended: betterauthz trusts neither key of a kid listed twice, so the real key of
	// dupKid may have been dropped until the next fetch after it.
	dupKid     string
	lastDupEnd time.Time
	// episode is the modes of the faults since the last quiet stretch (settle without a
	// fault), the active one included.
	episode modeSet
}

// quietAt: no fault at t, and none for settle before.
func (s *faultState) quietAt(t time.Time) bool {
	return s.active == faultjwks.Normal && (s.lastEnd.IsZero() || t.Sub(s.lastEnd) >= settle)
}

// timeline publishes the fault state for the load to judge its answers by.
type timeline struct {
	state atomic.Pointer[faultState]

	mu  sync.Mutex
	fj  *faultjwks.Server
	est map[string]time.Time // kid -> start of the latest check of it that was allowed
}

func newTimeline(fj *faultjwks.Server) *timeline {
	t := &timeline{fj: fj, est: map[string]time.Time{}}
	t.state.Store(&faultState{active: faultjwks.Normal})
	return t
}

func (t *timeline) now() *faultState { return t.state.Load() }

// begin puts mode m on; target is the kid DuplicateKid lists twice (the JWKS's first). The
// state is published before the server switches, so no answer to the fault can be judged by a
// state without it.
func (t *timeline) begin(m faultjwks.Mode, target string) {
	prev := t.state.Load()
	next := *prev
	now := time.Now()
	if prev.quietAt(now) {
		next.episode = 0
	}
	next.active, next.episode = m, next.episode.with(m)
	if m == faultjwks.DuplicateKid {
		next.dupKid = target
	}
	t.state.Store(&next)
	t.fj.Set(m)
}

// end turns the active fault off. The server switches before the state is published, for the
// same reason.
func (t *timeline) end() {
	prev := t.state.Load()
	if prev.active == faultjwks.Normal {
		return
	}
	t.fj.Set(faultjwks.Normal)
	next := *prev
	now := time.Now()
	switch prev.active {
	case faultjwks.Empty:
		next.lastEmptyEnd = now
	case faultjwks.DuplicateKid:
		next.lastDupEnd = now
	}
	next.active, next.lastEnd = faultjwks.Normal, now
	t.state.Store(&next)
}

// conditions are a check's circumstances, from the states at its start and at its end.
func (t *timeline) conditions(kid string, start time.Time, atStart *faultState, end time.Time, atEnd *faultState) conditions {
	c := conditions{quiet: atStart == atEnd && atStart.quietAt(start)}
	if !c.quiet {
		c.episode = atStart.episode | atEnd.episode
	}
	// A check that met the DuplicateKid window listing its kid twice may find the kid dropped.
	c.duplicated = kid != "" && !c.quiet && c.episode.has(faultjwks.DuplicateKid) &&
		(kid == atStart.dupKid || kid == atEnd.dupKid)
	if kid != "" && atEnd.active != faultjwks.Empty {
		t.mu.Lock()
		at, ok := t.est[kid]
		t.mu.Unlock()
		c.established = ok && at.After(atEnd.lastEmptyEnd)
		if kid == atEnd.dupKid {
			c.established = c.established && atEnd.active != faultjwks.DuplicateKid && at.After(atEnd.lastDupEnd)
		}
	}
	return c
}

// allowed records that a token of kid was allowed by a check that started at start.
func (t *timeline) allowed(kid string, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if start.After(t.est[kid]) {
		t.est[kid] = start
	}
}
