package authz

import (
	"time"

	"google.golang.org/grpc/codes"
)

// Reason is the stable code for why a decision came out as it did. The same strings appear in
// logs, in metric labels and (for denials) in responses.
type Reason string

const (
	ReasonAllowed            Reason = "allowed"              // valid token, policy met
	ReasonPublic             Reason = "public"               // public route
	ReasonCORSPreflight      Reason = "cors_preflight"       // browser preflight, no token needed
	ReasonMissingToken       Reason = "missing_token"        // no credential sent
	ReasonInvalidToken       Reason = "invalid_token"        // malformed, forged, wrong iss/aud, ...
	ReasonExpired            Reason = "expired"              // exp passed
	ReasonUnknownKey         Reason = "unknown_key"          // kid not in the JWKS even after a refresh
	ReasonInsufficientClaims Reason = "insufficient_claims"  // valid token without the route's claims
	ReasonPolicyDenied       Reason = "policy_denied"        // route policy is deny
	ReasonNotReady           Reason = "not_ready"            // JWKS never loaded
	ReasonKeysUnavailable    Reason = "keys_unavailable"     // unknown kid while Better Auth is unreachable
	ReasonKeysStale          Reason = "keys_stale"           // no successful JWKS refresh within maxKeyAge
	ReasonTimeout            Reason = "timeout"              // Envoy's deadline passed first
	ReasonBadRequest         Reason = "bad_request"          // no HTTP attributes, a malformed path or host
	ReasonInvalidRoutePolicy Reason = "invalid_route_policy" // the route's context_extensions are invalid
	ReasonInternal           Reason = "internal_error"       // a bug; fails closed
)

// outcome is how a reason is answered. This table is the one place that maps reasons to gRPC
// codes, HTTP statuses and OAuth error codes (RFC 6750).
type outcome struct {
	code       codes.Code
	httpStatus int
	// errorCode goes in the JSON body's "error" and, where RFC 6750 defines it, in
	// WWW-Authenticate.
	errorCode string
	// challenge says whether the answer carries WWW-Authenticate, and whether with errorCode.
	challenge  challenge
	retryAfter time.Duration
}

type challenge int

const (
	noChallenge    challenge = iota
	bareChallenge            // Bearer realm="…" (no credential: RFC 6750 §3.1 says no error code)
	errorChallenge           // Bearer realm="…", error="…", error_description="…"
)

var outcomes = map[Reason]outcome{
	ReasonAllowed:            {code: codes.OK, httpStatus: 200},
	ReasonPublic:             {code: codes.OK, httpStatus: 200},
	ReasonCORSPreflight:      {code: codes.OK, httpStatus: 200},
	ReasonMissingToken:       {codes.Unauthenticated, 401, "missing_token", bareChallenge, 0},
	ReasonInvalidToken:       {codes.Unauthenticated, 401, "invalid_token", errorChallenge, 0},
	ReasonExpired:            {codes.Unauthenticated, 401, "invalid_token", errorChallenge, 0},
	ReasonUnknownKey:         {codes.Unauthenticated, 401, "invalid_token", errorChallenge, 0},
	ReasonInsufficientClaims: {codes.PermissionDenied, 403, "insufficient_scope", errorChallenge, 0},
	ReasonPolicyDenied:       {codes.PermissionDenied, 403, "access_denied", noChallenge, 0},
	ReasonNotReady:           {codes.Unavailable, 503, "temporarily_unavailable", noChallenge, 5 * time.Second},
	ReasonKeysUnavailable:    {codes.Unavailable, 503, "temporarily_unavailable", noChallenge, 5 * time.Second},
	ReasonKeysStale:          {codes.Unavailable, 503, "temporarily_unavailable", noChallenge, 5 * time.Second},
	ReasonTimeout:            {codes.Unavailable, 503, "temporarily_unavailable", noChallenge, time.Second},
	ReasonBadRequest:         {codes.InvalidArgument, 400, "invalid_request", noChallenge, 0},
	ReasonInvalidRoutePolicy: {codes.Internal, 500, "server_error", noChallenge, 0},
	ReasonInternal:           {codes.Internal, 500, "server_error", noChallenge, 0},
}

// Decision is the protocol-neutral answer to one request.
type Decision struct {
	Reason Reason
	// Description is a client-safe detail for denials ("token expired"); never token content.
	Description string
	// Route names the rule that decided (empty for the default policy).
	Route string
	// Subject is the verified token's sub, when there was one.
	Subject string
	// Set are identity headers to set on the upstream request (allow only).
	Set []Header
	// Remove are identity headers to strip from the upstream request (allow only).
	Remove []string
	// Realm for WWW-Authenticate.
	Realm string
	// Detail is for the operator's log only, never sent to the client: e.g. why a route's
	// policy is invalid.
	Detail string
}

// Header is one header to set.
type Header struct {
	Name, Value string
}

// Allowed reports whether the request goes upstream.
func (d *Decision) Allowed() bool { return outcomes[d.Reason].code == codes.OK }

// HTTPStatus is the status Envoy answers a denied request with (200 when allowed).
func (d *Decision) HTTPStatus() int { return outcomes[d.Reason].httpStatus }
