package authz

import (
	"context"
	"errors"

	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
)

// credential is who the request says it comes from, and whether that holds.
type credential struct {
	// sent: the request carries a credential at all (else: sign in).
	sent bool
	// bearer: it came in the Authorization header (else from a cookie).
	bearer bool
	// source names where the credential decided came from (Credential* constants).
	source string
	// issuer names the issuer the credential is of (config issuers[].name), when valid.
	issuer string
	// claims, when the credential is valid.
	claims jwks.Claims
	// setCookie: session-cache cookies Better Auth refreshed during a lookup, for the browser.
	setCookie []string
	// reason and description say why it is not valid.
	reason      Reason
	description string
}

// Where a decision's credential came from, as Decision.Credential names it.
const (
	CredentialBearer        = "bearer"         // the Authorization header
	CredentialSessionCookie = "session_cookie" // the session-cache cookie JWT
	CredentialSessionToken  = "session_token"  // the session token cookie, through get-session
)

func (c *credential) valid() bool { return !c.claims.IsZero() }

func (c *credential) fail(reason Reason, description string) credential {
	c.reason, c.description = reason, description
	return *c
}

// credential finds and verifies the request's credential, in order: the Authorization header
// (it decides alone — valid wins, invalid is invalid, whatever cookies come along); the
// session-cache cookie JWT; the session token cookie, resolved through Better Auth. An expired
// session-cache cookie falls back to the session token when lookups are on.
func (l *Live) credential(ctx context.Context, r *Request) credential {
	token, err := bearerToken(r, jwks.DefaultMaxTokenBytes)
	if !errors.Is(err, errNoToken) {
		c := credential{sent: true, bearer: true, source: CredentialBearer}
		if err != nil {
			return c.fail(ReasonInvalidToken, err.Error())
		}
		claims, err := l.Verifier.Verify(ctx, token)
		if err != nil {
			return c.fail(VerifyReason(err), jwks.Describe(err))
		}
		c.claims, c.issuer = claims, l.Config.Issuers[claims.StringClaim("iss")]
		return c
	}
	s := &l.Config.Sessions
	if !s.enabled() {
		return credential{}
	}
	cookies, err := s.readCookies(r)
	if err != nil {
		c := credential{sent: true}
		return c.fail(ReasonInvalidToken, err.Error())
	}
	useData := s.CookieCache && l.SessionVerifier != nil && cookies.data != ""
	useToken := s.Lookup && l.Sessions != nil && cookies.token != ""
	c := credential{sent: useData || useToken, issuer: s.Issuer}
	if useData {
		c.source = CredentialSessionCookie
		claims, err := l.SessionVerifier.Verify(ctx, cookies.data)
		if err == nil {
			c.claims = claims
			return c
		}
		if !errors.Is(err, jwks.ErrExpired) || !useToken {
			return c.fail(VerifyReason(err), "session cookie: "+jwks.Describe(err))
		}
	}
	if useToken {
		return l.lookup(ctx, c, cookies)
	}
	return c
}

// lookup resolves the session token cookie.
func (l *Live) lookup(ctx context.Context, c credential, cookies sessionCookies) credential {
	c.source = CredentialSessionToken
	sess, err := l.Sessions.Lookup(ctx, cookies.tokenName, cookies.token)
	switch {
	case err == nil:
		c.claims, c.setCookie = sess.Claims, sess.SetCookie
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
