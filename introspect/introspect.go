// Package introspect asks Better Auth's OAuth provider about opaque access tokens (RFC 7662,
// POST /oauth2/introspect), authenticated as a confidential client of its own. Concurrent
// questions about one token share one call, the calls in flight are capped, and answers are
// cached: an active token until its exp (or a shorter cap), an inactive one briefly. While
// Better Auth rate-limits introspection, an active answer past the cap is served a while longer
// ("stale while rate-limited"), so that a limit anyone can exhaust does not lock every user out.
// Every
// answer is read strictly and fails closed: what cannot be trusted is an outage (try again),
// never a valid token. It knows nothing of Envoy, Kubernetes or policy.
package introspect

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

// Why an introspection did not give a token to trust. Each error from Introspect wraps exactly
// one; their texts are safe to show a client.
var (
	// ErrInactive: Better Auth says the token is not active (unknown, revoked, expired, of a
	// session that ended, or one this client may not introspect), or it is not one Better Auth
	// could have issued.
	ErrInactive = errors.New("access token is not active")
	// ErrExpired: Better Auth says the token is active, but its exp has passed.
	ErrExpired = errors.New("access token expired")
	// ErrBound: the token is bound to a key (cnf, DPoP), which a Bearer request cannot prove.
	ErrBound = errors.New("DPoP-bound access token requires the DPoP authorization scheme")
	// ErrUnavailable: Better Auth could not be asked, refused betterauthz's client credential,
	// rate-limited it, or answered what cannot be trusted. It says nothing about the token:
	// callers answer "try again" (503), never "invalid token" (401).
	ErrUnavailable = errors.New("token introspection unavailable: Better Auth did not answer usably")
	// ErrTimeout: the caller's context ended before the answer came.
	ErrTimeout = errors.New("timed out waiting for token introspection")
)

// Options configure an Introspector. Every field but URL, ClientID, ClientSecretFile and
// Issuers has a default.
type Options struct {
	// URL of Better Auth's introspection endpoint, e.g.
	// https://auth.example.com/api/auth/oauth2/introspect. Required.
	URL string
	// Resource names what the introspector serves, for its log lines.
	Resource string
	// ClientID is betterauthz's own OAuth client at Better Auth. Required.
	ClientID string
	// ClientSecretFile holds the client's secret (a mounted Secret): read at New, and again
	// before a call when the file has changed. The secret is never logged. Required.
	ClientSecretFile string
	// PostSecret sends the credential in the form (client_secret_post) instead of HTTP Basic
	// (client_secret_basic): Better Auth takes only the method the client was registered with.
	PostSecret bool
	// Issuers are the iss an answer may carry: the issuer's access token issuers. Required.
	Issuers []string
	// MaxConcurrent caps the calls in flight; an introspection that finds no free slot waits
	// for one under its caller's context. Default 16.
	MaxConcurrent int
	// Timeout bounds one call. Default 2s.
	Timeout time.Duration
	// CacheTTL caps how long an active token is trusted without asking again (never past its
	// exp): a revoked token works that long. While Better Auth rate-limits introspection (a 429,
	// for as long as it asks), an active answer is still served up to 2 × CacheTTL after it came
	// (never past its exp): during such an outage a revoked token works that long. Default 5m.
	CacheTTL time.Duration
	// InactiveTTL is how long an answer that a token is not active is trusted. Default 5s.
	InactiveTTL time.Duration
	// MaxEntries and MaxBytes bound the cache of active tokens. Defaults 10000 and 16 MiB.
	// Inactive answers are cached apart, in an eighth of each, so that a flood of made-up
	// tokens cannot push live ones out.
	MaxEntries, MaxBytes int
	// MaxResponseBytes caps an answer. Default 64 KiB.
	MaxResponseBytes int64
	// Client calls Better Auth. Default: a client on http.DefaultTransport; redirects are
	// never followed (the credential goes to URL only).
	Client *http.Client
	// CAFile, when set, is a PEM file of the only CAs trusted for an https URL (a private CA),
	// in place of the system's: read at New — unusable, an error (ErrCAFile) — and again before
	// a call when the file has changed (a failed re-read keeps the last good CAs).
	CAFile string
	// Log receives what an operator must fix: a refused client credential, answers that cannot
	// be trusted, a CA file gone bad (at most one line a minute of each); and, at New, a
	// warning when URL is http:// to a host other than the loopback (the client secret crosses
	// the network in clear). Default: discarded.
	Log *slog.Logger
	// Observe is told the outcome of every call to Better Auth (Outcome* constants). Optional.
	Observe func(outcome string)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults of Options.
const (
	DefaultMaxConcurrent    = 16
	DefaultTimeout          = 2 * time.Second
	DefaultCacheTTL         = 5 * time.Minute
	DefaultInactiveTTL      = 5 * time.Second
	DefaultMaxEntries       = 10000
	DefaultMaxBytes         = 16 << 20
	DefaultMaxResponseBytes = 64 << 10
	// MaxTokenBytes bounds an opaque token: Better Auth's are 32 characters and a prefix. A
	// longer one is refused unasked.
	MaxTokenBytes = 1024
)

// The outcomes of a call to Better Auth, as Options.Observe and metrics name them.
const (
	OutcomeActive         = "active"          // an active token, trusted
	OutcomeInactive       = "inactive"        // active false, or a token refused (expired, DPoP-bound)
	OutcomeUnreachable    = "unreachable"     // no answer: connection, TLS, timeout
	OutcomeStatus         = "status"          // an HTTP status other than 200, 401, 403 and 429
	OutcomeRateLimited    = "rate_limited"    // 429
	OutcomeClientRejected = "client_rejected" // 401 or 403: betterauthz's client credential refused
	OutcomeInvalidAnswer  = "invalid_answer"  // not a strict RFC 7662 answer, or not this issuer's
)

// Outcomes lists every outcome, for metrics.
func Outcomes() []string {
	return []string{OutcomeActive, OutcomeInactive, OutcomeUnreachable, OutcomeStatus, OutcomeRateLimited,
		OutcomeClientRejected, OutcomeInvalidAnswer}
}

// Introspector answers whether opaque access tokens are active, and their claims. It is safe
// for concurrent use.
type Introspector struct {
	o        Options
	secret   *secretFile
	ca       *caClient     // nil: o.Client as it is
	cache    *cache        // active tokens
	inactive *cache        // tokens refused
	slots    chan struct{} // one per call in flight
	// keyPrefix separates this introspector's cache keys from any other's.
	keyPrefix string
	// backoffUntil (unix nanoseconds): Better Auth rate-limited the client; until then no call
	// is made.
	backoffUntil atomic.Int64
	logged       logLimiter

	mu    sync.Mutex
	calls map[[32]byte]*call
}

// call is one introspection of a token, shared by every caller asking about it meanwhile.
type call struct {
	done    chan struct{} // closed when claims and err are set
	claims  jwks.Claims
	err     error
	waiters int
	// asking: the call holds a slot and goes on for the cache's sake when its callers have
	// gone. Until then their going ends it: nobody waits for the answer any more.
	asking  bool
	abandon context.CancelFunc
}

// New returns an Introspector, having read the client secret once: a missing or empty file is
// an error.
func New(o Options) (*Introspector, error) {
	switch {
	case o.URL == "":
		return nil, errors.New("introspect: the introspection URL is empty")
	case o.ClientID == "":
		return nil, errors.New("introspect: the client id is empty")
	case len(o.Issuers) == 0:
		return nil, errors.New("introspect: no issuer to accept")
	}
	secret, err := newSecretFile(o.ClientSecretFile)
	if err != nil {
		return nil, err
	}
	o = withDefaults(o)
	var ca *caClient
	if o.CAFile != "" {
		if ca, err = newCAClient(o.CAFile, o.Client); err != nil {
			return nil, err
		}
	}
	if cleartext(o.URL) {
		o.Log.Warn("the introspection URL is http://: betterauthz's client secret and the tokens cross the network in clear; use https:// (with the issuer's jwksCAFile for a private CA)",
			"resource", o.Resource, "client_id", o.ClientID, "url", o.URL)
	}
	return &Introspector{
		o:         o,
		secret:    secret,
		ca:        ca,
		cache:     newCache(o.MaxEntries, o.MaxBytes),
		inactive:  newCache(max(o.MaxEntries/8, 1), max(o.MaxBytes/8, 1024)),
		slots:     make(chan struct{}, o.MaxConcurrent),
		keyPrefix: o.URL + "\x00" + o.ClientID + "\x00" + o.Resource + "\x00",
		calls:     map[[32]byte]*call{},
	}, nil
}

func withDefaults(o Options) Options {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.InactiveTTL <= 0 {
		o.InactiveTTL = DefaultInactiveTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.Client == nil {
		o.Client = &http.Client{Transport: http.DefaultTransport}
	}
	c := *o.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.Client = &c
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Observe == nil {
		o.Observe = func(string) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Introspect answers whether token is active, with its claims when it is. Concurrent
// introspections of one token share one call, at most MaxConcurrent calls are in flight, and
// answers are cached (see Options). The wait — for a slot, then for the answer — is bounded by
// ctx (see jwks.WaitContext) and ends in ErrTimeout; the call itself is bounded by Timeout, so
// that a caller giving up does not cancel it for the others.
func (in *Introspector) Introspect(ctx context.Context, token string) (jwks.Claims, error) {
	if !wellFormed(token) {
		return jwks.Claims{}, fmt.Errorf("%w: not an opaque access token", ErrInactive)
	}
	key := sha256.Sum256([]byte(in.keyPrefix + token))
	now := in.o.Now()
	wait := in.backoff(now)
	if c, err, ok := in.cache.get(key, now, wait > 0); ok {
		return c, err
	}
	if _, err, ok := in.inactive.get(key, now, false); ok {
		return jwks.Claims{}, err
	}
	if wait > 0 {
		return jwks.Claims{}, limited(wait)
	}
	c := in.join(key, token)
	wctx, cancel := jwks.WaitContext(ctx)
	defer cancel()
	select {
	case <-c.done:
		return c.claims, c.err
	case <-wctx.Done():
		in.leave(key, c)
		return jwks.Claims{}, fmt.Errorf("%w: %w", ErrTimeout, wctx.Err())
	}
}

// wellFormed: a token Better Auth could have issued as an opaque access token — a prefix and
// random characters, no dots — within MaxTokenBytes. Anything else is not worth a call.
func wellFormed(token string) bool {
	if token == "" || len(token) > MaxTokenBytes {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// join adds the caller to the introspection of key running now, or starts one.
func (in *Introspector) join(key [32]byte, token string) *call {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.calls[key]
	if c == nil {
		ctx, abandon := context.WithCancel(context.Background())
		c = &call{done: make(chan struct{}), abandon: abandon}
		in.calls[key] = c
		go in.run(ctx, key, c, token)
	}
	c.waiters++
	return c
}

// leave takes a caller that gave up off c. The last one to go ends a call still waiting for a
// slot, and the next caller of that token starts afresh.
func (in *Introspector) leave(key [32]byte, c *call) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c.waiters--
	if c.waiters == 0 && !c.asking {
		c.abandon()
		if in.calls[key] == c {
			delete(in.calls, key)
		}
	}
}

var errGaveUp = fmt.Errorf("%w: every caller gave up before an introspection slot was free", ErrTimeout)

// run waits for a slot, asks Better Auth and caches the answer. A call abandoned before it got
// a slot asks nothing.
func (in *Introspector) run(ctx context.Context, key [32]byte, c *call, token string) {
	defer c.abandon()
	select {
	case in.slots <- struct{}{}:
	case <-ctx.Done():
		c.err = errGaveUp
		close(c.done)
		return
	}
	in.mu.Lock()
	if ctx.Err() != nil { // abandoned while the slot was being taken
		in.mu.Unlock()
		<-in.slots
		c.err = errGaveUp
		close(c.done)
		return
	}
	c.asking = true
	in.mu.Unlock()

	var claims jwks.Claims
	var exp time.Time
	var err error
	if wait := in.backoff(in.o.Now()); wait > 0 {
		// Queued for a slot while Better Auth rate-limited another call: asking now would only
		// prolong the limit.
		err = limited(wait)
	} else {
		claims, exp, err = in.ask(token)
	}
	<-in.slots
	now := in.o.Now()
	var rl *rateLimited
	switch {
	case err == nil:
		until, stale := now.Add(in.o.CacheTTL), now.Add(2*in.o.CacheTTL)
		if exp.Before(until) {
			until = exp
		}
		if exp.Before(stale) {
			stale = exp
		}
		if until.After(now) {
			in.cache.put(key, claims, nil, until, stale)
		}
	case errors.Is(err, ErrInactive), errors.Is(err, ErrExpired), errors.Is(err, ErrBound):
		in.cache.drop(key) // no stale answer may outlive this one
		in.inactive.put(key, jwks.Claims{}, err, now.Add(in.o.InactiveTTL), time.Time{})
	case errors.As(err, &rl):
		// Stale while rate-limited: an active answer past CacheTTL, within its grace.
		if stale, _, ok := in.cache.get(key, now, true); ok {
			claims, err = stale, nil
		}
	}
	in.mu.Lock()
	if in.calls[key] == c {
		delete(in.calls, key)
	}
	in.mu.Unlock()
	c.claims, c.err = claims, err
	close(c.done)
}

// Reload reads the client secret file again now, as a config being applied does: an error says
// it is missing, empty or unreadable (the last good secret stays in use meanwhile).
func (in *Introspector) Reload() error { return in.secret.reload() }

// Describe is the client-safe description of an error from Introspect: its sentinel's text.
func Describe(err error) string {
	for _, s := range []error{ErrInactive, ErrExpired, ErrBound, ErrUnavailable, ErrTimeout} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return ErrUnavailable.Error()
}
