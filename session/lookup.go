// Package session resolves Better Auth session tokens — the session_token cookie — by asking
// Better Auth's get-session endpoint, coalescing concurrent lookups of one session, capping the
// calls in flight and caching the answer for a short, bounded while. It knows nothing of Envoy,
// Kubernetes or policy.
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
	"sync"
	"time"

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
	// ErrRateLimited: Better Auth refused an API key for its rate limit or quota (429).
	ErrRateLimited = errors.New("API key rate-limited or over its quota")
)

// Options configure a Lookup. Every field but URL has a default.
type Options struct {
	// URL of Better Auth's get-session endpoint, e.g. https://auth.example.com/api/auth/get-session.
	// Required.
	URL string
	// TTL is how long a session is trusted; a sign-out shows within it. Default 30s.
	TTL time.Duration
	// RefusedTTL is how long an answer that there is no session is trusted: short, so that a
	// session Better Auth does not see yet (a read replica behind) is not refused for long.
	// Default the shorter of TTL and 5s.
	RefusedTTL time.Duration
	// MaxConcurrent caps the get-session calls in flight; a lookup that finds no free slot waits
	// for one under its caller's context. Default 64.
	MaxConcurrent int
	// Timeout bounds one call to Better Auth. Default 2s.
	Timeout time.Duration
	// MaxEntries and MaxBytes bound the cache of sessions. Defaults 10000 and 16 MiB. Answers
	// that there is no session are cached apart, in an eighth of each, so that a flood of
	// made-up tokens cannot push live sessions out.
	MaxEntries, MaxBytes int
	// APIKeyTTL is how long an API key's answer is trusted: a revoked key works that long,
	// and every call spends one of the key's requests. Default 60s.
	APIKeyTTL time.Duration
	// MemberRoleURL is Better Auth's get-active-member-role endpoint. Default: URL with
	// /get-session replaced by /organization/get-active-member-role.
	MemberRoleURL string
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
	DefaultTTL           = 30 * time.Second
	DefaultRefusedTTL    = 5 * time.Second
	DefaultTimeout       = 2 * time.Second
	DefaultMaxConcurrent = 64
	DefaultAPIKeyTTL     = 60 * time.Second
)

// Session is what a lookup found.
type Session struct {
	// Claims are the session's claims view (see Claims).
	Claims jwks.Claims
	// SetCookie are the session-cache cookies Better Auth set with its answer (get-session
	// refreshes them): handed to the browser, they keep its cookie cache warm.
	SetCookie []string
	// Role is the member's role (MemberRole only), comma-joined; "" for none.
	Role string
}

// Lookup resolves session tokens through get-session. It is safe for concurrent use.
type Lookup struct {
	o       Options
	cache   *cache        // sessions
	refused *cache        // answers that there is no session
	slots   chan struct{} // one per get-session call in flight

	mu    sync.Mutex
	calls map[[32]byte]*call // the lookup running for each token, waiting for a slot or asking
}

// call is one lookup of a token, shared by every caller asking for that token meanwhile.
type call struct {
	done    chan struct{} // closed when s and err are set
	s       *Session
	err     error
	waiters int
	// asking: the call holds a slot, and goes on for the answer's sake (it is cached) when
	// its callers have gone. Until then, their going ends it: a token nobody waits for any more
	// is not worth a call to Better Auth.
	asking  bool
	abandon context.CancelFunc
}

// New returns a Lookup.
func New(o Options) (*Lookup, error) {
	if o.URL == "" {
		return nil, errors.New("session: get-session URL is empty")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.APIKeyTTL <= 0 {
		o.APIKeyTTL = DefaultAPIKeyTTL
	}
	if o.MemberRoleURL == "" {
		o.MemberRoleURL = strings.TrimSuffix(o.URL, "/get-session") + "/organization/get-active-member-role"
	}
	if o.RefusedTTL <= 0 {
		o.RefusedTTL = min(o.TTL, DefaultRefusedTTL)
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
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
	return &Lookup{
		o:       o,
		cache:   newCache(o.MaxEntries, o.MaxBytes),
		refused: newCache(max(o.MaxEntries/8, 1), max(o.MaxBytes/8, 1024)),
		slots:   make(chan struct{}, o.MaxConcurrent),
		calls:   map[[32]byte]*call{},
	}, nil
}

// Lookup resolves the session token sent in cookie cookieName. Concurrent lookups of one token
// share one call to Better Auth, and at most MaxConcurrent calls are in flight; a session is
// cached for TTL, its absence for RefusedTTL. The wait — for a slot, then for the answer — is
// bounded by ctx (see jwks.WaitContext) and ends in ErrTimeout; the call itself is bounded by
// Timeout, so that a caller giving up does not cancel it for the others.
func (l *Lookup) Lookup(ctx context.Context, cookieName, token string) (*Session, error) {
	key := sha256.Sum256([]byte(cookieName + "=" + token))
	return l.resolve(ctx, key, l.o.TTL, func() (*Session, error) { return l.ask(cookieName, token) })
}

// resolve answers key from the caches, else joins or starts the call that asks (ask), whose
// answer is cached for ttl.
func (l *Lookup) resolve(ctx context.Context, key [32]byte, ttl time.Duration, ask func() (*Session, error)) (*Session, error) {
	now := l.o.Now()
	if s, err, ok := l.cache.get(key, now); ok {
		return s, err
	}
	if _, err, ok := l.refused.get(key, now); ok {
		return nil, err
	}
	c := l.join(key, ttl, ask)
	wctx, cancel := jwks.WaitContext(ctx)
	defer cancel()
	select {
	case <-c.done:
		return c.s, c.err
	case <-wctx.Done():
		l.leave(key, c)
		return nil, fmt.Errorf("%w: %w", ErrTimeout, wctx.Err())
	}
}

// join adds the caller to the lookup of key running now, or starts one.
func (l *Lookup) join(key [32]byte, ttl time.Duration, ask func() (*Session, error)) *call {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls[key]
	if c == nil {
		ctx, abandon := context.WithCancel(context.Background())
		c = &call{done: make(chan struct{}), abandon: abandon}
		l.calls[key] = c
		go l.run(ctx, key, c, ttl, ask)
	}
	c.waiters++
	return c
}

// leave takes a caller that gave up off c. The last one to go ends a call still waiting for a
// slot, and the next caller of that token starts afresh.
func (l *Lookup) leave(key [32]byte, c *call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.waiters--
	if c.waiters == 0 && !c.asking {
		c.abandon()
		if l.calls[key] == c {
			delete(l.calls, key)
		}
	}
}

// run waits for a slot, asks Better Auth and caches the answer. A call abandoned before it
// got a slot asks nothing.
func (l *Lookup) run(ctx context.Context, key [32]byte, c *call, ttl time.Duration, ask func() (*Session, error)) {
	defer c.abandon()
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		c.err = fmt.Errorf("%w: every caller gave up before a get-session slot was free", ErrTimeout)
		close(c.done)
		return
	}
	l.mu.Lock()
	if ctx.Err() != nil { // abandoned while the slot was being taken
		l.mu.Unlock()
		<-l.slots
		c.err = fmt.Errorf("%w: every caller gave up before a get-session slot was free", ErrTimeout)
		close(c.done)
		return
	}
	c.asking = true
	l.mu.Unlock()

	s, err := ask()
	<-l.slots
	switch {
	case err == nil:
		l.cache.put(key, s, nil, l.o.Now().Add(ttl))
	case errors.Is(err, ErrNoSession), errors.Is(err, ErrRateLimited):
		l.refused.put(key, nil, err, l.o.Now().Add(l.o.RefusedTTL))
	}
	l.mu.Lock()
	if l.calls[key] == c {
		delete(l.calls, key)
	}
	l.mu.Unlock()
	c.s, c.err = s, err
	close(c.done)
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
