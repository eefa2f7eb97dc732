// Package session resolves Better Auth session tokens — the session_token cookie — by asking
// Better Auth's get-session endpoint, coalescing concurrent lookups of one session and caching
// the answer for a short, bounded while. It knows nothing of Envoy, Kubernetes or policy.
package session

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/betterauthz/betterauthz/jwks"
)

// Why a lookup found no session to trust. Each error from Lookup wraps exactly one.
var (
	// ErrNoSession: Better Auth knows no live session for the token (signed out, expired,
	// revoked, or never one).
	ErrNoSession = errors.New("no session: signed out, expired or unknown")
	// ErrUnavailable: Better Auth could not be asked, or answered with an error. It says
	// nothing about the session: callers answer "try again" (503), never "sign in" (401).
	ErrUnavailable = errors.New("session lookup unavailable: Better Auth did not answer")
	// ErrTimeout: the caller's context ended before the answer came.
	ErrTimeout = errors.New("timed out waiting for the session lookup")
)

// Options configure a Lookup. Every field but URL has a default.
type Options struct {
	// URL of Better Auth's get-session endpoint, e.g. https://auth.example.com/api/auth/get-session.
	// Required.
	URL string
	// TTL is how long an answer — a session, or that there is none — is trusted; a sign-out
	// shows within it. Default 30s.
	TTL time.Duration
	// Timeout bounds one call to Better Auth. Default 2s.
	Timeout time.Duration
	// MaxEntries and MaxBytes bound the cache. Defaults 10000 and 16 MiB.
	MaxEntries, MaxBytes int
	// MaxResponseBytes caps get-session's answer. Default 64 KiB.
	MaxResponseBytes int64
	// Client calls Better Auth. Default: a client on http.DefaultTransport; redirects are
	// never followed.
	Client *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultTTL     = 30 * time.Second
	DefaultTimeout = 2 * time.Second
)

// Session is what a lookup found.
type Session struct {
	// Claims are the session's claims view (see Claims).
	Claims jwks.Claims
	// SetCookie are the session-cache cookies Better Auth set with its answer (get-session
	// refreshes them): handed to the browser, they keep its cookie cache warm.
	SetCookie []string
}

// Lookup resolves session tokens through get-session. It is safe for concurrent use.
type Lookup struct {
	o      Options
	cache  *cache
	flight singleflight.Group
}

// New returns a Lookup.
func New(o Options) (*Lookup, error) {
	if o.URL == "" {
		return nil, errors.New("session: get-session URL is empty")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 16 << 20
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 10
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: http.DefaultTransport}
	}
	c := *o.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Lookup{o: o, cache: newCache(o.MaxEntries, o.MaxBytes)}, nil
}

// Lookup resolves the session token sent in cookie cookieName. Concurrent lookups of one token
// share one call to Better Auth; answers are cached for TTL. The wait is bounded by ctx (see
// jwks.WaitContext); the call itself by Timeout, so that a caller giving up does not cancel
// it for the others.
func (l *Lookup) Lookup(ctx context.Context, cookieName, token string) (*Session, error) {
	key := sha256.Sum256([]byte(cookieName + "=" + token))
	now := l.o.Now()
	if s, err, ok := l.cache.get(key, now); ok {
		return s, err
	}
	ch := l.flight.DoChan(string(key[:]), func() (any, error) {
		s, err := l.ask(cookieName, token)
		if err == nil || errors.Is(err, ErrNoSession) {
			l.cache.put(key, s, err, l.o.Now().Add(l.o.TTL))
		}
		return s, err
	})
	wctx, cancel := jwks.WaitContext(ctx)
	defer cancel()
	select {
	case r := <-ch:
		s, _ := r.Val.(*Session)
		return s, r.Err
	case <-wctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrTimeout, wctx.Err())
	}
}

// ask calls get-session with only the session token cookie, and disableCookieCache so that
// Better Auth reads its database: a sign-out shows at once, not when some cookie expires.
func (l *Lookup) ask(cookieName, token string) (*Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.o.URL+"?disableCookieCache=true", nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Cookie", cookieName+"="+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "betterauthz")
	resp, err := l.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("%w: get-session answered HTTP %d", ErrUnavailable, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, l.o.MaxResponseBytes+1))
	if err != nil || int64(len(body)) > l.o.MaxResponseBytes {
		return nil, fmt.Errorf("%w: get-session's answer unreadable or too large", ErrUnavailable)
	}
	return parseAnswer(body, resp.Header.Values("Set-Cookie"))
}

// parseAnswer reads get-session's JSON: null for no session, else {session, user}.
func parseAnswer(body []byte, setCookie []string) (*Session, error) {
	if strings.TrimSpace(string(body)) == "null" {
		return nil, ErrNoSession
	}
	d := json.NewDecoder(strings.NewReader(string(body)))
	d.UseNumber()
	var payload map[string]any
	if err := d.Decode(&payload); err != nil || payload == nil {
		return nil, fmt.Errorf("%w: get-session's answer is not a session", ErrUnavailable)
	}
	claims, err := Claims(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &Session{Claims: claims, SetCookie: sessionCacheCookies(setCookie)}, nil
}

// sessionCacheCookies keeps, of Better Auth's Set-Cookie headers, those of the session-cache
// cookie (session_data and its chunks): the session token cookie is the browser's already.
func sessionCacheCookies(all []string) []string {
	var out []string
	for _, c := range all {
		name, _, _ := strings.Cut(c, "=")
		if strings.Contains(name, ".session_data") {
			out = append(out, c)
		}
	}
	return out
}
