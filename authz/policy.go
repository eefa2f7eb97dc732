package authz

import (
	"context"
	"fmt"

	"github.com/betterauthz/betterauthz/jwks"
)

// Action is what a route asks of a request.
type Action int

const (
	// Authenticated needs a valid token (and the route's claims, if any).
	Authenticated Action = iota
	// Public lets everything through; a valid token still yields identity headers.
	Public
	// Deny refuses everything with 403.
	Deny
)

var actionNames = map[Action]string{Authenticated: "authenticated", Public: "public", Deny: "deny"}

func (a Action) String() string { return actionNames[a] }

// ParseAction reads "public", "authenticated" or "deny".
func ParseAction(s string) (Action, error) {
	for a, name := range actionNames {
		if s == name {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%q is not a policy (public, authenticated, deny)", s)
}

// IdentityHeader sets header Name from claim Claim on allowed requests.
type IdentityHeader struct {
	Name  string // lower case
	Claim string // a claim name or a dotted path into nested claims
}

// Policy is the compiled, immutable request policy. A new config builds a new Policy.
type Policy struct {
	// Default applies when no route matches.
	Default Action
	// IdentityHeaders, sorted by Name: set on allow when the claim is present, stripped
	// otherwise.
	IdentityHeaders []IdentityHeader
	// AllowCORSPreflight lets browser preflights through without a token.
	AllowCORSPreflight bool
	// Realm for WWW-Authenticate.
	Realm string
	// MaxTokenBytes bounds the Authorization header read.
	MaxTokenBytes int
}

// TokenVerifier checks a token; errors follow package jwks's sentinels.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (jwks.Claims, error)
}

// Snapshot is everything one decision reads, swapped whole on reload so that a request never
// sees half of an old config and half of a new one.
type Snapshot struct {
	Policy   *Policy
	Verifier TokenVerifier
}
