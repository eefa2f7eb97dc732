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

// pending is a config waiting for its new key set to load.
type pending struct {
	settings *config.Settings
	digest   [32]byte
	source   string
	keys     *jwks.KeySet
	stop     context.CancelFunc
	since    time.Time
	noted    time.Time
}

// switchKeys starts a key set for a config whose JWKS differs from the one in force. The first
// config takes over at once (not ready until its keys load); a later one waits for its keys, the
// config in force answering meanwhile, so that a reload to a wrong or unreachable jwksURL
// cannot take the service down.
func (r *reloader) switchKeys(s *config.Settings, digest [32]byte, source string) error {
	keys, stop, err := r.startKeys(s)
	if err != nil {
		return err
	}
	r.cancelPending()
	if r.keys == nil {
		return r.commit(s, digest, source, keys, stop)
	}
	now := time.Now()
	r.pending = &pending{settings: s, digest: digest, source: source, keys: keys, stop: stop, since: now, noted: now}
	r.log.Info("config accepted: it takes over once the signing keys at its jwksURL have loaded; until then the previous config stays in force",
		"source", source, "jwks_url", s.JWKSURL)
	return nil
}

// keysFetched puts a pending config in force once its keys have loaded, and says so while it
// waits (a failing key set fetches every few seconds).
func (r *reloader) keysFetched(ks *jwks.KeySet) {
	p := r.pending
	if p == nil || p.keys != ks {
		return
	}
	if ks.Loaded() {
		r.pending = nil
		_ = r.commit(p.settings, p.digest, p.source, p.keys, p.stop)
		return
	}
	if now := time.Now(); now.Sub(p.noted) >= keySwitchNote {
		p.noted = now
		r.log.Warn("still waiting for the signing keys at the new jwksURL; the previous config stays in force",
			"jwks_url", ks.URL(), "waiting", now.Sub(p.since).Round(time.Second).String())
	}
}

// cancelPending drops a config still waiting for its keys (a newer one replaces it).
func (r *reloader) cancelPending() {
	if r.pending != nil {
		r.pending.stop()
		r.pending = nil
	}
}

// startKeys starts a key set for s; the returned func stops it. Its fetches come back to the
// reloader as events.
func (r *reloader) startKeys(s *config.Settings) (*jwks.KeySet, context.CancelFunc, error) {
	var ks *jwks.KeySet
	ks, err := jwks.NewKeySet(jwks.KeySetOptions{
		URL:             s.JWKSURL,
		RefreshInterval: s.JWKSRefreshInterval,
		MaxKeyAge:       s.MaxKeyAge,
		CAFile:          s.JWKSCAFile,
		Logger:          r.log,
		Observer: fetchObserver(func(f jwks.Fetch) {
			r.metrics.JWKSFetched(f)
			r.send(keysFetched{ks})
		}),
	})
	if errors.Is(err, jwks.ErrFetchCAFile) {
		return nil, nil, policy.Errorf("jwksCAFile", 0, "%v", err)
	}
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(r.bg)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		_ = ks.Run(ctx)
	}()
	return ks, cancel, nil
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

func newVerifiers(s *config.Settings, keys *jwks.KeySet) (verifiers, error) {
	var v verifiers
	tokens, err := jwks.NewVerifier(jwks.VerifierOptions{
		Keys:         keys,
		Issuer:       s.Issuer,
		Audiences:    s.Audiences,
		Algorithms:   s.Algorithms,
		ClockSkew:    s.ClockSkew,
		CacheEntries: s.CacheEntries,
		CacheBytes:   s.CacheBytes,
	})
	if err != nil {
		return v, err
	}
	v.tokens = tokens
	if s.Sessions.CookieCache {
		// Better Auth signs the session-cache cookie with the same keys, with iss its base URL
		// as it normalizes it (the origin, measured on 1.7.25) and a fixed audience.
		cookies, err := jwks.NewVerifier(jwks.VerifierOptions{
			Keys:          keys,
			Issuer:        s.Origin,
			IssuerAliases: []string{strings.TrimRight(s.BetterAuthURL, "/")},
			Audiences:     []string{jwks.SessionCacheAudience},
			Algorithms:    s.Algorithms,
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

// sameKeySource reports whether two configs fetch their keys alike, so that a reload keeps the
// key set that is running.
func sameKeySource(a, b *config.Settings) bool {
	return a.JWKSURL == b.JWKSURL && a.JWKSRefreshInterval == b.JWKSRefreshInterval &&
		a.MaxKeyAge == b.MaxKeyAge && a.JWKSCAFile == b.JWKSCAFile
}

// sameVerification reports whether two configs verify tokens alike, so that a reload that only
// changes policy keeps the verifier and its warm cache.
func sameVerification(a, b *config.Settings) bool {
	return a != nil && a.Issuer == b.Issuer && slices.Equal(a.Audiences, b.Audiences) &&
		slices.Equal(a.Algorithms, b.Algorithms) && a.ClockSkew == b.ClockSkew &&
		a.CacheEntries == b.CacheEntries && a.CacheBytes == b.CacheBytes &&
		a.Origin == b.Origin && a.BetterAuthURL == b.BetterAuthURL && a.BasePath == b.BasePath &&
		a.Sessions.CookieCache == b.Sessions.CookieCache && a.Sessions.Lookup == b.Sessions.Lookup &&
		a.Sessions.LookupTTL == b.Sessions.LookupTTL && a.Sessions.LookupURL == b.Sessions.LookupURL
}
