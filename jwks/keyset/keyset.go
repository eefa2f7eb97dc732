// Package keyset keeps Better Auth's JSON Web Key Set — its life: the first load, retried with
// backoff; background refreshes; one coalesced, rate-limited refresh when a token names a kid
// the set lacks (Better Auth rotates lazily, so a new key appears with the first token it
// signs); the last good keys kept through an outage, until they are too old to trust.
//
// Fetches (fetch.go) are bounded in time and size, never follow redirects, and only a whole,
// unambiguous key set replaces the last good one; each fetch resolves its keys for signature
// checks once (key.go).
package keyset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// Why a key could not be had. Each error of Key wraps exactly one of them.
var (
	// ErrNotReady: no key set has ever been loaded, so nothing can be verified yet.
	ErrNotReady = errors.New("signing keys not loaded yet")
	// ErrUnknownKey: the token names a kid that the key set does not hold, even after a refresh.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrTimeout: the caller's context ended while waiting for a key refresh.
	ErrTimeout = errors.New("timed out waiting for signing keys")
	// ErrKeysUnavailable: the token names a kid the key set lacks, and refreshing it failed.
	ErrKeysUnavailable = errors.New("signing keys unavailable: the JWKS could not be refreshed")
	// ErrKeysStale: the key set has not been refreshed successfully for longer than MaxKeyAge,
	// so its keys are no longer trusted (a key Better Auth revoked meanwhile would still verify).
	ErrKeysStale = errors.New("signing keys stale: the JWKS has not been refreshed for too long")
	// ErrKeyAlgorithm: the key's JWK names another alg than the token's.
	ErrKeyAlgorithm = errors.New("the key's alg is not the token's")
)

// Options configure a KeySet. Every field but URL has a default fit for Better Auth, which
// rotates keys lazily (a new kid appears with the first token it signs) and sends no
// Cache-Control on its JWKS.
type Options struct {
	// URL of the JWKS, e.g. https://auth.example.com/api/auth/jwks. Required.
	URL string
	// Name labels the set in logs and in what the Observer is told (the issuer's name).
	Name string
	// Client fetches the JWKS. Default: a client on http.DefaultTransport (so HTTPS_PROXY and the
	// system CA bundle apply); each fetch is bounded by FetchTimeout, not by the client.
	Client *http.Client
	// RefreshInterval between background refreshes once keys are loaded. Default 5m.
	RefreshInterval time.Duration
	// FetchTimeout bounds one fetch. Default 5s.
	FetchTimeout time.Duration
	// MinFetchGap is the least time between the starts of two fetches, whatever asked for them:
	// a flood of tokens with unknown kids costs Better Auth at most one request per gap.
	// Default 1s.
	MinFetchGap time.Duration
	// NegativeTTL is how long a kid that a fresh fetch did not contain is answered "unknown"
	// without asking Better Auth again. Default 5s.
	NegativeTTL time.Duration
	// NegativeMaxEntries bounds that negative cache; when full it is emptied. Default 10000.
	NegativeMaxEntries int
	// InitialBackoff is the first retry delay after a failed fetch; it doubles up to MaxBackoff
	// (and never beyond RefreshInterval once keys are loaded). Defaults 500ms and 10s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxResponseBytes caps the JWKS body. Default 1 MiB.
	MaxResponseBytes int64
	// MaxKeyAge is how long keys stay trusted without a successful refresh: past it, tokens
	// are refused with ErrKeysStale (a key Better Auth revoked during an outage would otherwise
	// verify forever). Default 0: no limit.
	MaxKeyAge time.Duration
	// CAFile, when set, is a PEM file of the only CAs trusted for an https JWKS URL; it is
	// re-read before each fetch. Default: the system's CAs.
	CAFile string
	// Logger receives refresh failures and key set changes. Default: discard.
	Logger *slog.Logger
	// Observer is told of every fetch. Default: none.
	Observer Observer
}

// Observer is told the outcome of every JWKS fetch (for metrics).
type Observer interface {
	JWKSFetched(Fetch)
}

// Fetch describes one JWKS fetch.
type Fetch struct {
	// Name is the key set's Options.Name.
	Name string
	// Trigger says why it ran: "initial", "interval", "retry" or "unknown_kid".
	Trigger string
	// Err is nil on success; FetchFailure(Err) names its kind.
	Err error
	// Stale reports whether the keys held are past MaxKeyAge after this fetch.
	Stale bool
	// Keys is the number of usable keys the set held after the fetch (unchanged on failure).
	Keys int
	// Skipped counts keys in the response that could not be used.
	Skipped  int
	Duration time.Duration
	// At is when the fetch ended.
	At time.Time
}

const (
	// DefaultRefreshInterval is how often keys are refreshed once loaded (config:
	// jwksRefreshInterval).
	DefaultRefreshInterval    = 5 * time.Minute
	defaultFetchTimeout       = 5 * time.Second
	defaultMinFetchGap        = time.Second
	defaultNegativeTTL        = 5 * time.Second
	defaultNegativeMaxEntries = 10000
	defaultInitialBackoff     = 500 * time.Millisecond
	defaultMaxBackoff         = 10 * time.Second
	defaultMaxResponseBytes   = 1 << 20
)

func (o *Options) setDefaults() {
	if o.Client == nil {
		o.Client = &http.Client{Transport: http.DefaultTransport}
	}
	setDefault(&o.RefreshInterval, DefaultRefreshInterval)
	setDefault(&o.FetchTimeout, defaultFetchTimeout)
	setDefault(&o.MinFetchGap, defaultMinFetchGap)
	setDefault(&o.NegativeTTL, defaultNegativeTTL)
	setDefault(&o.NegativeMaxEntries, defaultNegativeMaxEntries)
	setDefault(&o.InitialBackoff, defaultInitialBackoff)
	setDefault(&o.MaxBackoff, defaultMaxBackoff)
	setDefault(&o.MaxResponseBytes, defaultMaxResponseBytes)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// KeySet is Better Auth's key set, kept fresh in the background. Its KeyRead, on an unknown kid,
// waits for one coalesced, rate-limited refresh under the caller's context instead of failing or
// queueing a fetch per caller.
//
// jwkset's own HTTP storage is not used: its unknown-kid refresh runs one fetch per waiting
// caller behind a token-bucket limiter, so a flood of bogus kids queues callers for minutes and
// starves a genuinely new key; and before the first success it only retries at RefreshInterval.
type KeySet struct {
	// keys holds the last good keys; they are replaced whole on each successful fetch, by
	// nothing else (current holds the same keys, resolved for signature checks).
	keys *jwkset.MemoryJWKSet

	opts    Options
	fetcher *fetcher
	ctx     context.Context // ends fetches when the KeySet stops
	cancel  context.CancelFunc

	loaded      atomic.Bool
	attempted   atomic.Bool // a first fetch has ended, well or not
	keyCount    atomic.Int64
	current     atomic.Pointer[map[string]verificationKey] // the keys of the current set, by kid
	published   atomic.Pointer[Published]                  // the current set as the relay serves it
	lastSuccess atomic.Int64                               // unix nanoseconds
	staleNoted  atomic.Bool                                // staleness has been logged

	mu        sync.Mutex
	inflight  *fetchCall // running now
	pending   *fetchCall // will start when inflight ends and MinFetchGap has passed
	finished  uint64     // fetches ended so far (under mu): a miss read before one ended is re-read
	lastStart time.Time
	negative  map[string]time.Time // kid -> answered "unknown" until
	kids      []string             // sorted kids of the current set, to log changes

	// etag is the upstream's ETag of the keys in force ("" when it sent none), sent back as
	// If-None-Match. Only the running fetch touches it, and fetches run one at a time.
	etag string
}

// New returns a KeySet that has loaded nothing yet; Run loads and refreshes it.
func New(opts Options) (*KeySet, error) {
	if opts.URL == "" {
		return nil, errors.New("jwks: key set URL is empty")
	}
	opts.setDefaults()
	f := newFetcher(opts.URL, opts.CAFile, opts.Client, opts.MaxResponseBytes)
	if _, err := f.httpClient(); err != nil {
		return nil, fmt.Errorf("jwks: %w", err) // a CA file that is unusable now is a config error
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &KeySet{
		keys:     jwkset.NewMemoryStorage(),
		opts:     opts,
		fetcher:  f,
		ctx:      ctx,
		cancel:   cancel,
		negative: make(map[string]time.Time),
	}, nil
}

// NewStatic returns a KeySet that holds keys (from ParseSet or FetchSet) and never
// fetches: it needs no Run, and a kid it lacks is unknown at once — what a KeySet concludes
// after a refresh that did not bring the kid. For verifying with a key set read once, as
// "betterauthz verify" does with a JWKS file.
func NewStatic(name string, keys []jwkset.JWK) (*KeySet, error) {
	opts := Options{Name: name}
	opts.setDefaults()
	k := &KeySet{keys: jwkset.NewMemoryStorage(), opts: opts, ctx: context.Background(), cancel: func() {}, negative: make(map[string]time.Time)}
	if err := k.keys.KeyReplaceAll(k.ctx, keys); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	now := time.Now()
	k.publish(keys, now)
	k.install(keys, now)
	k.attempted.Store(true)
	return k, nil
}

// Attempted reports whether a first fetch has ended, whatever its outcome.
func (k *KeySet) Attempted() bool { return k.attempted.Load() }

// Name is the set's Options.Name.
func (k *KeySet) Name() string { return k.opts.Name }

// URL is the JWKS address this set fetches ("" for a static set).
func (k *KeySet) URL() string { return k.opts.URL }

// Loaded reports whether a fetch has ever succeeded.
func (k *KeySet) Loaded() bool { return k.loaded.Load() }

// HasKid reports whether the current key set holds kid (cheap: for cache hits).
func (k *KeySet) HasKid(kid string) bool {
	_, ok := k.lookup(kid)
	return ok
}

// lookup finds kid in the set the last successful fetch installed.
func (k *KeySet) lookup(kid string) (verificationKey, bool) {
	set := k.current.Load()
	if set == nil {
		return verificationKey{}, false
	}
	vk, ok := (*set)[kid]
	return vk, ok
}

// Keys is the number of usable keys held.
func (k *KeySet) Keys() int { return int(k.keyCount.Load()) }

// Stale reports whether the keys are past MaxKeyAge: loaded, but not refreshed successfully
// for longer than that.
func (k *KeySet) Stale() bool {
	last := k.lastSuccess.Load()
	return k.opts.MaxKeyAge > 0 && last != 0 && time.Since(time.Unix(0, last)) > k.opts.MaxKeyAge
}

// Usable reports whether a token signed by kid may be trusted now without asking the key set
// again: the kid is in the current set and the set is not stale (cheap: for cache hits).
func (k *KeySet) Usable(kid string) bool { return k.HasKid(kid) && !k.Stale() }

// LastSuccess is when a fetch last succeeded (zero if never).
func (k *KeySet) LastSuccess() time.Time {
	n := k.lastSuccess.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// KeyRead returns the key with this kid. An unknown kid waits (under ctx, ending early enough
// for the caller to answer before ctx's deadline: see WaitContext) for a fetch that starts after
// the call, shared with every other caller waiting at the time; a kid still unknown after it
// is remembered for NegativeTTL so repeats answer at once.
func (k *KeySet) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	return k.keyRead(ctx, kid, true)
}

// KeyReadFresh is KeyRead for the relay: a kid the set lacks always waits for a fetch that
// starts after the call, even one found absent a moment ago. A sidecar's refresh names one kid
// of those it waits for; answered from the negative cache, the others — a genuine new key among
// them — would be taken as absent. Fetches stay coalesced and rate-limited: a flood of such
// requests costs at most one fetch per MinFetchGap, as a flood of random kids does anyway.
func (k *KeySet) KeyReadFresh(ctx context.Context, kid string) (jwkset.JWK, error) {
	return k.keyRead(ctx, kid, false)
}

func (k *KeySet) keyRead(ctx context.Context, kid string, negativeCache bool) (jwkset.JWK, error) {
	if k.Stale() {
		return jwkset.JWK{}, ErrKeysStale
	}
	seen := k.fetchesFinished()
	jwk, err := k.keys.KeyRead(ctx, kid)
	if err == nil {
		return jwk, nil
	}
	if !k.Loaded() {
		// Answer now: Envoy's deadline is short, and Run retries with backoff. Fetching here
		// too would turn every request into a hit on a Better Auth that is down.
		return jwkset.JWK{}, ErrNotReady
	}
	if k.fetcher == nil || negativeCache && k.isNegative(kid) {
		return jwkset.JWK{}, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	// Join a fetch already running, if any: it was most likely started by the first token with
	// this same new kid. If it started before this call and lacks the kid, wait for the next.
	arrived := time.Now()
	ctx, cancel := WaitContext(ctx)
	defer cancel()
	c := k.join("unknown_kid", kid, seen)
	for c == nil {
		// A fetch ended between the read above and join: it may have brought the kid.
		seen = k.fetchesFinished()
		if jwk, err = k.keys.KeyRead(ctx, kid); err == nil {
			return jwk, nil
		}
		c = k.join("unknown_kid", kid, seen)
	}
	for {
		select {
		case <-c.done:
		case <-ctx.Done():
			return jwkset.JWK{}, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		}
		if jwk, err = k.keys.KeyRead(ctx, kid); err == nil {
			return jwk, nil
		}
		if c.err != nil || !c.started.Before(arrived) {
			break
		}
		c = k.schedule("unknown_kid", kid)
	}
	if c.err != nil {
		// Better Auth could not be asked: the kid may well be a new, genuine one. Say "try
		// again" (503) rather than "bad token" (401), which makes clients sign users out.
		return jwkset.JWK{}, fmt.Errorf("%w: %w", ErrKeysUnavailable, c.err)
	}
	// Only a successful fetch proves the kid absent.
	k.setNegative(kid)
	return jwkset.JWK{}, fmt.Errorf("%w %q", ErrUnknownKey, kid)
}

func (k *KeySet) isNegative(kid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	until, ok := k.negative[kid]
	if !ok {
		return false
	}
	if time.Now().After(until) {
		delete(k.negative, kid)
		return false
	}
	return true
}

func (k *KeySet) setNegative(kid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.negative) >= k.opts.NegativeMaxEntries {
		clear(k.negative)
	}
	k.negative[kid] = time.Now().Add(k.opts.NegativeTTL)
}
