package jwks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// algorithms are those Better Auth's JWT plugin can sign with. EdDSA (Ed25519) is its default.
var algorithms = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

// Algorithms lists the algorithms Better Auth's JWT plugin can sign with, its default (EdDSA)
// first. The slice is the caller's.
func Algorithms() []string { return slices.Clone(algorithms) }

// Better Auth signs its session-cache cookie with the same keys as access tokens; these mark it.
const (
	SessionCacheType     = "better-auth.session-cache+jwt"
	SessionCacheAudience = "better-auth:session-cache"
)

// DefaultMaxTokenBytes is the largest token verified; anything longer is refused unread.
const DefaultMaxTokenBytes = 16 << 10

// VerifierOptions configure a Verifier.
type VerifierOptions struct {
	// Keys supplies verification keys by kid. Required.
	Keys *KeySet
	// Issuer the iss claim must equal. Required.
	Issuer string
	// IssuerAliases are other spellings of the issuer that iss may equal instead.
	IssuerAliases []string
	// SessionCookie makes this a verifier of Better Auth's session-cache cookie JWT: its typ
	// must be SessionCacheType (an access token in the cookie is refused), and Audiences should
	// be [SessionCacheAudience].
	SessionCookie bool
	// Transform, when set, turns verified claims into the view callers read (it runs once per
	// token: the cache holds its result). An error refuses the token as malformed.
	Transform func(Claims) (Claims, error)
	// Audiences: the aud claim must contain at least one. Required (Better Auth always sets aud).
	Audiences []string
	// Algorithms allowed in the token header. Default: Algorithms(). Never HS* or none.
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
	keys       *KeySet
	keyfunc    keyfunc.Keyfunc
	validator  *jwt.Validator
	issuers    []string // iss must be one of these
	cookie     bool     // a session-cache cookie verifier
	transform  func(Claims) (Claims, error)
	algorithms []string
	maxBytes   int
	cache      *tokenCache // nil: off
	now        func() time.Time
}

// NewVerifier builds a Verifier.
func NewVerifier(o VerifierOptions) (*Verifier, error) {
	if o.Keys == nil {
		return nil, errors.New("jwks: verifier needs a key set")
	}
	if o.Issuer == "" {
		return nil, errors.New("jwks: verifier needs an issuer")
	}
	if len(o.Audiences) == 0 {
		return nil, errors.New("jwks: verifier needs at least one audience")
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = algorithms
	}
	for _, a := range o.Algorithms {
		if !slices.Contains(algorithms, a) {
			return nil, fmt.Errorf("jwks: algorithm %q is not one Better Auth signs with (%s)", a, strings.Join(algorithms, ", "))
		}
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
	kf, err := keyfunc.New(keyfunc.Options{Storage: o.Keys.storage()})
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return &Verifier{
		keys:    o.Keys,
		keyfunc: kf,
		// iss is checked after the validator, against Issuer and its aliases.
		validator: jwt.NewValidator(
			jwt.WithAudience(o.Audiences...),
			jwt.WithLeeway(o.ClockSkew),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(o.Now),
		),
		algorithms: slices.Clone(o.Algorithms),
		maxBytes:   o.MaxTokenBytes,
		issuers:    append([]string{o.Issuer}, o.IssuerAliases...),
		cookie:     o.SessionCookie,
		transform:  o.Transform,
		cache:      newTokenCache(o.CacheEntries, o.CacheBytes),
		now:        o.Now,
	}, nil
}

// Verify checks a compact JWT and returns its claims, which the caller must not modify (they
// may be shared with other calls through the cache). The error wraps exactly one of
// ErrNotReady, ErrTimeout, ErrUnknownKey, ErrExpired or ErrInvalidToken (with a cause below it);
// it never contains the token. ErrKeysUnavailable is also possible: an unknown kid while the
// JWKS cannot be refreshed. Waiting for a key refresh is bounded by ctx.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if len(token) > v.maxBytes {
		return nil, invalid(ErrTooLarge)
	}
	switch strings.Count(token, ".") {
	case 2:
	case 0:
		return nil, invalid(ErrOpaque)
	default:
		return nil, invalid(ErrMalformed)
	}
	if v.cache == nil {
		claims, _, _, err := v.verify(ctx, token)
		return claims, err
	}
	key := keyOf(token)
	now := v.now().UnixNano()
	if e, ok := v.cache.get(key, now); ok {
		switch {
		case e.err != nil:
			return nil, e.err
		case v.keys.Usable(e.kid):
			return e.claims, nil
		default:
			v.cache.drop(key, e) // its key has left the set, or the set is stale: verify again (and fail)
		}
	}
	claims, kid, exp, err := v.verify(ctx, token)
	switch {
	case err == nil:
		v.cache.put(key, &cacheEntry{claims: claims, kid: kid, expires: exp, size: 2 * len(token)}, now)
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrExpired):
		// Refusals that a retry cannot change (unlike an unknown kid or keys not yet loaded).
		v.cache.put(key, &cacheEntry{err: err, expires: now + int64(v.cache.negativeExpiry), size: 64}, now)
	}
	return claims, err
}

// verify checks a token's form, signature and claims, and returns its claims view, its kid and
// its exp (unix nanoseconds). The token is read strictly (see compact) and the steps run
// cheapest first, so a forged token costs no more than one signature check.
func (v *Verifier) verify(ctx context.Context, token string) (_ Claims, kid string, exp int64, _ error) {
	t, err := parseCompact(token)
	if err != nil {
		return nil, "", 0, invalid(err)
	}
	h := t.header
	switch {
	case h.crit:
		return nil, "", 0, invalid(ErrCritical)
	case !slices.Contains(v.algorithms, h.alg):
		return nil, "", 0, invalid(ErrAlgorithm)
	case h.kid == "":
		// Better Auth always sends a kid; trying every key would multiply the cost of a forgery.
		return nil, "", 0, invalid(ErrNoKeyID)
	case isSessionCacheType(h.typ) && !v.cookie:
		// Signed with the same keys as access tokens, but a cookie, not a credential for APIs.
		return nil, "", 0, invalid(ErrSessionCacheType)
	case v.cookie && !isSessionCacheType(h.typ):
		// The session cookie carries only what Better Auth put there: an access token planted
		// in it (by a script or a sibling subdomain) is refused.
		return nil, "", 0, invalid(ErrNotSessionCache)
	}
	claims, err := parseClaims(t.payload)
	if err != nil {
		return nil, "", 0, invalid(err)
	}
	method := jwt.GetSigningMethod(h.alg)
	key, err := v.keyfunc.KeyfuncCtx(ctx)(&jwt.Token{Header: map[string]any{"alg": h.alg, "kid": h.kid}, Method: method})
	if err != nil {
		return nil, "", 0, keyError(err)
	}
	if err := method.Verify(t.signingInput, t.signature, key); err != nil {
		if errors.Is(err, jwt.ErrInvalidKeyType) {
			return nil, "", 0, invalid(ErrKeyMismatch)
		}
		return nil, "", 0, invalid(ErrSignature)
	}
	if err := v.validator.Validate(jwt.MapClaims(claims)); err != nil {
		return nil, "", 0, claimsError(err)
	}
	if iss, _ := claims["iss"].(string); !slices.Contains(v.issuers, iss) {
		return nil, "", 0, invalid(ErrIssuer)
	}
	expires, _ := jwt.MapClaims(claims).GetExpirationTime()
	if expires == nil { // the validator requires exp: never nil here, but never trusted either
		return nil, "", 0, invalid(ErrMissingClaim)
	}
	if v.transform != nil {
		if claims, err = v.transform(claims); err != nil {
			return nil, "", 0, invalid(ErrMalformed)
		}
	}
	return claims, h.kid, expires.UnixNano(), nil
}

func invalid(cause error) error {
	return fmt.Errorf("%w: %w", ErrInvalidToken, cause)
}

// keyError maps a failed key lookup onto this package's sentinels.
func keyError(err error) error {
	for _, s := range []error{ErrNotReady, ErrTimeout, ErrKeysUnavailable, ErrKeysStale, ErrUnknownKey} {
		if errors.Is(err, s) {
			return s
		}
	}
	// keyfunc refuses a token whose alg differs from its key's alg.
	return invalid(ErrKeyMismatch)
}

// claimsError maps golang-jwt's claim validation errors onto this package's sentinels.
func claimsError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid(ErrIssuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalid(ErrAudience)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid(ErrNotYetValid)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid(ErrMissingClaim)
	default:
		// A claim of the wrong type (exp as a string, ...): nothing a client can act on beyond
		// "this token is not acceptable".
		return invalid(ErrMalformed)
	}
}
