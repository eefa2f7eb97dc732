package jwks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/jwks/claims"
	"github.com/betterauthz/betterauthz/jwks/jws"
)

// DefaultMaxTokenBytes is the largest token verified; anything longer is refused unread.
const DefaultMaxTokenBytes = 16 << 10

// Trust is one issuer whose tokens a Verifier accepts: a token is verified with the keys of the
// issuer its iss names, and with no other.
type Trust struct {
	// Name labels the issuer (the config's issuers[].name).
	Name string
	// Keys supplies its verification keys by kid. Required.
	Keys *KeySet
	// Issuer the iss claim must equal. Required.
	Issuer string
	// IssuerAliases are other spellings of the issuer that iss may equal instead.
	IssuerAliases []string
	// Audiences: the aud claim must contain at least one. Required (Better Auth always sets aud).
	Audiences []string
	// Algorithms allowed in the token header. Default: Algorithms(). Never HS* or none.
	Algorithms []string
}

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	// Trusts are the issuers whose tokens are accepted. When empty, one is made of Keys,
	// Issuer, IssuerAliases, Audiences and Algorithms.
	Trusts []Trust
	// Keys supplies verification keys by kid (one issuer; see Trusts).
	Keys *KeySet
	// Issuer the iss claim must equal (one issuer; see Trusts).
	Issuer string
	// IssuerAliases are other spellings of the issuer that iss may equal instead.
	IssuerAliases []string
	// SessionCookie makes this a verifier of Better Auth's session-cache cookie JWT: its typ
	// must be SessionCacheType (an access token in the cookie is refused), and Audiences should
	// be [SessionCacheAudience].
	SessionCookie bool
	// AccessToken makes this a verifier of OAuth access tokens (RFC 9068): their typ must be
	// at+jwt, and a trust's Audiences may be empty — the caller then binds aud to the route's
	// resource (aud must still be present). A verifier without it refuses at+jwt tokens: an
	// access token is no user JWT, nor the reverse (RFC 9068 §4).
	AccessToken bool
	// Transform, when set, turns verified claims into the view callers read (it runs once per
	// token: the cache holds its result). An error refuses the token as malformed.
	Transform func(Claims) (Claims, error)
	// Audiences: the aud claim must contain at least one (one issuer; see Trusts).
	Audiences []string
	// Algorithms allowed in the token header (one issuer; see Trusts).
	Algorithms []string
	// ClockSkew tolerated on exp, nbf and iat. Default 0.
	ClockSkew time.Duration
	// MaxTokenBytes refuses longer tokens before parsing. Default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// CacheEntries bounds the verified-token cache; 0 turns it off (config: cache.maxEntries,
	// default DefaultCacheEntries). CacheBytes bounds its estimated memory; default
	// DefaultCacheBytes.
	CacheEntries int
	CacheBytes   int
}

// Cache bounds the config applies when it does not set them.
const (
	DefaultCacheEntries = 10000
	DefaultCacheBytes   = 32 << 20
)

// Verifier checks Better Auth JWTs. It is safe for concurrent use.
type Verifier struct {
	trusts     []*trust
	byIssuer   map[string]*trust // by iss and each alias
	algorithms []string          // allowed by any trust
	cookie     bool              // a session-cache cookie verifier
	access     bool              // an access token verifier
	transform  func(Claims) (Claims, error)
	maxBytes   int
	cache      *claims.Cache // nil: off
	now        func() time.Time
	skew       time.Duration // ClockSkew (each trust has it too, as its leeway)
}

// trust is a compiled Trust.
type trust struct {
	name       string
	keys       *KeySet
	audiences  []string
	leeway     time.Duration
	algorithms []string
}

// NewVerifier builds a Verifier.
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	trusts := o.Trusts
	if len(trusts) == 0 {
		trusts = []Trust{{Keys: o.Keys, Issuer: o.Issuer, IssuerAliases: o.IssuerAliases, Audiences: o.Audiences, Algorithms: o.Algorithms}}
	}
	if o.MaxTokenBytes <= 0 {
		o.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheBytes <= 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	v := &Verifier{
		byIssuer:  map[string]*trust{},
		maxBytes:  o.MaxTokenBytes,
		cookie:    o.SessionCookie,
		access:    o.AccessToken,
		transform: o.Transform,
		cache:     claims.NewCache(o.CacheEntries, o.CacheBytes),
		now:       o.Now,
		skew:      o.ClockSkew,
	}
	for _, t := range trusts {
		ct, err := compileTrust(t, o)
		if err != nil {
			return nil, err
		}
		for _, iss := range append([]string{t.Issuer}, t.IssuerAliases...) {
			if prev, dup := v.byIssuer[iss]; dup && prev != ct {
				return nil, fmt.Errorf("jwks: issuers %q and %q both trust iss %q", prev.name, ct.name, iss)
			}
			v.byIssuer[iss] = ct
		}
		v.trusts = append(v.trusts, ct)
		for _, a := range ct.algorithms {
			if !slices.Contains(v.algorithms, a) {
				v.algorithms = append(v.algorithms, a)
			}
		}
	}
	return v, nil
}

func compileTrust(t Trust, o VerifierOptions) (*trust, error) {
	if t.Keys == nil {
		return nil, errors.New("jwks: verifier needs a key set")
	}
	if t.Issuer == "" {
		return nil, errors.New("jwks: verifier needs an issuer")
	}
	if len(t.Audiences) == 0 && !o.AccessToken {
		return nil, errors.New("jwks: verifier needs at least one audience")
	}
	algs := t.Algorithms
	if len(algs) == 0 {
		algs = jws.Algorithms()
	}
	// iss is checked before, when the trust is chosen by it.
	ct := &trust{name: t.Name, keys: t.Keys, audiences: slices.Clone(t.Audiences), leeway: o.ClockSkew}
	for _, a := range algs {
		a = jws.CanonicalAlgorithm(a)
		if !jws.Supported(a) {
			return nil, fmt.Errorf("jwks: algorithm %q is not one Better Auth signs with (%s)", a, strings.Join(jws.Algorithms(), ", "))
		}
		if !slices.Contains(ct.algorithms, a) {
			ct.algorithms = append(ct.algorithms, a)
		}
	}
	return ct, nil
}

// Verify checks a compact JWT and returns its claims. The error wraps exactly one of
// ErrNotReady, ErrTimeout, ErrUnknownKey, ErrExpired or ErrInvalidToken (with a cause below
// it); it never contains the token. ErrKeysUnavailable is also possible: an unknown kid while
// the JWKS cannot be refreshed. Waiting for a key refresh is bounded by ctx. The claims are
// those the verified-token cache keeps, shared with other calls: a cache hit allocates nothing.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if err := v.precheck(token); err != nil {
		return Claims{}, err
	}
	if v.cache == nil {
		c, _, _, _, err := v.verify(ctx, token)
		return c, err
	}
	key := claims.KeyOf(token)
	now := v.now().UnixNano()
	if e, ok := v.cache.Get(key, now); ok {
		switch {
		case e.Err != nil:
			return Claims{}, e.Err
		case e.Keys.Usable(e.Kid):
			return e.Claims, nil
		default:
			v.cache.Drop(key, e) // its key has left the set, or the set is stale: verify again (and fail)
		}
	}
	c, t, kid, exp, err := v.verify(ctx, token)
	switch {
	case err == nil:
		v.cache.Put(key, &claims.Entry{Claims: c, Keys: t.keys, Kid: kid, Expires: exp, Size: c.Size() + len(kid)}, now)
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrExpired):
		// Refusals that a retry cannot change (unlike an unknown kid or keys not yet loaded).
		v.cache.Put(key, &claims.Entry{Err: err, Expires: now + int64(claims.NegativeTTL), Size: 64}, now)
	}
	return c, err
}

// precheck refuses, unread, a token too long or without exactly two dots.
func (v *Verifier) precheck(token string) error {
	if len(token) > v.maxBytes {
		return invalid(ErrTooLarge)
	}
	switch strings.Count(token, ".") {
	case 2:
		return nil
	case 0:
		return invalid(ErrOpaque)
	default:
		return invalid(ErrMalformed)
	}
}

// verify checks a token's form, signature and claims, and returns its claims view, the trust
// (issuer) it was verified for, its kid and its exp (unix nanoseconds). The token is read
// strictly (package jws) and the steps run cheapest first, so a forged token costs no more than
// one signature check. The issuer its iss names is chosen before any key is looked at: a token
// is never tried against another issuer's keys.
func (v *Verifier) verify(ctx context.Context, token string) (_ Claims, _ *trust, kid string, exp int64, _ error) {
	fail := func(err error) (Claims, *trust, string, int64, error) { return Claims{}, nil, "", 0, err }
	t, err := jws.Parse(token)
	if err != nil {
		return fail(invalid(err))
	}
	h := t.Header
	alg := jws.CanonicalAlgorithm(h.Alg)
	if err := v.checkHeader(h, alg); err != nil {
		return fail(err)
	}
	c, err := claims.Parse(t.Payload)
	if err != nil {
		return fail(invalid(ErrMalformed))
	}
	tr, ok := v.byIssuer[c.StringClaim("iss")]
	switch {
	case !ok:
		return fail(invalid(ErrIssuer))
	case !slices.Contains(tr.algorithms, alg):
		return fail(invalid(ErrAlgorithm))
	}
	key, err := tr.keys.Key(ctx, h.Kid, alg)
	if err != nil {
		return fail(keyError(err))
	}
	if err := t.Verify(alg, key); err != nil {
		return fail(invalid(err))
	}
	expires, err := tr.validate(c, v.now())
	if err != nil {
		return fail(err)
	}
	if v.transform != nil {
		if c, err = v.transform(c); err != nil || c.IsZero() {
			return fail(invalid(ErrMalformed))
		}
	}
	return c, tr, h.Kid, expires, nil
}

// checkHeader refuses a header the verifier does not accept whatever the claims say.
func (v *Verifier) checkHeader(h jws.Header, alg string) error {
	switch {
	case h.Crit:
		return invalid(ErrCritical)
	case !slices.Contains(v.algorithms, alg):
		return invalid(ErrAlgorithm)
	case h.Kid == "":
		// Better Auth always sends a kid; trying every key would multiply the cost of a forgery.
		return invalid(ErrNoKeyID)
	case jws.IsSessionCacheType(h.Typ) && !v.cookie:
		// Signed with the same keys as access tokens, but a cookie, not a credential for APIs.
		return invalid(ErrSessionCacheType)
	case v.cookie && !jws.IsSessionCacheType(h.Typ):
		// The session cookie carries only what Better Auth put there: an access token planted
		// in it (by a script or a sibling subdomain) is refused.
		return invalid(ErrNotSessionCache)
	case v.access && !jws.IsAccessTokenType(h.Typ):
		return invalid(ErrNotAccessToken)
	case !v.access && jws.IsAccessTokenType(h.Typ):
		// An OAuth access token is for a resource, not a user's credential for any route.
		return invalid(ErrAccessTokenType)
	}
	return nil
}

// CacheStats reads the token cache's counters and size; all zero when the cache is off.
func (v *Verifier) CacheStats() CacheStats { return v.cache.Stats() }
