package keyset

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
)

// A key set refreshes in the background (Run), and at once when a token names a kid it does not
// hold (KeyRead). Every fetch, whatever asked for it, goes through schedule: at most one runs at
// a time, they start at least MinFetchGap apart, and callers that arrive while one runs share the
// next — so any number of waiting requests, or a flood of bogus kids, costs one fetch.

// fetchCall is one JWKS fetch that any number of callers may wait for. started and err are
// written before done is closed and read only after.
type fetchCall struct {
	trigger string
	// kid is a kid a caller waits for (written under mu until the fetch starts): the fetch
	// names it to the JWKS as ?kid=, which a betterauthz relay reads as "refresh first".
	kid     string
	done    chan struct{}
	started time.Time
	err     error
}

// Run loads the key set, retrying with backoff until it succeeds, then refreshes it every
// RefreshInterval until ctx ends. A failed refresh keeps the last good keys and is retried with
// backoff. Run returns nil when ctx ends; the KeySet must not be used after.
func (k *KeySet) Run(ctx context.Context) error {
	defer k.cancel()
	if k.fetcher == nil {
		return nil // a static set: nothing to refresh
	}
	stop := context.AfterFunc(ctx, k.cancel)
	defer stop()

	backoff := k.opts.InitialBackoff
	trigger := "initial"
	for {
		c := k.schedule(trigger, "")
		select {
		case <-c.done:
		case <-k.ctx.Done():
			return nil
		}
		var next time.Duration
		if c.err == nil {
			backoff = k.opts.InitialBackoff
			next, trigger = k.opts.RefreshInterval, "interval"
		} else {
			// Full jitter keeps replicas that failed together from retrying together.
			next = backoff/2 + rand.N(backoff/2+1)
			limit := k.opts.MaxBackoff
			if k.Loaded() {
				limit = min(limit, k.opts.RefreshInterval)
			}
			backoff = min(backoff*2, limit)
			if !k.Loaded() {
				trigger = "initial"
			} else {
				trigger = "retry"
			}
		}
		t := time.NewTimer(next)
		select {
		case <-t.C:
		case <-k.ctx.Done():
			t.Stop()
			return nil
		}
	}
}

// join returns the fetch running now, or else schedules one — unless a fetch has ended since
// the caller's miss (seen, from fetchesFinished before it read the keys): then nil, and the
// caller reads the keys again instead of starting a fetch the one that ended may have made
// needless.
func (k *KeySet) join(trigger, kid string, seen uint64) *fetchCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.finished != seen {
		return nil
	}
	if k.inflight != nil {
		return k.inflight
	}
	return k.scheduleLocked(trigger, kid)
}

// fetchesFinished counts the fetches that have ended, their keys installed.
func (k *KeySet) fetchesFinished() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.finished
}

// schedule returns a fetch that has not started yet, creating one if none is pending. Callers
// that arrive while a fetch runs share the next one, so any number of them cost one fetch.
// kid, when not "", is a kid the caller waits for: the pending fetch names it if it names none.
func (k *KeySet) schedule(trigger, kid string) *fetchCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.scheduleLocked(trigger, kid)
}

func (k *KeySet) scheduleLocked(trigger, kid string) *fetchCall {
	if k.pending != nil {
		if k.pending.kid == "" {
			k.pending.kid = kid
		}
		return k.pending
	}
	c := &fetchCall{trigger: trigger, kid: kid, done: make(chan struct{})}
	k.pending = c
	go k.launch(c)
	return c
}

// launch waits until no fetch runs and MinFetchGap has passed since the last start, then runs c.
func (k *KeySet) launch(c *fetchCall) {
	var kid string
	for {
		k.mu.Lock()
		prev := k.inflight
		wait := time.Until(k.lastStart.Add(k.opts.MinFetchGap))
		if prev == nil && wait <= 0 {
			c.started = time.Now()
			k.pending, k.inflight, k.lastStart = nil, c, c.started
			kid = c.kid
			k.mu.Unlock()
			break
		}
		k.mu.Unlock()
		var ready <-chan struct{} // nil (never ready) when waiting on the timer
		var timer *time.Timer
		if prev != nil {
			ready = prev.done
		} else {
			timer = time.NewTimer(wait)
		}
		select {
		case <-ready:
		case <-timerC(timer):
		case <-k.ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			k.mu.Lock()
			if k.pending == c {
				k.pending = nil
			}
			k.mu.Unlock()
			c.err = k.ctx.Err()
			close(c.done)
			return
		}
	}

	ctx, cancel := context.WithTimeout(k.ctx, k.opts.FetchTimeout)
	c.err = k.fetch(ctx, c.trigger, kid)
	cancel()

	k.mu.Lock()
	k.inflight = nil
	k.finished++
	k.mu.Unlock()
	close(c.done)
}

func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// fetch downloads and installs the key set. On any failure the last good keys stay. Once keys
// are loaded, the request carries the upstream's last ETag: a 304 keeps the keys and counts as
// a successful refresh (a betterauthz relay answers so; Better Auth sends no ETag).
func (k *KeySet) fetch(ctx context.Context, trigger, kid string) error {
	start := time.Now()
	etag := ""
	if k.Loaded() {
		etag = k.etag
	}
	got, problems, err := k.fetcher.download(ctx, kid, etag)
	if err == nil && !got.notModified {
		// What the relay publishes and HasKid reads first, the store KeyRead reads last: a
		// request the store shows a new kid to (a relay's ?kid= that waited for it) finds the
		// kid published too.
		prev := k.publish(got.keys, time.Now())
		if err = k.keys.KeyReplaceAll(ctx, got.keys); err == nil {
			k.etag = got.etag
		} else {
			k.current.Store(prev.current)
			k.published.Store(prev.published)
		}
	}
	keys := got.keys
	end := time.Now()
	log := k.opts.Logger.With("url", k.opts.URL, "trigger", trigger)
	if k.opts.Name != "" {
		log = log.With("issuer", k.opts.Name)
	}
	for _, p := range problems {
		log.Warn("jwks key skipped", "error", p.Error())
	}
	if err != nil {
		log.Warn("jwks refresh failed; keeping the last good keys", "error", err.Error(),
			"failure", FetchFailure(err), "keys", k.Keys(), "loaded", k.Loaded())
	} else if got.notModified {
		k.lastSuccess.Store(end.UnixNano())
		log.Debug("jwks not modified")
	} else {
		k.noteKids(log, keys, k.install(keys, end))
	}
	stale := k.noteStaleness(log)
	k.attempted.Store(true)
	if k.opts.Observer != nil {
		k.opts.Observer.JWKSFetched(Fetch{
			Name: k.opts.Name, Trigger: trigger, Err: err, Stale: stale, Keys: k.Keys(), Skipped: len(problems),
			Duration: end.Sub(start), At: end,
		})
	}
	return err
}

// published is what publish replaced, to put back if the store refuses the keys.
type published struct {
	current   *map[string]verificationKey
	published *Published
}

// publish makes keys the set HasKid looks up and the relay serves.
func (k *KeySet) publish(keys []jwkset.JWK, at time.Time) published {
	set := make(map[string]verificationKey, len(keys))
	for _, j := range keys {
		set[j.Marshal().KID] = verificationKeyOf(j)
	}
	return published{current: k.current.Swap(&set), published: k.published.Swap(publish(keys, at))}
}

// noteStaleness logs, once each way, when the keys pass MaxKeyAge and when they are fresh
// again. Failed fetches are retried every few seconds, so staleness is noted within one retry.
func (k *KeySet) noteStaleness(log *slog.Logger) bool {
	stale := k.Stale()
	if stale == k.staleNoted.Load() {
		return stale
	}
	k.staleNoted.Store(stale)
	if stale {
		log.Error("signing keys are stale: no successful JWKS refresh within maxKeyAge; every token is refused (503 keys_stale) and the server is not ready until Better Auth answers",
			"max_key_age", k.opts.MaxKeyAge.String(), "last_success", k.LastSuccess().UTC().Format(time.RFC3339))
	} else {
		log.Info("signing keys fresh again")
	}
	return stale
}

// noteKids logs when the set of kids changes: rotations are worth a line, steady refreshes not.
func (k *KeySet) noteKids(log *slog.Logger, keys []jwkset.JWK, first bool) {
	kids := make([]string, 0, len(keys))
	for _, j := range keys {
		kids = append(kids, j.Marshal().KID)
	}
	slices.Sort(kids)
	k.mu.Lock()
	changed := first || !slices.Equal(kids, k.kids)
	k.kids = kids
	k.mu.Unlock()
	switch {
	case first:
		log.Info("jwks loaded", "kids", kids)
	case changed:
		log.Info("jwks changed", "kids", kids)
	default:
		log.Debug("jwks refreshed", "kids", kids)
	}
}

// install puts keys in force, fetched at at, and reports whether they are the first.
func (k *KeySet) install(keys []jwkset.JWK, at time.Time) (first bool) {
	k.keyCount.Store(int64(len(keys)))
	k.lastSuccess.Store(at.UnixNano())
	return !k.loaded.Swap(true)
}
