package authz

import (
	"context"
	"errors"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/session"
)

// API keys (@better-auth/api-key): Better Auth has no route that verifies a key, but its
// get-session answers a key sent in the key's header (enableSessionForAPIKeys) with the key
// owner's session. Each such call spends one of the key's requests (its rate limit, its
// quota): the answer is cached under a hash of the key.

// APIKeys says how API keys are read; the zero value reads none.
type APIKeys struct {
	// Header carries the key (lower case, "x-api-key"); "" reads no API keys.
	Header string
	// Forward passes the header on to the upstream; by default it is stripped.
	Forward bool
	// Issuer names the issuer whose get-session answers the keys.
	Issuer string
}

// MaxAPIKeyBytes bounds an API key read (Better Auth's are 64 letters with an optional prefix).
const MaxAPIKeyBytes = 512

// APIKeyLookup resolves an API key sent in header; errors follow package session's sentinels.
type APIKeyLookup interface {
	APIKey(ctx context.Context, header, key string) (*session.Session, error)
}

var (
	errAPIKeyForm     = errors.New("API key header is empty, repeated, too long or has characters a key cannot have")
	errAPIKeyNotFound = errors.New("API key not valid: unknown, expired, disabled, over its quota, or owned by an organization")
)

// apiKeyCredential is an API key in its header, resolved through Better Auth's get-session.
func apiKeyCredential(ctx context.Context, s *Snapshot, r *Request, _ reading, accepts policy.Credentials, _ routeResource) (credential, bool) {
	k := &s.Config.APIKeys
	if k.Header == "" {
		return credential{}, false
	}
	key, n := r.Header(k.Header)
	if n == 0 {
		return credential{}, false
	}
	c := credential{sent: true, bearer: true, source: CredentialAPIKey, kind: policy.CredentialAPIKey, issuer: k.Issuer}
	if n > 1 || !validAPIKey(key) {
		return c.fail(ReasonInvalidToken, errAPIKeyForm.Error()), true
	}
	if !c.accepted(accepts) {
		return c, true
	}
	if s.APIKeys == nil {
		return c.fail(ReasonNotReady, "API keys are not resolved by this instance yet"), true
	}
	sess, err := s.APIKeys.APIKey(ctx, k.Header, key)
	switch {
	case err == nil:
		c.verified(sess.Claims)
		return c, true
	case errors.Is(err, session.ErrNoSession):
		return c.fail(ReasonInvalidToken, errAPIKeyNotFound.Error()), true
	case errors.Is(err, session.ErrTimeout):
		return c.fail(ReasonTimeout, "timed out waiting for the API key lookup"), true
	case errors.Is(err, session.ErrRateLimited):
		return c.fail(ReasonSessionUnavailable, "API key rate-limited by Better Auth: try again later"), true
	default:
		return c.fail(ReasonSessionUnavailable, "API key lookup unavailable: Better Auth did not answer"), true
	}
}

// validAPIKey: visible ASCII only, bounded (a key is sent to Better Auth as a header value).
func validAPIKey(key string) bool {
	if key == "" || len(key) > MaxAPIKeyBytes {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f || c == ',' {
			return false
		}
	}
	return true
}
