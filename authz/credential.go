package authz

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
)

// Step 3 of a decision: get the request's credential and verify it. A credential comes in one
// of several kinds, tried in the order of credentialKinds: the first kind the request carries
// decides, valid or not. A new kind of credential is one more func there.

// credential is who the request says it comes from, and whether that holds.
type credential struct {
	// sent: the request carries a credential at all (else: sign in).
	sent bool
	// bearer: it came in the Authorization header (else from a cookie).
	bearer bool
	// source names where the credential decided came from (Credential* constants).
	source string
	// kind is the kind of credential it is, as rules name them (policy.CredentialJWT, …).
	kind policy.Credentials
	// issuer names the issuer the credential is of (config issuers[].name), when valid.
	issuer string
	// valid: the credential holds, with its claims and their subject (sub).
	valid   bool
	claims  jwks.Claims
	subject string
	// subjectKind: policy.SubjectUser, or policy.SubjectClient for an access token of no user
	// (client_credentials). Set when valid.
	subjectKind string
	// crossSite: a valid cookie credential on an unsafe request from an origin that is not
	// trusted (CSRF). It authenticates nothing.
	crossSite bool
	// setCookie: session-cache cookies Better Auth refreshed during a lookup, for the browser.
	setCookie []string
	// reason and description say why it is not valid.
	reason      Reason
	description string
	// retryAfter, when set, is the Retry-After of the denial (an introspection backoff).
	retryAfter time.Duration
	// facts: what Better Auth's plugins say of a valid credential (standing.go).
	facts facts
	// sessionCookie and sessionToken: the session token cookie that came with a session
	// credential, to ask Better Auth about the session (its organization role). Never logged.
	sessionCookie, sessionToken string
}

// Where a decision's credential came from, as Decision.Credential names it.
const (
	CredentialBearer        = "bearer"         // the Authorization header
	CredentialSessionCookie = "session_cookie" // the session-cache cookie JWT
	CredentialSessionToken  = "session_token"  // the session token cookie, through get-session
	CredentialAPIKey        = "api_key"        // an API key header, through get-session
)

// verified makes the credential valid with claims (none: no claims, no credential).
func (c *credential) verified(claims jwks.Claims) {
	c.valid, c.claims, c.subject = !claims.IsZero(), claims, claims.Subject()
	c.subjectKind = SubjectKind(claims, c.kind == policy.CredentialAccessToken)
}

// SubjectKind says whose credential claims are: a client's for an access token of the
// client_credentials grant — no session (sid) and the client as its subject —, nobody's ("")
// for an access token that names no client, and a user's otherwise.
func SubjectKind(claims jwks.Claims, accessToken bool) string {
	if accessToken {
		id := claims.StringClaim("client_id")
		switch {
		case id == "":
			// Better Auth always names the client: whose token this is cannot be told, and it
			// is neither kind (rules asking for one refuse it).
			return ""
		case claims.StringClaim("sid") == "" && id == claims.Subject():
			return policy.SubjectClient
		}
	}
	return policy.SubjectUser
}

func (c *credential) fail(reason Reason, description string) credential {
	c.reason, c.description = reason, description
	return *c
}

// accepted reports whether the route's rules take a credential of c's kind; if not, c fails
// with ReasonNotAccepted. A kind calls it before any costly work (a lookup at Better Auth): a
// credential the route does not take is refused unverified.
func (c *credential) accepted(accepts policy.Credentials) bool {
	if accepts.Has(c.kind) {
		return true
	}
	c.reason, c.description = ReasonNotAccepted, "this route does not take a credential of this kind ("+c.kind.String()+")"
	return false
}

// A credentialKind looks for one kind of credential in a request, and verifies it if the route's
// rules take it (accepts). resource is the route's OAuth resource (name "": none), whose
// introspection reads opaque access tokens. found is false when the request carries none of
// that kind: the next kind is tried.
type credentialKind func(ctx context.Context, s *Snapshot, r *Request, rq reading, accepts policy.Credentials, resource routeResource) (c credential, found bool)

// routeResource is the OAuth resource a route's rules name, and the namespace of the object
// whose rule names it ("": the config or context_extensions).
type routeResource struct {
	name, namespace string
}

// credentialKinds in the order they are tried. The Authorization header decides alone — valid
// wins, invalid is invalid, whatever cookies come along — then an API key, then Better Auth's
// session cookies.
var credentialKinds = []credentialKind{bearerCredential, apiKeyCredential, sessionCredential}

// credential finds and verifies the request's credential (none: not sent), of the kinds the
// rules accept, for the route's resource.
func (s *Snapshot) credential(ctx context.Context, r *Request, rq reading, accepts policy.Credentials, resource routeResource) credential {
	for _, kind := range credentialKinds {
		if c, found := kind(ctx, s, r, rq, accepts, resource); found {
			return c
		}
	}
	return credential{}
}

// bearerCredential is a token in the Authorization header, verified by the token verifier — or,
// for an opaque access token, read through the route resource's introspection.
func bearerCredential(ctx context.Context, s *Snapshot, r *Request, _ reading, accepts policy.Credentials, resource routeResource) (credential, bool) {
	token, err := bearerToken(r, jwks.DefaultMaxTokenBytes)
	if errors.Is(err, errNoToken) {
		return credential{}, false
	}
	c := credential{sent: true, bearer: true, source: CredentialBearer, kind: policy.CredentialJWT}
	if err != nil {
		return c.fail(ReasonInvalidToken, err.Error()), true
	}
	// The kind is told from the header's typ before anything is verified: an OAuth access
	// token (at+jwt) goes to the access token verifier, anything else to the user JWT one, and
	// each refuses the other's type.
	verifier, opaque := s.Verifier, false
	switch {
	case jwks.IsAccessToken(token):
		c.kind, verifier = policy.CredentialAccessToken, s.AccessVerifier
	case opaqueToken(token) && accepts.Has(policy.CredentialAccessToken):
		c.kind, opaque = policy.CredentialAccessToken, true
	}
	if !c.accepted(accepts) {
		return c, true
	}
	var claims jwks.Claims
	if opaque {
		// From here on, what Better Auth says of it is read as a verified JWT access token's
		// claims: the same rules, the same headers.
		var ok bool
		if claims, ok = s.introspected(ctx, &c, resource, token); !ok {
			return c, true
		}
	} else {
		if verifier == nil {
			return c.fail(ReasonInvalidToken, "OAuth access tokens are not accepted here"), true
		}
		var err error
		if claims, err = verifier.Verify(ctx, token); err != nil {
			return c.fail(VerifyReason(err), jwks.Describe(err)), true
		}
	}
	if _, bound := claims.Claim("cnf"); bound {
		// A token bound to a key (DPoP, RFC 9449; mTLS, RFC 8705) is only good with proof of
		// that key, which a Bearer request does not carry.
		return c.fail(ReasonInvalidToken, "DPoP-bound access token requires the DPoP authorization scheme"), true
	}
	c.verified(claims)
	c.issuer = s.Config.Issuers[claims.StringClaim("iss")]
	return c, true
}

// sessionCredential is Better Auth's session cookies: the session-cache cookie JWT, else the
// session token cookie, resolved through Better Auth. An expired session-cache cookie falls
// back to the session token when lookups are on. A cookie rides along with requests other
// sites' pages make: one that authenticates an unsafe request from an untrusted origin is
// crossSite.
func sessionCredential(ctx context.Context, s *Snapshot, r *Request, rq reading, accepts policy.Credentials, _ routeResource) (credential, bool) {
	b := &s.Config.Browser
	if !b.enabled() {
		return credential{}, false
	}
	cookies, err := b.readCookies(r)
	if err != nil {
		c := credential{sent: true, kind: policy.CredentialSession}
		return c.fail(ReasonInvalidToken, err.Error()), true
	}
	if c := (credential{sent: b.sent(s, cookies), kind: policy.CredentialSession}); c.sent && !c.accepted(accepts) {
		return c, true
	}
	c := s.sessionCookies(ctx, cookies)
	if c.valid && !safeMethod(r.Method) && !b.originTrusted(r, rq.host) {
		c.crossSite = true
	}
	return c, c.sent
}

// sessionCookies verifies the session-cache cookie, else looks the session token up.
func (s *Snapshot) sessionCookies(ctx context.Context, cookies sessionCookies) credential {
	b := &s.Config.Browser
	useData, useToken := b.uses(s, cookies)
	c := credential{sent: useData || useToken, issuer: b.Issuer, kind: policy.CredentialSession}
	if useToken {
		c.sessionCookie, c.sessionToken = cookies.tokenName, cookies.token
	}
	if useData {
		c.source = CredentialSessionCookie
		claims, err := s.SessionVerifier.Verify(ctx, cookies.data)
		if err == nil && !b.otherVersion(claims) {
			c.verified(claims)
			return c
		}
		if err == nil {
			// Better Auth reads a cookie of another version past its cache: not signed out, but
			// not to be trusted from the cookie alone.
			if !useToken {
				return c.fail(ReasonInvalidToken, "session cookie: of another cookieCacheVersion")
			}
		} else if !errors.Is(err, jwks.ErrExpired) || !useToken {
			return c.fail(VerifyReason(err), "session cookie: "+jwks.Describe(err))
		}
	}
	if !useToken {
		return c
	}
	c.source = CredentialSessionToken
	sess, err := s.Sessions.Lookup(ctx, cookies.tokenName, cookies.token)
	switch {
	case err == nil:
		c.verified(sess.Claims)
		c.setCookie = sess.SetCookie
		return c
	case errors.Is(err, session.ErrNoSession):
		return c.fail(ReasonInvalidToken, "session not found: signed out or expired")
	case errors.Is(err, session.ErrTimeout):
		return c.fail(ReasonTimeout, "timed out waiting for the session lookup")
	default:
		// Better Auth could not be asked: the session may well be good. "Try again" (503), never
		// "sign in" (401) for an outage.
		return c.fail(ReasonSessionUnavailable, "session lookup unavailable: Better Auth did not answer")
	}
}

// uses says which of the cookies a lookup would read: the session-cache cookie, the session
// token.
func (b *Browser) uses(s *Snapshot, cookies sessionCookies) (data, token bool) {
	return b.CookieCache && s.SessionVerifier != nil && cookies.data != "",
		b.Lookup && s.Sessions != nil && cookies.token != ""
}

// sent says whether the cookies carry a session credential this config reads.
func (b *Browser) sent(s *Snapshot, cookies sessionCookies) bool {
	data, token := b.uses(s, cookies)
	return data || token
}

// VerifyReason is the reason a token the verifier refused is denied for.
func VerifyReason(err error) Reason {
	switch {
	case errors.Is(err, jwks.ErrNotReady):
		return ReasonNotReady
	case errors.Is(err, jwks.ErrTimeout):
		return ReasonTimeout
	case errors.Is(err, jwks.ErrKeysUnavailable):
		return ReasonKeysUnavailable
	case errors.Is(err, jwks.ErrKeysStale):
		return ReasonKeysStale
	case errors.Is(err, jwks.ErrUnknownKey):
		return ReasonUnknownKey
	case errors.Is(err, jwks.ErrExpired):
		return ReasonExpired
	default:
		return ReasonInvalidToken
	}
}

// The Authorization header.

var (
	errNoToken       = errors.New("no bearer token")
	errScheme        = errors.New("authorization scheme is not Bearer")
	errEmptyToken    = errors.New("no token after Bearer")
	errSeveralTokens = errors.New("more than one credential in the request")
	errTokenTooLarge = errors.New("token too large")
)

// bearerToken finds the token in a request's Authorization header. errNoToken means there is no
// credential at all (401 without an error code); any other error is an unusable one.
func bearerToken(r *Request, maxBytes int) (string, error) {
	v, n := r.Header("authorization")
	switch {
	case n == 0:
		return "", errNoToken
	case n > 1:
		return "", errSeveralTokens
	}
	return parseBearer(v, maxBytes)
}

// parseBearer parses an Authorization header value: "Bearer" (any case), spaces, one token68.
func parseBearer(v string, maxBytes int) (string, error) {
	if len(v) > maxBytes+64 {
		return "", errTokenTooLarge
	}
	v = strings.Trim(v, " \t")
	if v == "" {
		return "", errNoToken
	}
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "bearer") {
		return "", errScheme
	}
	token := strings.TrimLeft(rest, " ")
	switch {
	case token == "":
		return "", errEmptyToken
	case strings.IndexByte(token, ' ') >= 0 || strings.IndexByte(token, '\t') >= 0 || strings.IndexByte(token, ',') >= 0:
		// Envoy joins repeated Authorization headers with ","; two credentials are refused
		// rather than guessed between. (Three IndexByte scans, vectorized, cost a fraction of
		// one ContainsAny over a token of several hundred bytes.)
		return "", errSeveralTokens
	case len(token) > maxBytes:
		return "", errTokenTooLarge
	}
	return token, nil
}
