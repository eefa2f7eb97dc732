package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
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

// pending is a config waiting for the key sets it starts (or inherits from an earlier pending
// config) before it takes over.
type pending struct {
	settings *config.Settings
	digest   [32]byte
	source   string
	ring     keyRing
	fresh    []*running // its sets not in force: stopped if it is dropped
	waitFor  []wait
	mustLoad bool // the ring in force serves and this one would not: wait for some set to load
	since    time.Time
	noted    time.Time
}

// wait is what a pending config waits for of one of its fresh sets.
type wait struct {
	set *running
	// loaded: the set replaces one that serves (same name or same JWKS address), so it must
	// load before it takes over; otherwise its first fetch must have ended, so that readiness
	// does not drop while it tries.
	loaded bool
}

func (w wait) done() bool {
	if w.loaded {
		return w.set.keys.Loaded()
	}
	return w.set.keys.Attempted()
}

// ready reports whether the pending config may take over.
func (p *pending) ready() bool {
	if slices.ContainsFunc(p.waitFor, func(w wait) bool { return !w.done() }) {
		return false
	}
	return !p.mustLoad || slices.ContainsFunc(p.ring.sets(), (*jwks.KeySet).Loaded)
}

// waitingURLs are the JWKS addresses the pending config still waits for.
func (p *pending) waitingURLs() []string {
	var out []string
	for _, w := range p.waitFor {
		if !w.done() || (p.mustLoad && !w.set.keys.Loaded()) {
			out = append(out, w.set.source.url)
		}
	}
	return out
}

// ringFor returns the key sets s needs: the running set of an issuer whose name and key source
// are unchanged (in force, or started for a pending config), a new one otherwise (started).
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

// switchKeys puts s in force with its key sets. The first config takes over at once (not ready
// until its keys load). A later one waits while the config in force answers: for a set that
// replaces one that serves (the same issuer name, or the same JWKS address under a new name)
// until it has loaded, so that a reload to a wrong or unreachable jwksURL cannot take an issuer
// down; for a new issuer until its first fetch has ended, so that readiness does not drop on
// every replica at once; and, when the sets in force serve, until one of its own does. A set
// that replaces one that never loaded (its issuer is down) is not waited for.
func (r *reloader) switchKeys(s *config.Settings, digest [32]byte, source string) error {
	ring, fresh, err := r.ringFor(s)
	if err != nil {
		return err
	}
	r.dropPending(ring)
	if r.ring == nil {
		return r.commit(s, digest, source, ring)
	}
	now := time.Now()
	p := &pending{settings: s, digest: digest, source: source, ring: ring, fresh: fresh, since: now, noted: now,
		mustLoad: slices.ContainsFunc(r.ring.sets(), (*jwks.KeySet).Loaded)}
	for _, k := range fresh {
		replaces := slices.ContainsFunc(r.ring, func(old *running) bool {
			return (old.name == k.name || old.source.url == k.source.url) && old.keys.Loaded()
		})
		p.waitFor = append(p.waitFor, wait{set: k, loaded: replaces})
	}
	if p.ready() {
		return r.commit(s, digest, source, ring)
	}
	r.pending = p
	r.log.Info("config accepted: it takes over once the signing keys at its jwksURL have loaded; until then the previous config stays in force",
		"source", source, "jwks_urls", p.waitingURLs())
	return nil
}

// keysFetched puts a pending config in force once what it waits for has happened, and says so
// while it waits (a failing key set fetches every few seconds).
func (r *reloader) keysFetched(ks *jwks.KeySet) {
	p := r.pending
	if p == nil || !slices.ContainsFunc(p.fresh, func(k *running) bool { return k.keys == ks }) {
		return
	}
	if p.ready() {
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
			"jwks_urls", p.waitingURLs(), "waiting", now.Sub(p.since).Round(time.Second).String())
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
			if slices.Contains(r.current().keys, ks) {
				r.metrics.KeySet(name, f.Keys, ks.LastSuccess(), f.Stale)
			}
			r.send(keysFetched{ks})
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

// verifiers are what a config verifies credentials with: access tokens, the session-cache
// cookie (nil unless sessions.cookieCache), session tokens (nil unless sessions.lookup).
type verifiers struct {
	tokens   authz.TokenVerifier
	cookies  authz.TokenVerifier
	sessions authz.SessionLookup
}

func newVerifiers(s *config.Settings, ring keyRing) (verifiers, error) {
	var v verifiers
	tokens, err := jwks.NewVerifier(s.TokenVerifier(func(name string) *jwks.KeySet { return ring.named(name).keys }))
	if err != nil {
		return v, err
	}
	v.tokens = tokens
	if s.Sessions.CookieCache {
		// Better Auth signs the session-cache cookie with the same keys, with iss its base URL
		// as it normalizes it (the origin, measured on 1.7.25) and a fixed audience. Browser
		// sessions are the session issuer's alone.
		is := s.SessionIssuer()
		cookies, err := jwks.NewVerifier(jwks.VerifierOptions{
			Trusts: []jwks.Trust{{
				Name:          is.Name,
				Keys:          ring.named(is.Name).keys,
				Issuer:        is.Origin,
				IssuerAliases: []string{strings.TrimRight(is.BetterAuthURL, "/")},
				Audiences:     []string{jwks.SessionCacheAudience},
				Algorithms:    is.Algorithms,
			}},
			ClockSkew:     s.ClockSkew,
			SessionCookie: true,
			Transform:     func(c jwks.Claims) (jwks.Claims, error) { return session.Claims(c.Map()) },
			CacheEntries:  s.CacheEntries,
			CacheBytes:    s.CacheBytes,
		})
		if err != nil {
			return v, err
		}
		v.cookies = cookies
	}
	if s.Sessions.Lookup {
		sessions, err := session.New(session.Options{URL: s.Sessions.LookupURL, TTL: s.Sessions.LookupTTL, MaxConcurrent: s.Sessions.MaxConcurrentLookups})
		if err != nil {
			return v, err
		}
		v.sessions = sessions
	}
	return v, nil
}

// sameVerification reports whether two configs verify credentials alike, so that a reload that
// only changes policy keeps the verifiers and their warm caches.
func sameVerification(a, b *config.Settings) bool {
	return a != nil && slices.EqualFunc(a.Issuers, b.Issuers, sameIssuer) && a.ClockSkew == b.ClockSkew &&
		a.CacheEntries == b.CacheEntries && a.CacheBytes == b.CacheBytes &&
		a.Sessions.CookieCache == b.Sessions.CookieCache && a.Sessions.Lookup == b.Sessions.Lookup &&
		a.Sessions.LookupTTL == b.Sessions.LookupTTL && a.Sessions.LookupURL == b.Sessions.LookupURL &&
		a.Sessions.MaxConcurrentLookups == b.Sessions.MaxConcurrentLookups && a.Sessions.Issuer == b.Sessions.Issuer
}

func sameIssuer(a, b config.Issuer) bool {
	return a.Name == b.Name && a.BetterAuthURL == b.BetterAuthURL && a.Origin == b.Origin &&
		a.BasePath == b.BasePath && a.JWKSURL == b.JWKSURL && a.Issuer == b.Issuer &&
		slices.Equal(a.Audiences, b.Audiences) && slices.Equal(a.Algorithms, b.Algorithms) && a.JWKSCAFile == b.JWKSCAFile
}
