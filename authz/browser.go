package authz

import (
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
)

// Browsers: cookies ride along with every request a page makes, including requests another
// site's page makes (CSRF), and a browser without a session is better sent to sign in than
// shown a 401.

// Browser says how browser sessions are read: Better Auth's cookies, the sign-in redirect,
// and the origins trusted to send cookie-authenticated unsafe requests.
type Browser struct {
	// CookieCache reads the session-cache cookie JWT (<prefix>.session_data).
	CookieCache bool
	// Lookup resolves the session token cookie (<prefix>.session_token) through Better Auth.
	Lookup bool
	// CookiePrefix is Better Auth's advanced.cookiePrefix ("better-auth").
	CookiePrefix string
	// SecureOnly reads only the __Secure- cookie names: Better Auth sets only those over https,
	// and reading plain names too would let whoever can set a cookie for the domain over http
	// (a sibling subdomain) plant their own session.
	SecureOnly bool
	// SignInURL, when set, is where browsers without a session are sent (302).
	SignInURL string
	// TrustedOrigins may send cookie-authenticated unsafe requests, besides the request's own
	// origin; scheme://host[:port], lower case. Better Auth's origin is among them.
	TrustedOrigins []string
	// Issuer names the issuer the sessions belong to (for rules that require one).
	Issuer string
	// CookieCacheVersion, when set, is Better Auth's session.cookieCache.version: a
	// session-cache cookie of another version is not trusted (the session token is looked up
	// instead, when lookups are on).
	CookieCacheVersion string
}

func (b *Browser) enabled() bool { return b.CookieCache || b.Lookup }

// safeMethod: the methods that must not change anything (RFC 9110 §9.2.1) — the ones a cookie
// may authenticate from anywhere.
func safeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// originTrusted reports whether a cookie-authenticated unsafe request comes from a page it may
// come from: its Origin (else its Referer's origin) is one of the trusted origins or the
// request's own. A missing or "null" origin is not trusted.
func (b *Browser) originTrusted(r *Request, host string) bool {
	origin, _ := r.Header("origin")
	if origin == "" {
		if ref, _ := r.Header("referer"); ref != "" {
			if u, err := url.Parse(ref); err == nil && u.Scheme != "" && u.Host != "" {
				origin = u.Scheme + "://" + u.Host
			}
		}
	}
	origin = strings.ToLower(strings.TrimSuffix(origin, "/"))
	if origin == "" || origin == "null" {
		return false
	}
	for _, o := range b.TrustedOrigins {
		if origin == o {
			return true
		}
	}
	// The request's own origin. Without a known scheme, its host decides alone.
	scheme, rest, ok := strings.Cut(origin, "://")
	if !ok || (r.Scheme != "" && !strings.EqualFold(scheme, r.Scheme)) {
		return false
	}
	own, err := normalizeHost(r.Host)
	if err != nil {
		return false
	}
	theirs, err := normalizeHost(rest)
	return err == nil && theirs == own && samePort(rest, r.Host, scheme)
}

// samePort compares the ports of two authorities, the scheme's default standing for none.
func samePort(a, b, scheme string) bool {
	port := func(hostport string) string {
		if _, p, err := net.SplitHostPort(hostport); err == nil && p != "" {
			return p
		}
		if scheme == "https" {
			return "443"
		}
		return "80"
	}
	return port(a) == port(b)
}

// signInRedirect says where a browser without a session goes: for GET and HEAD requests that
// accept text/html (a page, not an API call: */* alone does not count), sessions.signInURL with
// callbackURL set to the original URL — only when that URL is on signInURL's site (the same
// registrable domain), so the sign-in page can never be made to send anyone elsewhere. host is
// the request's host normalized, authority the same as sent (with its port), target the path
// and query as sent.
func (b *Browser) signInRedirect(r *Request, host, authority, target string) (string, bool) {
	if b.SignInURL == "" || (r.Method != "GET" && r.Method != "HEAD") {
		return "", false
	}
	accept, _ := r.Header("accept")
	if !strings.Contains(strings.ToLower(accept), "text/html") {
		return "", false
	}
	signIn, err := url.Parse(b.SignInURL)
	if err != nil {
		return "", false
	}
	if !sameSite(host, strings.ToLower(signIn.Hostname())) {
		return b.SignInURL, true
	}
	callback, ok := callbackURL(r.Scheme, authority, target)
	if !ok {
		return b.SignInURL, true
	}
	q := signIn.Query()
	q.Set("callbackURL", callback)
	signIn.RawQuery = q.Encode()
	return signIn.String(), true
}

// callbackURL builds the original request's absolute URL from its parts, never by joining
// strings: a target is joined to a host only when it is a path ("/…"), since anything else
// ("@evil.com/x", "x") could make a URL of another host. The path and query are kept as sent;
// the scheme is http or https (unknown: https). ok is false when there is no such URL.
func callbackURL(scheme, authority, target string) (string, bool) {
	if authority == "" || !strings.HasPrefix(target, "/") {
		return "", false
	}
	switch scheme = strings.ToLower(scheme); scheme {
	case "":
		scheme = "https"
	case "http", "https":
	default:
		return "", false
	}
	target, _, _ = strings.Cut(target, "#")
	rawPath, rawQuery, _ := strings.Cut(target, "?")
	path, err := url.PathUnescape(rawPath)
	if err != nil {
		return "", false
	}
	u := url.URL{Scheme: scheme, Host: authority, Path: path, RawPath: rawPath, RawQuery: rawQuery}
	// Read back, the URL must name the same host: the authority was checked (normalizeHost),
	// this proves that no part of the target became part of it.
	back, err := url.Parse(u.String())
	if err != nil || back.Host != authority {
		return "", false
	}
	return u.String(), true
}

// sameSite reports whether two hosts share a registrable domain (eTLD+1); IP addresses and
// single-label names only when equal.
func sameSite(a, b string) bool {
	if a == b {
		return true
	}
	if net.ParseIP(strings.Trim(a, "[]")) != nil || net.ParseIP(strings.Trim(b, "[]")) != nil {
		return false
	}
	ra, errA := publicsuffix.EffectiveTLDPlusOne(a)
	rb, errB := publicsuffix.EffectiveTLDPlusOne(b)
	return errA == nil && errB == nil && ra == rb
}

// otherVersion reports whether a verified session-cache cookie is of another
// session.cookieCache.version than CookieCacheVersion (when set).
func (b *Browser) otherVersion(claims jwks.Claims) bool {
	return b.CookieCacheVersion != "" && claims.StringClaim(session.CookieCacheVersionClaim) != b.CookieCacheVersion
}
