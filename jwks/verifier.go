package jwks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// algorithms are those Better Auth's JWT plugin can sign with. EdDSA (Ed25519) is its default.
var algorithms = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

// Algorithms lists the algorithms Better Auth's JWT plugin can sign with, its default (EdDSA)
// first. The slice is the caller's.
func Algorithms() []string { return slices.Clone(algorithms) }

// AlgEd25519 is RFC 9864's fully-specified name of EdDSA over Ed25519, the only EdDSA Better
// Auth signs with: accepted as EdDSA wherever an algorithm is named (tokens, JWKs, lists).
const AlgEd25519 = "Ed25519"

// CanonicalAlgorithm is the name this package uses for an algorithm: EdDSA for Ed25519, the
// name itself otherwise.
func CanonicalAlgorithm(alg string) string {
	if alg == AlgEd25519 {
		return "EdDSA"
	}
	return alg
}

// Better Auth signs its session-cache cookie with the same keys as access tokens; these mark it.
const (
	SessionCacheType     = "better-auth.session-cache+jwt"
	SessionCacheAudience = "better-auth:session-cache"
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
	transform  func(Claims) (Claims, error)
	maxBytes   int
	cache      *tokenCache // nil: off
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
		transform: o.Transform,
		cache:     newTokenCache(o.CacheEntries, o.CacheBytes),
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
	if len(t.Audiences) == 0 {
		return nil, errors.New("jwks: verifier needs at least one audience")
	}
	algs := t.Algorithms
	if len(algs) == 0 {
		algs = algorithms
	}
	// iss is checked before, when the trust is chosen by it.
	ct := &trust{name: t.Name, keys: t.Keys, audiences: slices.Clone(t.Audiences), leeway: o.ClockSkew}
	for _, a := range algs {
		a = CanonicalAlgorithm(a)
		if !slices.Contains(algorithms, a) {
			return nil, fmt.Errorf("jwks: algorithm %q is not one Better Auth signs with (%s)", a, strings.Join(algorithms, ", "))
		}
		if !slices.Contains(ct.algorithms, a) {
			ct.algorithms = append(ct.algorithms, a)
		}
	}
	return ct, nil
}

// Verify checks a compact JWT and returns its claims, decoded (VerifyReader reads them without
// decoding). The error wraps exactly one of ErrNotReady, ErrTimeout, ErrUnknownKey, ErrExpired
// or ErrInvalidToken (with a cause below it); it never contains the token. ErrKeysUnavailable
// is also possible: an unknown kid while the JWKS cannot be refreshed. Waiting for a key
// refresh is bounded by ctx. The caller must not modify the claims (those of a token too large
// to keep compact are the cache's own).
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	c, err := v.VerifyReader(ctx, token)
	if err != nil {
		return nil, err
	}
	return decoded(c), nil
}

// VerifyReader is Verify, with the claims as the verified-token cache keeps them (compact,
// see CompactClaims): a cache hit allocates nothing. They may be shared with other calls.
func (v *Verifier) VerifyReader(ctx context.Context, token string) (ClaimReader, error) {
	if err := v.precheck(token); err != nil {
		return nil, err
	}
	if v.cache == nil {
		claims, _, _, _, err := v.verify(ctx, token)
		return claims, err
	}
	key := keyOf(token)
	now := v.now().UnixNano()
	if e, ok := v.cache.get(key, now); ok {
		switch {
		case e.err != nil:
			return nil, e.err
		case e.keys.Usable(e.kid):
			return e.claims, nil
		default:
			v.cache.drop(key, e) // its key has left the set, or the set is stale: verify again (and fail)
		}
	}
	claims, t, kid, exp, err := v.verify(ctx, token)
	switch {
	case err == nil:
		v.cache.put(key, &cacheEntry{claims: claims, keys: t.keys, kid: kid, expires: exp, size: heldBytes(claims, token) + len(kid)}, now)
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrExpired):
		// Refusals that a retry cannot change (unlike an unknown kid or keys not yet loaded).
		v.cache.put(key, &cacheEntry{err: err, expires: now + int64(v.cache.negativeExpiry), size: 64}, now)
	}
	return claims, err
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

// decoded is claims as Claims.
func decoded(c ClaimReader) Claims {
	if cc, ok := c.(*CompactClaims); ok {
		return cc.Claims()
	}
	return c.(Claims)
}

// heldBytes is the memory claims hold in the cache: exact for CompactClaims; for claims too
// large to be compact (decoded), three times the token, about what decoded claims measure.
func heldBytes(c ClaimReader, token string) int {
	if cc, ok := c.(*CompactClaims); ok {
		return cc.size()
	}
	return 3 * len(token)
}

// verify checks a token's form, signature and claims, and returns its claims view, the trust
// (issuer) it was verified for, its kid and its exp (unix nanoseconds). The token is read
// strictly (see jws) and the steps run cheapest first, so a forged token costs no more than
// one signature check. The issuer its iss names is chosen before any key is looked at: a token
// is never tried against another issuer's keys.
func (v *Verifier) verify(ctx context.Context, token string) (_ ClaimReader, _ *trust, kid string, exp int64, _ error) {
	fail := func(err error) (ClaimReader, *trust, string, int64, error) { return nil, nil, "", 0, err }
	t, err := parseCompact(token)
	if err != nil {
		return fail(invalid(err))
	}
	h := t.header
	alg := CanonicalAlgorithm(h.alg)
	switch {
	case h.crit:
		return fail(invalid(ErrCritical))
	case !slices.Contains(v.algorithms, alg):
		return fail(invalid(ErrAlgorithm))
	case h.kid == "":
		// Better Auth always sends a kid; trying every key would multiply the cost of a forgery.
		return fail(invalid(ErrNoKeyID))
	case isSessionCacheType(h.typ) && !v.cookie:
		// Signed with the same keys as access tokens, but a cookie, not a credential for APIs.
		return fail(invalid(ErrSessionCacheType))
	case v.cookie && !isSessionCacheType(h.typ):
		// The session cookie carries only what Better Auth put there: an access token planted
		// in it (by a script or a sibling subdomain) is refused.
		return fail(invalid(ErrNotSessionCache))
	}
	claims, err := parseClaims(t.payload)
	if err != nil {
		return fail(invalid(err))
	}
	tr, ok := v.byIssuer[stringClaim(claims, "iss")]
	switch {
	case !ok:
		return fail(invalid(ErrIssuer))
	case !slices.Contains(tr.algorithms, alg):
		return fail(invalid(ErrAlgorithm))
	}
	key, err := tr.keys.verificationKey(ctx, h.kid, alg)
	if err != nil {
		return fail(keyError(err))
	}
	if err := checkSignature(t, alg, key); err != nil {
		return fail(err)
	}
	expires, err := tr.validate(claims, v.now())
	if err != nil {
		return fail(err)
	}
	if v.transform != nil {
		view, err := v.transform(decoded(claims))
		if err != nil {
			return fail(invalid(ErrMalformed))
		}
		if claims, err = compactOf(view); err != nil {
			return fail(invalid(ErrMalformed))
		}
	}
	return claims, tr, h.kid, expires, nil
}

// checkSignature verifies t's signature with key, a key for alg.
func checkSignature(t jws, alg string, key any) error {
	if err := signingMethod(alg).Verify(t.signingInput, t.signature, key); err != nil {
		if errors.Is(err, jwt.ErrInvalidKeyType) {
			return invalid(ErrKeyMismatch)
		}
		return invalid(ErrSignature)
	}
	return nil
}

// signingMethod is golang-jwt's signing method for one of algorithms.
func signingMethod(alg string) jwt.SigningMethod {
	switch alg {
	case "EdDSA":
		return jwt.SigningMethodEdDSA
	case "ES256":
		return jwt.SigningMethodES256
	case "ES512":
		return jwt.SigningMethodES512
	case "RS256":
		return jwt.SigningMethodRS256
	case "PS256":
		return jwt.SigningMethodPS256
	}
	panic("jwks: no signing method for " + alg) // algorithms lists only these
}

// stringClaim is a top-level string claim, "" when it is absent or not a string.
func stringClaim(c ClaimReader, name string) string {
	if v, ok := c.Claim(name); ok && v.Kind() == KindString {
		return v.Text()
	}
	return ""
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
	// A key whose alg differs from the token's (errKeyAlgorithm).
	return invalid(ErrKeyMismatch)
}
