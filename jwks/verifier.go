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

// Algorithms Better Auth's JWT plugin can sign with. EdDSA (Ed25519) is its default.
var Algorithms = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

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
	// Audiences: the aud claim must contain at least one. Required (Better Auth always sets aud).
	Audiences []string
	// Algorithms allowed in the token header. Default: Algorithms. Never HS* or none.
	Algorithms []string
	// ClockSkew tolerated on exp, nbf and iat. Default 0.
	ClockSkew time.Duration
	// MaxTokenBytes refuses longer tokens before parsing. Default DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// CacheEntries bounds the verified-token cache; 0 turns it off. CacheBytes bounds its
	// estimated memory (default 32 MiB).
	CacheEntries int
	CacheBytes   int
}

// DefaultCacheBytes bounds the verified-token cache's memory when CacheBytes is unset.
const DefaultCacheBytes = 32 << 20

// Verifier checks Better Auth JWTs. It is safe for concurrent use.
type Verifier struct {
	keys         *KeySet
	keyfunc      keyfunc.Keyfunc
	parser       *jwt.Parser
	algorithms   []string
	maxBytes     int
	sessionCache bool
	cache        *tokenCache // nil: off
	now          func() time.Time
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
		o.Algorithms = Algorithms
	}
	for _, a := range o.Algorithms {
		if !slices.Contains(Algorithms, a) {
			return nil, fmt.Errorf("jwks: algorithm %q is not one Better Auth signs with (%s)", a, strings.Join(Algorithms, ", "))
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
	kf, err := keyfunc.New(keyfunc.Options{Storage: o.Keys})
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return &Verifier{
		keys:    o.Keys,
		keyfunc: kf,
		parser: jwt.NewParser(
			jwt.WithValidMethods(o.Algorithms),
			jwt.WithIssuer(o.Issuer),
			jwt.WithAudience(o.Audiences...),
			jwt.WithLeeway(o.ClockSkew),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(o.Now),
			jwt.WithJSONNumber(),
		),
		algorithms:   slices.Clone(o.Algorithms),
		maxBytes:     o.MaxTokenBytes,
		sessionCache: slices.Contains(o.Audiences, SessionCacheAudience),
		cache:        newTokenCache(o.CacheEntries, o.CacheBytes),
		now:          o.Now,
	}, nil
}

// Keys is the key set the verifier reads.
func (v *Verifier) Keys() *KeySet { return v.keys }

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
		claims, _, err := v.verify(ctx, token)
		return claims, err
	}
	key := keyOf(token)
	now := v.now().UnixNano()
	if e, ok := v.cache.get(key, now); ok {
		switch {
		case e.err != nil:
			return nil, e.err
		case v.keys.HasKid(e.kid):
			return e.claims, nil
		default:
			v.cache.drop(key, e) // its key has left the set: verify again (and fail)
		}
	}
	claims, kid, err := v.verify(ctx, token)
	switch {
	case err == nil:
		if exp, _ := jwt.MapClaims(claims).GetExpirationTime(); exp != nil {
			v.cache.put(key, &cacheEntry{claims: claims, kid: kid, expires: exp.UnixNano(), size: 2 * len(token)}, now)
		}
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrExpired):
		// Refusals that a retry cannot change (unlike an unknown kid or keys not yet loaded).
		v.cache.put(key, &cacheEntry{err: err, expires: now + int64(v.cache.negativeExpiry), size: 64}, now)
	}
	return claims, err
}

// verify checks a token's signature and claims, and returns its kid.
func (v *Verifier) verify(ctx context.Context, token string) (Claims, string, error) {
	claims := jwt.MapClaims{}
	parsed, err := v.parser.ParseWithClaims(token, claims, v.keyFor(ctx))
	if err != nil {
		return nil, "", v.classify(parsed, err)
	}
	kid, _ := parsed.Header["kid"].(string)
	return Claims(claims), kid, nil
}

// keyFor adds Better Auth's rules to keyfunc's lookup: a kid is required (Better Auth always
// sends one; trying every key would multiply the cost of a forged token), and the session-cache
// cookie JWT, signed with the same keys, is refused unless its audience is configured.
func (v *Verifier) keyFor(ctx context.Context) jwt.Keyfunc {
	inner := v.keyfunc.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, ErrNoKeyID
		}
		if typ, _ := t.Header["typ"].(string); strings.EqualFold(typ, SessionCacheType) && !v.sessionCache {
			return nil, ErrSessionCacheType
		}
		return inner(t)
	}
}

func invalid(cause error) error {
	return fmt.Errorf("%w: %w", ErrInvalidToken, cause)
}

// classify maps golang-jwt and keyfunc errors onto this package's sentinels.
func (v *Verifier) classify(t *jwt.Token, err error) error {
	switch {
	case errors.Is(err, ErrNotReady):
		return ErrNotReady
	case errors.Is(err, ErrTimeout):
		return ErrTimeout
	case errors.Is(err, ErrKeysUnavailable):
		return ErrKeysUnavailable
	case errors.Is(err, ErrUnknownKey):
		return ErrUnknownKey
	case errors.Is(err, ErrNoKeyID):
		return invalid(ErrNoKeyID)
	case errors.Is(err, ErrSessionCacheType):
		return invalid(ErrSessionCacheType)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid(ErrMalformed)
	}
	if t != nil {
		alg, _ := t.Header["alg"].(string)
		if !slices.Contains(v.algorithms, alg) {
			return invalid(ErrAlgorithm)
		}
	}
	switch {
	case errors.Is(err, keyfunc.ErrKeyfunc):
		// keyfunc refuses a token whose alg differs from its key's alg.
		return invalid(ErrKeyMismatch)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid(ErrSignature)
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
		// An unusable key type, a claim of the wrong type, ...: nothing a client can act on
		// beyond "this token is not acceptable".
		return invalid(ErrMalformed)
	}
}
