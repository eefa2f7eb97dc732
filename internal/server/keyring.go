package server

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/switchover"
	"github.com/betterauthz/betterauthz/jwks"
)

// keySwitchNote is how often a config waiting for the keys at a new JWKS address says so.
const keySwitchNote = 30 * time.Second

// keySource is how an issuer's keys are fetched: a reload that keeps it, under the same issuer
// name, keeps the running key set (and its keys).
type keySource struct {
	url             string
	refresh, maxAge time.Duration
	caFile          string
}

func sourceOf(s *config.Settings, is config.Issuer) keySource {
	return keySource{url: is.JWKSURL, refresh: s.JWKSRefreshInterval, maxAge: s.MaxKeyAge, caFile: is.JWKSCAFile}
}

// running is one issuer's key set, fetching in the background until stopped.
type running struct {
	name   string
	source keySource
	keys   *jwks.KeySet
	stop   context.CancelFunc
}

// keyRing is the key sets of a config's issuers, in the config's order. Each issuer has its
// own: a token is verified with the keys of the issuer its iss names, never another's.
type keyRing []*running

func (k keyRing) named(name string) *running {
	for _, r := range k {
		if r.name == name {
			return r
		}
	}
	return nil
}

func (k keyRing) sets() []*jwks.KeySet {
	out := make([]*jwks.KeySet, len(k))
	for i, r := range k {
		out[i] = r.keys
	}
	return out
}

// candidate is a config waiting for the key sets it starts (or inherits from an earlier
// candidate) before it takes over: package switchover says when.
type candidate struct {
	settings *config.Settings
	digest   [32]byte
	source   string
	ring     keyRing
	fresh    []*running // its sets not in force: stopped if it is dropped
	// inForce are the sets in force when it arrived, as they were then.
	inForce []switchover.Set
	since   time.Time
	noted   time.Time
}

// step asks switchover whether the candidate takes over now.
func (c *candidate) step() switchover.Outcome {
	sets := make([]switchover.Set, len(c.ring))
	for i, k := range c.ring {
		sets[i] = k.state(!slices.Contains(c.fresh, k))
	}
	return switchover.Step(c.inForce, sets)
}

// state is the set as a switch-over sees it; kept: it serves the config in force.
func (k *running) state(kept bool) switchover.Set {
	return switchover.Set{Issuer: k.name, URL: k.source.url, Kept: kept, Attempted: k.keys.Attempted(), Loaded: k.keys.Loaded()}
}

// states are the ring's sets as a switch-over sees them: nil for no ring (no config in force).
func (k keyRing) states() []switchover.Set {
	if k == nil {
		return nil
	}
	out := make([]switchover.Set, len(k))
	for i, r := range k {
		out[i] = r.state(true)
	}
	return out
}

// ringFor returns the key sets s needs: the running set of an issuer whose name and key source
// are unchanged (in force, or started for a waiting candidate), a new one otherwise (started).
// fresh are the sets of the ring not in force.
func (r *reloader) ringFor(s *config.Settings) (ring keyRing, fresh []*running, err error) {
	var pool keyRing
	pool = append(pool, r.ring...)
	if r.pending != nil {
		pool = append(pool, r.pending.fresh...)
	}
	var started []*running
	for _, is := range s.Issuers {
		src := sourceOf(s, is)
		i := slices.IndexFunc(pool, func(k *running) bool { return k.name == is.Name && k.source == src })
		if i >= 0 {
			ring = append(ring, pool[i])
			continue
		}
		k, err := r.startKeys(is.Name, src)
		if err != nil {
			for _, k := range started {
				k.stop()
			}
			return nil, nil, err
		}
		ring, started = append(ring, k), append(started, k)
	}
	for _, k := range ring {
		if !slices.Contains(r.ring, k) {
			fresh = append(fresh, k)
		}
	}
	return ring, fresh, nil
}

// switchKeys puts s in force with its key sets, now or — while the config in force answers —
// once switchover says the new sets are far enough along.
func (r *reloader) switchKeys(s *config.Settings, digest [32]byte, source string) error {
	ring, fresh, err := r.ringFor(s)
	if err != nil {
		return err
	}
	r.dropPending(ring)
	now := time.Now()
	c := &candidate{settings: s, digest: digest, source: source, ring: ring, fresh: fresh, inForce: r.ring.states(), since: now, noted: now}
	out := c.step()
	if out.Verdict == switchover.Publish {
		return r.commit(s, digest, source, ring)
	}
	r.pending = c
	r.log.Info("config accepted: it takes over once the signing keys at its jwksURL have loaded; until then the previous config stays in force",
		"source", source, "jwks_urls", out.Waiting)
	return nil
}

// keysFetched puts a candidate in force once switchover says so, and says what it waits for
// while it waits (a failing key set fetches every few seconds).
func (r *reloader) keysFetched(ks *jwks.KeySet) {
	p := r.pending
	if p == nil || !slices.ContainsFunc(p.fresh, func(k *running) bool { return k.keys == ks }) {
		return
	}
	out := p.step()
	if out.Verdict == switchover.Publish {
		r.pending = nil
		if err := r.commit(p.settings, p.digest, p.source, p.ring); err != nil {
			r.metrics.ConfigLoaded(p.source, err, time.Now())
			r.log.Error("config refused once its keys loaded; the last good config stays in force", "source", p.source, "problems", problemList(err))
		}
		return
	}
	if now := time.Now(); now.Sub(p.noted) >= keySwitchNote {
		p.noted = now
		r.log.Warn("still waiting for the signing keys at the new jwksURL; the previous config stays in force",
			"jwks_urls", out.Waiting, "waiting", now.Sub(p.since).Round(time.Second).String())
	}
}

// dropPending drops a config still waiting for its keys (a newer one replaces it), stopping
// the sets started for it that keep is not using.
func (r *reloader) dropPending(keep keyRing) {
	if r.pending == nil {
		return
	}
	for _, k := range r.pending.fresh {
		if !slices.Contains(keep, k) {
			k.stop()
		}
	}
	r.pending = nil
}

// startKeys starts the key set of an issuer. Its fetches come back to the reloader as events.
func (r *reloader) startKeys(name string, src keySource) (*running, error) {
	var ks *jwks.KeySet
	var stopped atomic.Bool
	ks, err := jwks.NewKeySet(jwks.KeySetOptions{
		Name:            name,
		URL:             src.url,
		RefreshInterval: src.refresh,
		MaxKeyAge:       src.maxAge,
		CAFile:          src.caFile,
		Logger:          r.log,
		Observer: fetchObserver(func(f jwks.Fetch) {
			if stopped.Load() {
				return // a fetch that ended after its set was stopped: no one's keys
			}
			r.metrics.JWKSFetched(f)
			if slices.Contains(r.inForce.current().keys, ks) {
				r.metrics.KeySet(name, f.Keys, ks.LastSuccess(), f.Stale)
			}
			r.inbox.send(keysFetched{ks})
		}),
	})
	if errors.Is(err, jwks.ErrFetchCAFile) {
		return nil, policy.Errorf("jwksCAFile", 0, "%v", err)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(r.bg)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = ks.Run(ctx)
	}()
	return &running{name: name, source: src, keys: ks, stop: func() { stopped.Store(true); cancel() }}, nil
}

// fetchObserver adapts a func to jwks.Observer.
type fetchObserver func(jwks.Fetch)

func (f fetchObserver) JWKSFetched(x jwks.Fetch) { f(x) }

// stopUnused stops the sets of old that are not in keep, and returns them.
func stopUnused(old, keep keyRing) []*running {
	var stopped []*running
	for _, k := range old {
		if !slices.Contains(keep, k) {
			k.stop()
			stopped = append(stopped, k)
		}
	}
	return stopped
}
