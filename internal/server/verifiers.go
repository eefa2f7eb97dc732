package server

import (
	"slices"
	"strings"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
)

// verifiers are what a config verifies credentials with: access tokens, the session-cache
// cookie (nil unless sessions.cookieCache), session tokens (nil unless sessions.lookup).
type verifiers struct {
	tokens   authz.TokenVerifier
	access   authz.TokenVerifier
	cookies  authz.TokenVerifier
	sessions authz.SessionLookup
	roles    authz.MemberRoleLookup // with sessions
	apiKeys  authz.APIKeyLookup     // nil unless apiKeys.enabled
}

func newVerifiers(s *config.Settings, ring keyRing) (verifiers, error) {
	var v verifiers
	tokens, err := jwks.NewVerifier(s.TokenVerifier(func(name string) *jwks.KeySet { return ring.named(name).keys }))
	if err != nil {
		return v, err
	}
	v.tokens = tokens
	access, err := jwks.NewVerifier(s.AccessTokenVerifier(func(name string) *jwks.KeySet { return ring.named(name).keys }))
	if err != nil {
		return v, err
	}
	v.access = access
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
	if s.Sessions.Lookup || s.APIKeys.Enabled {
		// One lookup asks Better Auth everything — sessions, organization roles, API keys —
		// within one cap on the calls in flight.
		sessions, err := session.New(session.Options{
			URL: s.Sessions.LookupURL, TTL: s.Sessions.LookupTTL, APIKeyTTL: s.APIKeys.TTL,
			MaxConcurrent: s.Sessions.MaxConcurrentLookups,
		})
		if err != nil {
			return v, err
		}
		if s.Sessions.Lookup {
			v.sessions, v.roles = sessions, sessions
		}
		if s.APIKeys.Enabled {
			v.apiKeys = sessions
		}
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
		a.Sessions.MaxConcurrentLookups == b.Sessions.MaxConcurrentLookups && a.Sessions.Issuer == b.Sessions.Issuer &&
		a.Sessions.CookieCacheVersion == b.Sessions.CookieCacheVersion &&
		a.APIKeys.Enabled == b.APIKeys.Enabled && a.APIKeys.TTL == b.APIKeys.TTL
}

func sameIssuer(a, b config.Issuer) bool {
	return a.Name == b.Name && a.BetterAuthURL == b.BetterAuthURL && a.Origin == b.Origin &&
		a.BasePath == b.BasePath && a.JWKSURL == b.JWKSURL && a.Issuer == b.Issuer && a.AccessTokenIssuer == b.AccessTokenIssuer &&
		slices.Equal(a.Audiences, b.Audiences) && slices.Equal(a.Algorithms, b.Algorithms) && a.JWKSCAFile == b.JWKSCAFile
}
