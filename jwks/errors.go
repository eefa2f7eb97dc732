package jwks

import (
	"errors"
	"fmt"

	"github.com/betterauthz/betterauthz/jwks/jws"
	"github.com/betterauthz/betterauthz/jwks/keyset"
)

// Each failure kind has one sentinel; errors returned by Verify wrap exactly one of them
// (and, for ErrInvalidToken, a more precise cause below it) so callers can classify with errors.Is.
var (
	// ErrNotReady: no key set has ever been loaded, so nothing can be verified yet.
	ErrNotReady = keyset.ErrNotReady
	// ErrUnknownKey: the token names a kid that the key set does not hold, even after a refresh.
	ErrUnknownKey = keyset.ErrUnknownKey
	// ErrExpired: the token's exp (plus clock skew) has passed.
	ErrExpired = errors.New("token expired")
	// ErrInvalidToken: anything else that makes a token unacceptable. The wrapped cause says what.
	ErrInvalidToken = errors.New("invalid token")
	// ErrTimeout: the caller's context ended while waiting for a key refresh.
	ErrTimeout = keyset.ErrTimeout
	// ErrKeysUnavailable: the token names a kid the key set lacks, and refreshing it failed.
	ErrKeysUnavailable = keyset.ErrKeysUnavailable
	// ErrKeysStale: the key set has not been refreshed successfully for longer than MaxKeyAge,
	// so its keys are no longer trusted (a key Better Auth revoked meanwhile would still verify).
	ErrKeysStale = keyset.ErrKeysStale
)

// Causes wrapped under ErrInvalidToken. Their text is safe to show a client: it never contains
// any part of the token.
var (
	ErrTooLarge         = errors.New("token too large")
	ErrMalformed        = jws.ErrMalformed
	ErrOpaque           = errors.New("opaque session token, not a JWT: send the JWT from /token or the set-auth-jwt header")
	ErrAlgorithm        = errors.New("signing algorithm not allowed")
	ErrNoKeyID          = errors.New("token header has no kid")
	ErrKeyMismatch      = jws.ErrKeyMismatch
	ErrSignature        = jws.ErrSignature
	ErrIssuer           = errors.New("issuer not accepted")
	ErrAudience         = errors.New("audience not accepted")
	ErrNotYetValid      = errors.New("token not valid yet")
	ErrMissingClaim     = errors.New("token lacks a required claim")
	ErrSessionCacheType = errors.New("session-cache cookie JWT is not an access token")
	ErrCritical         = errors.New("token header has crit: critical extensions are not supported")
	ErrNotSessionCache  = errors.New("not a session-cache cookie JWT")
	ErrAccessTokenType  = errors.New("an OAuth access token (typ at+jwt) is not a user JWT")
	ErrNotAccessToken   = errors.New("not an OAuth access token (typ at+jwt)")
)

// Describe returns the client-safe description of an error from Verify: the precise cause for
// ErrInvalidToken, the sentinel's text otherwise.
func Describe(err error) string {
	if errors.Is(err, ErrInvalidToken) {
		for _, cause := range []error{ErrTooLarge, ErrMalformed, ErrOpaque, ErrAlgorithm, ErrNoKeyID,
			ErrKeyMismatch, ErrSignature, ErrIssuer, ErrAudience, ErrNotYetValid, ErrMissingClaim,
			ErrSessionCacheType, ErrCritical, ErrNotSessionCache, ErrAccessTokenType, ErrNotAccessToken} {
			if errors.Is(err, cause) {
				return cause.Error()
			}
		}
		return ErrInvalidToken.Error()
	}
	for _, s := range []error{ErrNotReady, ErrTimeout, ErrKeysUnavailable, ErrKeysStale, ErrUnknownKey, ErrExpired} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return ErrInvalidToken.Error()
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
	// A key whose alg differs from the token's (keyset.ErrKeyAlgorithm).
	return invalid(ErrKeyMismatch)
}
