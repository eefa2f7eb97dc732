package server

import (
	"context"
	"errors"
	"slices"
	"strings"
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
	return keySource{url: is.JWKSURL, refresh: s.JWKSRefreshInterval, maxAge: s.MaxKeyAge, caFile: s.JWKSCAFile}
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

// pending is a config waiting for the new key sets of issuers it changes to load.
type pending struct {
	settings *config.Settings
	digest   [32]byte
	source   string
	ring     keyRing
	started  []*running // the sets started for it (stopped if it is dropped)
	waitFor  []*running // of those, the ones that replace a set in force
	since    time.Time
	noted    time.Time
}

// loaded reports whether every set the pending config waits for has loaded.
func (p *pending) loaded() bool {
	return !slices.ContainsFunc(p.waitFor, func(r *running) bool { return !r.keys.Loaded() })
}

// ringFor returns the key sets s needs: the running set of an issuer whose name and key source
// are unchanged (in force, or started for a pending config), a new one otherwise (started).
func (r *reloader) ringFor(s *config.Settings) (ring keyRing, started []*running, err error) {
	var pool keyRing
	pool = append(pool, r.ring...)
	if r.pending != nil {
		pool = append(pool, r.pending.started...)
	}
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
	return ring, started, nil
}

// switchKeys puts s in force with its key sets: at once when no set it starts replaces one in
// force (the first config is not ready until its keys load; a new issuer serves once its keys
// load), and otherwise once those have loaded, the config in force answering meanwhile, so
// that a reload to a wrong or unreachable jwksURL cannot take an issuer down.
func (r *reloader) switchKeys(s *config.Settings, digest [32]byte, source string) error {
	ring, started, err := r.ringFor(s)
	if err != nil {
		return err
	}
	r.dropPending(ring)
	var waitFor []*running
	for _, k := range started {
		if r.ring.named(k.name) != nil {
			waitFor = append(waitFor, k)
		}
	}
	if len(waitFor) == 0 {
		return r.commit(s, digest, source, ring)
	}
	now := time.Now()
	r.pending = &pending{settings: s, digest: digest, source: source, ring: ring, started: started, waitFor: waitFor, since: now, noted: now}
	r.log.Info("config accepted: it takes over once the signing keys at its jwksURL have loaded; until then the previous config stays in force",
		"source", source, "jwks_urls", urlsOf(waitFor))
	return nil
}

// keysFetched puts a pending config in force once the sets it waits for have loaded, and says
// so while it waits (a failing key set fetches every few seconds).
func (r *reloader) keysFetched(ks *jwks.KeySet) {
	p := r.pending
	if p == nil || !slices.ContainsFunc(p.waitFor, func(k *running) bool { return k.keys == ks }) {
		return
	}
	if p.loaded() {
		r.pending = nil
		_ = r.commit(p.settings, p.digest, p.source, p.ring)
		return
	}
	if now := time.Now(); now.Sub(p.noted) >= keySwitchNote {
		p.noted = now
		r.log.Warn("still waiting for the signing keys at the new jwksURL; the previous config stays in force",
			"jwks_urls", urlsOf(p.waitFor), "waiting", now.Sub(p.since).Round(time.Second).String())
	}
}

// dropPending drops a config still waiting for its keys (a newer one replaces it), stopping
// the sets started for it that keep is not using.
func (r *reloader) dropPending(keep keyRing) {
	if r.pending == nil {
		return
	}
	for _, k := range r.pending.started {
		if !slices.Contains(keep, k) {
			k.stop()
		}
	}
	r.pending = nil
}

// startKeys starts the key set of an issuer. Its fetches come back to the reloader as events.
func (r *reloader) startKeys(name string, src keySource) (*running, error) {
	var ks *jwks.KeySet
	ks, err := jwks.NewKeySet(jwks.KeySetOptions{
		Name:            name,
		URL:             src.url,
		RefreshInterval: src.refresh,
		MaxKeyAge:       src.maxAge,
		CAFile:          src.caFile,
		Logger:          r.log,
		Observer: fetchObserver(func(f jwks.Fetch) {
			r.metrics.JWKSFetched(f)
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
	return &running{name: name, source: src, keys: ks, stop: cancel}, nil
}

func urlsOf(ks []*running) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.source.url
	}
	return out
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
			Transform:     func(c jwks.Claims) (jwks.Claims, error) { return session.Claims(c) },
			CacheEntries:  s.CacheEntries,
			CacheBytes:    s.CacheBytes,
		})
		if err != nil {
			return v, err
		}
		v.cookies = cookies
	}
	if s.Sessions.Lookup {
		sessions, err := session.New(session.Options{URL: s.Sessions.LookupURL, TTL: s.Sessions.LookupTTL})
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
		a.Sessions.Issuer == b.Sessions.Issuer
}

func sameIssuer(a, b config.Issuer) bool {
	return a.Name == b.Name && a.BetterAuthURL == b.BetterAuthURL && a.Origin == b.Origin &&
		a.BasePath == b.BasePath && a.JWKSURL == b.JWKSURL && a.Issuer == b.Issuer &&
		slices.Equal(a.Audiences, b.Audiences) && slices.Equal(a.Algorithms, b.Algorithms)
}
