package authz

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Reason is the stable code for why a decision came out as it did. The same strings appear in
// logs, in metric labels and (for denials) in responses.
type Reason string

const (
	ReasonAllowed            Reason = "allowed"                 // valid token, policy met
	ReasonPublic             Reason = "public"                  // public route
	ReasonCORSPreflight      Reason = "cors_preflight"          // browser preflight, no token needed
	ReasonMissingToken       Reason = "missing_token"           // no credential sent
	ReasonInvalidToken       Reason = "invalid_token"           // malformed, forged, wrong iss/aud, ...
	ReasonExpired            Reason = "expired"                 // exp passed
	ReasonUnknownKey         Reason = "unknown_key"             // kid not in the JWKS even after a refresh
	ReasonInsufficientClaims Reason = "insufficient_claims"     // valid token without the route's claims
	ReasonPolicyDenied       Reason = "policy_denied"           // route policy is deny
	ReasonNotReady           Reason = "not_ready"               // JWKS never loaded
	ReasonKeysUnavailable    Reason = "keys_unavailable"        // unknown kid while Better Auth is unreachable
	ReasonKeysStale          Reason = "keys_stale"              // no successful JWKS refresh within maxKeyAge
	ReasonTimeout            Reason = "timeout"                 // Envoy's deadline passed first
	ReasonBadRequest         Reason = "bad_request"             // no HTTP attributes, a malformed path or host
	ReasonInvalidRoutePolicy Reason = "invalid_route_policy"    // the route's context_extensions are invalid
	ReasonInternal           Reason = "internal_error"          // a bug; fails closed
	ReasonSignIn             Reason = "sign_in_redirect"        // a browser without a session: to sessions.signInURL
	ReasonUntrustedOrigin    Reason = "untrusted_origin"        // a cookie-authenticated unsafe request from an untrusted origin (CSRF)
	ReasonSessionUnavailable Reason = "session_unavailable"     // Better Auth could not be asked about a session
	ReasonNotAccepted        Reason = "credential_not_accepted" // a kind of credential the route does not take (rules' credentials)
	ReasonBanned             Reason = "banned"                  // the user is banned (Better Auth's admin plugin)
	ReasonWrongResource      Reason = "wrong_resource"          // an access token for another resource (aud)
	ReasonInsufficientScope  Reason = "insufficient_scope"      // a credential without every scope the route asks for

	ReasonIntrospectionUnavailable Reason = "introspection_unavailable" // Better Auth could not be asked about an opaque access token, or refused betterauthz's client
)

// Code is a gRPC status code (google.rpc.Code), the numbers Envoy reads from a CheckResponse.
// authz speaks no gRPC; the transports convert.
type Code int32

// The codes the outcome table uses.
const (
	CodeOK               Code = 0
	CodeInvalidArgument  Code = 3
	CodePermissionDenied Code = 7
	CodeInternal         Code = 13
	CodeUnavailable      Code = 14
	CodeUnauthenticated  Code = 16
)

// outcome is how a reason is answered. This table is the one place that maps reasons to gRPC
// codes, HTTP statuses and OAuth error codes (RFC 6750).
type outcome struct {
	code       Code
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
	scopeChallenge           // errorChallenge with scope="<the missing scopes>" (RFC 6750 §3)
)

var outcomes = map[Reason]outcome{
	ReasonAllowed:            {code: CodeOK, httpStatus: 200},
	ReasonPublic:             {code: CodeOK, httpStatus: 200},
	ReasonCORSPreflight:      {code: CodeOK, httpStatus: 200},
	ReasonMissingToken:       {CodeUnauthenticated, 401, "missing_token", bareChallenge, 0},
	ReasonInvalidToken:       {CodeUnauthenticated, 401, "invalid_token", errorChallenge, 0},
	ReasonExpired:            {CodeUnauthenticated, 401, "invalid_token", errorChallenge, 0},
	ReasonUnknownKey:         {CodeUnauthenticated, 401, "invalid_token", errorChallenge, 0},
	ReasonInsufficientClaims: {CodePermissionDenied, 403, "insufficient_scope", errorChallenge, 0},
	ReasonPolicyDenied:       {CodePermissionDenied, 403, "access_denied", noChallenge, 0},
	ReasonNotReady:           {CodeUnavailable, 503, "temporarily_unavailable", noChallenge, 5 * time.Second},
	ReasonKeysUnavailable:    {CodeUnavailable, 503, "temporarily_unavailable", noChallenge, 5 * time.Second},
	ReasonKeysStale:          {CodeUnavailable, 503, "temporarily_unavailable", noChallenge, 5 * time.Second},
	ReasonTimeout:            {CodeUnavailable, 503, "temporarily_unavailable", noChallenge, time.Second},
	ReasonBadRequest:         {CodeInvalidArgument, 400, "invalid_request", noChallenge, 0},
	ReasonInvalidRoutePolicy: {CodeInternal, 500, "server_error", noChallenge, 0},
	ReasonInternal:           {CodeInternal, 500, "server_error", noChallenge, 0},
	ReasonSignIn:             {CodeUnauthenticated, 302, "login_required", noChallenge, 0},
	ReasonUntrustedOrigin:    {CodePermissionDenied, 403, "access_denied", noChallenge, 0},
	ReasonSessionUnavailable: {CodeUnavailable, 503, "temporarily_unavailable", noChallenge, 5 * time.Second},
	ReasonNotAccepted:        {CodeUnauthenticated, 401, "invalid_token", errorChallenge, 0},
	ReasonBanned:             {CodePermissionDenied, 403, "access_denied", noChallenge, 0},
	ReasonWrongResource:      {CodeUnauthenticated, 401, "invalid_token", errorChallenge, 0},
	ReasonInsufficientScope:  {CodePermissionDenied, 403, "insufficient_scope", scopeChallenge, 0},

	ReasonIntrospectionUnavailable: {CodeUnavailable, 503, "temporarily_unavailable", noChallenge, 5 * time.Second},
}

// Reasons lists every reason, for tables and tests.
func Reasons() []Reason {
	out := make([]Reason, 0, len(outcomes))
	for r := range outcomes {
		out = append(out, r)
	}
	return out
}

// Decision is the protocol-neutral answer to one request. Transports render it: the outcome
// methods below say everything a response carries.
type Decision struct {
	Reason Reason
	// Description is a client-safe detail for denials ("token expired"); never token content.
	Description string
	// Route names the rules that decided, for logs ("a+b" when a path was read two ways).
	Route string
	// RouteLabel names the deciding rule in metrics, from a bounded set (see policy.Rule.Label).
	RouteLabel string
	// Subject is the verified token's sub, when there was one.
	Subject string
	// Set are identity headers to set on the upstream request (allow only).
	Set []Header
	// Remove are identity headers to strip from the upstream request (allow only).
	Remove []string
	// Underscored are the underscore spellings of the identity headers ("x_user_id" for
	// "x-user-id"), which CGI and WSGI upstreams read as the headers themselves (allow only;
	// never in Set or Remove). A transport whose proxy passes every client header on strips
	// them too (Envoy: headers_to_remove); the shared slice must not be modified.
	Underscored []string
	// ResponseHeaders go to the client with the upstream's answer (allow only): session-cache
	// cookies Better Auth refreshed.
	ResponseHeaders []Header
	// Credential names where the credential that decided came from (CredentialBearer, …; ""
	// for none). For the operator's log.
	Credential string
	// DryRun: the request is allowed although Reason denies it, because the rules that decided
	// (or the config) are a dry run. Reason, Description and HTTPStatus say what it would have
	// had.
	DryRun bool
	// Location is where a sign-in redirect (302) sends the browser.
	Location string
	// Realm for WWW-Authenticate.
	Realm string
	// Scope lists the scopes the credential lacks, space-separated (insufficient_scope).
	Scope string
	// ResourceMetadata is the URL of the route's resource metadata (RFC 9728), for
	// WWW-Authenticate; "" when the route is no configured resource.
	ResourceMetadata string
	// Detail is for the operator's log only, never sent to the client: e.g. why a route's
	// policy is invalid.
	Detail string
	// retryAfter, when set, replaces the reason's Retry-After: how long Better Auth's rate limit
	// on introspection has yet to run.
	retryAfter time.Duration
}

// Header is one header to set.
type Header struct {
	Name, Value string
}

// Allowed reports whether the request goes upstream.
func (d *Decision) Allowed() bool { return d.DryRun || outcomes[d.Reason].code == CodeOK }

// Code is the gRPC status code of the answer.
func (d *Decision) Code() Code {
	if d.DryRun {
		return CodeOK
	}
	return outcomes[d.Reason].code
}

// HTTPStatus is the status a denied request is answered with (200 when allowed; for a dry run,
// the status it would have had).
func (d *Decision) HTTPStatus() int { return outcomes[d.Reason].httpStatus }

// StatusMessage is the gRPC status message: the reason and the description.
func (d *Decision) StatusMessage() string {
	if d.Allowed() {
		return ""
	}
	return string(d.Reason) + ": " + d.Description
}

// Challenge is the WWW-Authenticate value of a denial ("" when it has none): RFC 6750's Bearer
// challenge, with the error code and description only when a credential was sent.
func (d *Decision) Challenge() string {
	o := outcomes[d.Reason]
	var c string
	switch o.challenge {
	case bareChallenge:
		c = "Bearer realm=" + quote(d.Realm)
	case errorChallenge:
		c = "Bearer realm=" + quote(d.Realm) + ", error=" + quote(o.errorCode) + ", error_description=" + quote(d.Description)
	case scopeChallenge:
		c = "Bearer realm=" + quote(d.Realm) + ", error=" + quote(o.errorCode) + ", scope=" + quote(d.Scope) + ", error_description=" + quote(d.Description)
	default:
		return ""
	}
	if d.ResourceMetadata != "" {
		// RFC 9728 §5.1: where an OAuth client learns how to get a token for this resource.
		c += ", resource_metadata=" + quote(d.ResourceMetadata)
	}
	return c
}

// RetryAfter is the Retry-After value of a denial, in whole seconds ("" when it has none). A
// denial for an introspection backoff says what is left of it, rounded up, 1..60.
func (d *Decision) RetryAfter() string {
	s := outcomes[d.Reason].retryAfter
	if s > 0 && d.retryAfter > 0 {
		return strconv.Itoa(min(max(int((d.retryAfter+time.Second-1)/time.Second), 1), 60))
	}
	if s > 0 {
		return strconv.Itoa(int(s.Seconds()))
	}
	return ""
}

// Body is a denial's JSON body: {"error": "...", "error_description": "..."}.
func (d *Decision) Body() string {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{outcomes[d.Reason].errorCode, d.Description})
	return string(body)
}

// quote makes an RFC 7230 quoted-string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
