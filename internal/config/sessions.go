package config

import (
	"cmp"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/session"
)

// SessionsFile is the sessions section: browser sessions by Better Auth's cookies.
type SessionsFile struct {
	// CookieCache accepts Better Auth's session-cache cookie JWT, verified with the JWKS keys,
	// from its cookie only. Default: false.
	CookieCache *bool `yaml:"cookieCache"`
	// CookiePrefix is Better Auth's advanced.cookiePrefix. Default: better-auth.
	CookiePrefix string `yaml:"cookiePrefix"`
	// Lookup resolves the session_token cookie by calling Better Auth's get-session. Default:
	// false.
	Lookup *bool `yaml:"lookup"`
	// LookupTTL is how long a looked-up session is trusted (1s..10m). Default: 30s.
	LookupTTL *time.Duration `yaml:"lookupTTL"`
	// LookupURL is Better Auth's get-session endpoint. Default: origin(betterAuthURL) +
	// basePath + /get-session.
	LookupURL string `yaml:"lookupURL"`
	// Issuer names the issuer whose cookies browsers carry. Default: the first issuer.
	Issuer string `yaml:"issuer"`
	// SignInURL: browsers without a session get a 302 here. Default: none (401).
	SignInURL string `yaml:"signInURL"`
	// TrustedOrigins may send cookie-authenticated unsafe requests, besides the request's own
	// origin and betterAuthURL's. Default: none.
	TrustedOrigins []string `yaml:"trustedOrigins"`
	// MaxConcurrentLookups caps the get-session calls in flight (default 64, 1..4096):
	// identical lookups share one call, and a lookup that finds no free slot waits for one
	// within the check's deadline, then answers 503.
	MaxConcurrentLookups *int `yaml:"maxConcurrentLookups"`
	// CookieCacheVersion is Better Auth's session.cookieCache.version: a session-cache cookie
	// of another version is not trusted; its session token is looked up instead when lookup
	// is on, else it is refused (401). Default: none (any version).
	CookieCacheVersion string `yaml:"cookieCacheVersion"`
}

// Sessions are the validated sessions settings.
type Sessions struct {
	// CookieCache accepts the session-cache cookie JWT (from its cookie only).
	CookieCache bool
	// CookiePrefix is Better Auth's advanced.cookiePrefix.
	CookiePrefix string
	// Lookup resolves the session_token cookie through get-session, trusted for LookupTTL.
	Lookup    bool
	LookupTTL time.Duration
	// LookupURL is Better Auth's get-session endpoint (default origin(betterAuthURL) + basePath
	// + /get-session; set it to reach Better Auth inside the cluster, as jwksURL may).
	LookupURL string
	// MaxConcurrentLookups caps the get-session calls in flight.
	MaxConcurrentLookups int
	// Issuer names the issuer whose cookies these are (default: the first): its keys verify the
	// session-cache cookie, its get-session resolves session tokens.
	Issuer string
	// SignInURL, when set, is where browsers without a session are redirected.
	SignInURL string
	// TrustedOrigins may send cookie-authenticated unsafe requests, besides the request's own
	// origin and Better Auth's; each is scheme://host[:port].
	TrustedOrigins []string
	// CookieCacheVersion, when set, is the only session-cache cookie version trusted.
	CookieCacheVersion string
}

// DefaultCookiePrefix is Better Auth's default advanced.cookiePrefix.
const DefaultCookiePrefix = "better-auth"

const (
	minLookupTTL            = time.Second
	maxLookupTTL            = 10 * time.Minute
	maxMaxConcurrentLookups = 4096
)

func (f *File) sessions(c *checker, s *Settings) {
	sf := f.Sessions
	var is Issuer
	if len(s.Issuers) > 0 {
		is = s.Issuers[0]
	}
	if sf.Issuer != "" {
		var ok bool
		if is, ok = s.IssuerNamed(sf.Issuer); !ok {
			c.bad("sessions.issuer", "%q names no issuer (%s)", sf.Issuer, strings.Join(s.issuerNames(), ", "))
		}
	}
	s.Sessions = Sessions{
		CookieCache:  deref(sf.CookieCache, false),
		CookiePrefix: cmp.Or(sf.CookiePrefix, DefaultCookiePrefix),
		Lookup:       deref(sf.Lookup, false),
		LookupTTL:    deref(sf.LookupTTL, session.DefaultTTL),
		SignInURL:    sf.SignInURL,
		LookupURL:    cmp.Or(sf.LookupURL, is.Origin+is.BasePath+"/get-session"),
		Issuer:       is.Name,

		CookieCacheVersion: sf.CookieCacheVersion,

		MaxConcurrentLookups: deref(sf.MaxConcurrentLookups, session.DefaultMaxConcurrent),
	}
	if n := s.Sessions.MaxConcurrentLookups; n < 1 || n > maxMaxConcurrentLookups {
		c.bad("sessions.maxConcurrentLookups", "%d is outside 1..%d (get-session calls in flight at once)", n, maxMaxConcurrentLookups)
	}
	if v := sf.CookieCacheVersion; len(v) > 256 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		c.bad("sessions.cookieCacheVersion", "must be at most 256 printable characters")
	} else if v != "" && !s.Sessions.CookieCache {
		c.bad("sessions.cookieCacheVersion", "needs sessions.cookieCache: without it no session-cache cookie is read")
	}
	if !isCookieName(s.Sessions.CookiePrefix) {
		c.bad("sessions.cookiePrefix", "%q is not a cookie name prefix (letters, digits, - _ .)", s.Sessions.CookiePrefix)
	}
	if s.Sessions.LookupTTL < minLookupTTL || s.Sessions.LookupTTL > maxLookupTTL {
		c.bad("sessions.lookupTTL", "%s is outside %s..%s (a sign-out shows within it)", s.Sessions.LookupTTL, minLookupTTL, maxLookupTTL)
	}
	if sf.LookupURL != "" {
		if u, err := url.Parse(sf.LookupURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			c.bad("sessions.lookupURL", "%q must be an absolute http:// or https:// URL without credentials, query or fragment", sf.LookupURL)
		}
	}
	if sf.SignInURL != "" {
		if u, err := url.Parse(sf.SignInURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
			c.bad("sessions.signInURL", "%q must be an absolute http:// or https:// URL without credentials or fragment", sf.SignInURL)
		} else if !s.Sessions.CookieCache && !s.Sessions.Lookup {
			// With no cookie read, a signed-in browser would be sent back to sign in, forever.
			c.bad("sessions.signInURL", "needs sessions.cookieCache or sessions.lookup: without either no browser ever has a session")
		}
	}
	for i, o := range sf.TrustedOrigins {
		origin, err := originOf(o)
		if err != nil || strings.TrimSuffix(strings.ToLower(o), "/") != origin {
			c.bad(fmt.Sprintf("sessions.trustedOrigins[%d]", i), "%q is not an origin: write scheme://host[:port], no path", o)
			continue
		}
		s.Sessions.TrustedOrigins = append(s.Sessions.TrustedOrigins, origin)
	}
}

// isCookieName reports whether s may start a cookie name as Better Auth writes them.
func isCookieName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
