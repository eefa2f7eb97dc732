package jwks

import (
	"context"

	"github.com/MicahParks/jwkset"

	"github.com/betterauthz/betterauthz/jwks/claims"
	"github.com/betterauthz/betterauthz/jwks/jws"
	"github.com/betterauthz/betterauthz/jwks/keyset"
)

// What the rest of betterauthz uses of the packages beneath jwks, under the names it knows.

// The key set (package keyset).
type (
	// KeySet is an issuer's key set, kept fresh in the background (see keyset.KeySet).
	KeySet = keyset.KeySet
	// KeySetOptions configure a KeySet (see keyset.Options).
	KeySetOptions = keyset.Options
	// Observer is told the outcome of every JWKS fetch.
	Observer = keyset.Observer
	// Fetch describes one JWKS fetch.
	Fetch = keyset.Fetch
	// FetchOptions configure FetchSet.
	FetchOptions = keyset.FetchOptions
	// StatusError is a JWKS answer other than 200.
	StatusError = keyset.StatusError
)

// Why a fetch failed (see package keyset).
var (
	ErrFetchStatus      = keyset.ErrFetchStatus
	ErrFetchRedirect    = keyset.ErrFetchRedirect
	ErrFetchTooLarge    = keyset.ErrFetchTooLarge
	ErrFetchInvalid     = keyset.ErrFetchInvalid
	ErrFetchUnreachable = keyset.ErrFetchUnreachable
	ErrFetchCAFile      = keyset.ErrFetchCAFile
)

const (
	// DefaultRefreshInterval is how often keys are refreshed once loaded (config:
	// jwksRefreshInterval).
	DefaultRefreshInterval = keyset.DefaultRefreshInterval
	// MinRSABits is the smallest RSA modulus accepted in a JWKS.
	MinRSABits = keyset.MinRSABits
)

// NewKeySet returns a KeySet that has loaded nothing yet; Run loads and refreshes it.
func NewKeySet(o KeySetOptions) (*KeySet, error) { return keyset.New(o) }

// NewStaticKeySet returns a KeySet that holds keys and never fetches (see keyset.NewStatic).
func NewStaticKeySet(name string, keys []jwkset.JWK) (*KeySet, error) {
	return keyset.NewStatic(name, keys)
}

// FetchSet downloads and parses a JWKS once, exactly as a KeySet's refresh does.
func FetchSet(ctx context.Context, url string, o FetchOptions) ([]jwkset.JWK, []error, error) {
	return keyset.FetchSet(ctx, url, o)
}

// ParseSet parses a JWKS document (see keyset.ParseSet).
func ParseSet(data []byte) ([]jwkset.JWK, []error, error) { return keyset.ParseSet(data) }

// FetchFailure names the kind of a fetch error for metrics and logs.
func FetchFailure(err error) string { return keyset.FetchFailure(err) }

// WaitContext bounds a wait so that the caller still has time to answer before ctx's deadline
// (see keyset.WaitContext).
func WaitContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return keyset.WaitContext(ctx)
}

// Verified claims (package claims).
type (
	// Claims are a verified token's claims, compact: see claims.Claims.
	Claims = claims.Claims
	// Value is one claim's value.
	Value = claims.Value
	// Kind is the JSON type of a claim's value.
	Kind = claims.Kind
	// CacheStats describe a Verifier's token cache since it was built.
	CacheStats = claims.Stats
)

// The kinds of claim values.
const (
	KindNull   = claims.KindNull
	KindString = claims.KindString
	KindNumber = claims.KindNumber
	KindBool   = claims.KindBool
	KindArray  = claims.KindArray
	KindObject = claims.KindObject
)

// ParseClaims reads claims from a JSON object (see claims.Parse).
func ParseClaims(obj []byte) (Claims, error) { return claims.Parse(obj) }

// ClaimsFromMap makes claims of decoded JSON (see claims.FromMap).
func ClaimsFromMap(m map[string]any) (Claims, error) { return claims.FromMap(m) }

// String renders a decoded claim value as it travels in an HTTP header (see claims.String).
func String(v any) (string, bool) { return claims.String(v) }

// Token names (package jws).
const (
	// AlgEd25519 is RFC 9864's name of EdDSA over Ed25519, accepted as EdDSA.
	AlgEd25519 = jws.AlgEd25519
	// SessionCacheType marks Better Auth's session-cache cookie JWT (its typ).
	SessionCacheType = jws.SessionCacheType
	// AccessTokenType marks an OAuth access token (RFC 9068; its typ).
	AccessTokenType = jws.AccessTokenType
	// SessionCacheAudience is the session-cache cookie JWT's aud.
	SessionCacheAudience = jws.SessionCacheAudience
)

// Algorithms lists the algorithms Better Auth's JWT plugin can sign with, its default (EdDSA)
// first. The slice is the caller's.
func Algorithms() []string { return jws.Algorithms() }

// CanonicalAlgorithm is EdDSA for Ed25519, the name itself otherwise.
func CanonicalAlgorithm(alg string) string { return jws.CanonicalAlgorithm(alg) }

// IsAccessToken reports whether a token's header says it is an OAuth access token (typ at+jwt),
// without verifying anything: which verifier it goes to is chosen by it.
func IsAccessToken(token string) bool {
	accessToken, ok := jws.PeekAccessToken(token)
	return ok && accessToken
}

// IsAccessTokenType reports whether a header's typ marks an OAuth access token (at+jwt).
func IsAccessTokenType(typ string) bool { return jws.IsAccessTokenType(typ) }
