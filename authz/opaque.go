package authz

import (
	"context"
	"errors"
	"strings"

	"github.com/betterauthz/betterauthz/introspect"
	"github.com/betterauthz/betterauthz/jwks"
)

// Opaque OAuth access tokens: no JWT, so only Better Auth can say what one is, through token
// introspection — and only when the route's resource has introspection configured. Better Auth
// issues one when a client asks for no resource (then it names no audience, and no route's
// resource can take it), or when its OAuth provider runs without the JWT plugin
// (disableJwtPlugin: its audience is the resources asked for).

// Introspector asks Better Auth about an opaque access token; errors follow package
// introspect's sentinels. introspect.Introspector is one.
type Introspector interface {
	Introspect(ctx context.Context, token string) (jwks.Claims, error)
}

// opaqueToken: a token that is no JWT (no dots), which only introspection can read.
func opaqueToken(token string) bool { return strings.IndexByte(token, '.') < 0 }

// introspected reads an opaque access token through the introspection of the route's
// resource; when it cannot, c fails with the reason.
func (s *Snapshot) introspected(ctx context.Context, c *credential, resource routeResource, token string) (jwks.Claims, bool) {
	in := s.Introspectors[resource.name]
	if in == nil {
		c.fail(ReasonInvalidToken, "opaque access tokens are not accepted: introspection is off for this resource; ask for a JWT access token (a resource)")
		return jwks.Claims{}, false
	}
	if r := s.Config.Resources[resource.name]; r == nil || !r.introspectsFor(resource.namespace) {
		// A rule in a namespace's annotations may name any resource: it must not make its
		// routes take another team's opaque tokens, asked about with that team's client (and
		// spending its calls: their cap, Better Auth's rate limit).
		c.fail(ReasonInvalidToken, "opaque access tokens are not accepted on this route: the resource's introspection.namespaces does not list the namespace of its rule")
		return jwks.Claims{}, false
	}
	claims, err := in.Introspect(ctx, token)
	if err != nil {
		c.fail(IntrospectReason(err), introspect.Describe(err))
		c.retryAfter = introspect.RetryAfter(err)
		return jwks.Claims{}, false
	}
	return claims, true
}

// denyCredential denies for c's reason, with the Retry-After c asks for (an introspection
// backoff) in place of its reason's.
func (d Decision) denyCredential(c credential) Decision {
	d = d.deny(c.reason, c.description)
	d.retryAfter = c.retryAfter
	return d
}

// IntrospectReason is the reason an opaque access token is denied for when introspection did
// not give one to trust.
func IntrospectReason(err error) Reason {
	switch {
	case errors.Is(err, introspect.ErrExpired):
		return ReasonExpired
	case errors.Is(err, introspect.ErrTimeout):
		return ReasonTimeout
	case errors.Is(err, introspect.ErrUnavailable):
		// Better Auth could not be asked, or refused betterauthz's own credential: the token
		// may well be good. "Try again" (503), never "invalid token" (401).
		return ReasonIntrospectionUnavailable
	default:
		return ReasonInvalidToken
	}
}
