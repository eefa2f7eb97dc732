package authz

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
)

// Between steps 3 and 4 of a decision: what Better Auth's plugins say of a verified caller —
// its active organization and its role there (organization plugin), an admin impersonating it
// and a ban (admin plugin), an anonymous user (anonymous plugin). Session credentials carry
// these in Better Auth's own field names; a JWT only through jwt.definePayload, under the
// claim names Organizations gives.

// Organizations names the claims a JWT carries the organization plugin's and admin plugin's
// session fields in (Better Auth's jwt.definePayload adds them; its default payload has none).
type Organizations struct {
	// ActiveOrganizationClaim holds the active organization's id ("activeOrganizationId").
	ActiveOrganizationClaim string
	// RoleClaim holds the caller's role in it, comma-joined; "" when JWTs carry none.
	RoleClaim string
	// ImpersonatedByClaim holds the impersonating admin's id ("impersonatedBy").
	ImpersonatedByClaim string
}

// betterauthz's own names for identity headers (see IssuerClaim): not claims, but what the
// plugins say of the caller, whichever credential it came with.
const (
	OrganizationClaim   = "@organization"     // the active organization's id
	OrganizationRole    = "@organizationRole" // the caller's role in it (comma-joined)
	ImpersonatedByClaim = "@impersonatedBy"   // the impersonating admin's user id
	APIKeyIDClaim       = "@apiKeyId"         // the API key's id (API keys only)
)

// OwnClaims are every name starting with @ that an identity header may carry.
var OwnClaims = []string{IssuerClaim, SubjectKindClaim, OrganizationClaim, OrganizationRole, ImpersonatedByClaim, APIKeyIDClaim}

// MemberRoleLookup asks Better Auth, with a session's token, for a user's role in an
// organization; errors follow package session's sentinels.
type MemberRoleLookup interface {
	MemberRole(ctx context.Context, cookieName, token, organizationID, userID string) (string, error)
}

// facts is what the plugins say of a verified caller.
type facts struct {
	policy.Standing
	impersonator string
	apiKeyID     string
	// banned: user.banned, and banExpires not passed.
	banned bool
	// roleRead: Role is known (read from a claim or asked of Better Auth).
	roleRead bool
}

// readFacts reads what the plugins say of cred from its claims.
func (c *Config) readFacts(cred *credential) {
	cl := cred.claims
	f := facts{}
	switch cred.kind {
	case policy.CredentialSession, policy.CredentialAPIKey:
		f.Organization = stringClaim(cl, "session.activeOrganizationId")
		f.impersonator = stringClaim(cl, "session.impersonatedBy")
	default:
		o := &c.Organizations
		f.Organization = stringClaim(cl, o.ActiveOrganizationClaim)
		f.impersonator = stringClaim(cl, o.ImpersonatedByClaim)
		// Better Auth's session always says (absent: not impersonated); a JWT says only when
		// its payload carries the claim (null: not impersonated).
		f.ImpersonationUnknown = !hasClaim(cl, o.ImpersonatedByClaim)
		f.AnonymityUnknown = !hasClaim(cl, "isAnonymous")
		if o.RoleClaim != "" {
			f.Role, f.roleRead = stringClaim(cl, o.RoleClaim), true
		}
	}
	if cred.kind == policy.CredentialAPIKey {
		// get-session answers a key with a session whose id is the key's. It has no
		// organization; get-active-member-role answers it nothing.
		f.apiKeyID = stringClaim(cl, "session.id")
		f.roleRead = true
	}
	f.Impersonated = f.impersonator != ""
	f.Anonymous = boolClaim(cl, "isAnonymous")
	f.banned = boolClaim(cl, "banned") && banInForce(cl, time.Now())
	cred.facts = f
}

// askRole asks Better Auth for the caller's role in its active organization when a rule or an
// identity header needs it and no claim said it. A caller it cannot be asked for has no role.
func (s *Snapshot) askRole(ctx context.Context, cred *credential, rules []*policy.Rule) {
	f := &cred.facts
	if f.roleRead || f.Organization == "" || cred.sessionToken == "" || cred.subject == "" || s.Roles == nil || !s.Config.needsRole(rules) {
		return
	}
	// The role asked for is the verified subject's: the session token cookie that came along
	// may be another session's (a session-cache cookie authenticated the request), whose user
	// must then be a member of the organization too, or no role is read.
	role, err := s.Roles.MemberRole(ctx, cred.sessionCookie, cred.sessionToken, f.Organization, cred.subject)
	switch {
	case err == nil:
		f.Role, f.roleRead = role, true
	case errors.Is(err, session.ErrNoSession):
		cred.valid = false
		cred.fail(ReasonInvalidToken, "session not found: signed out or expired")
	case errors.Is(err, session.ErrTimeout):
		cred.valid = false
		cred.fail(ReasonTimeout, "timed out waiting for the organization role")
	default:
		cred.valid = false
		cred.fail(ReasonSessionUnavailable, "organization role unavailable: Better Auth did not answer")
	}
}

// needsRole: a rule or an identity header reads the organization role.
func (c *Config) needsRole(rules []*policy.Rule) bool {
	for _, r := range rules {
		if r.NeedsRole() {
			return true
		}
	}
	for _, h := range c.IdentityHeaders {
		if h.Claim == OrganizationRole {
			return true
		}
	}
	return false
}

func stringClaim(c jwks.Claims, path string) string {
	if path == "" {
		return ""
	}
	v, ok := c.Claim(path)
	if !ok {
		return ""
	}
	s, _ := v.String()
	return s
}

func hasClaim(c jwks.Claims, path string) bool {
	if path == "" {
		return false
	}
	_, ok := c.Claim(path)
	return ok
}

func boolClaim(c jwks.Claims, path string) bool {
	v, ok := c.Claim(path)
	return ok && v.Text() == "true"
}

// banInForce reads user.banExpires: absent or null is a ban for good; a date (Better Auth's
// JSON dates are ISO 8601 strings) or a number (seconds, or milliseconds past 1e11) that has
// not passed keeps it. A value it cannot read keeps the ban: fail closed.
func banInForce(c jwks.Claims, now time.Time) bool {
	v, ok := c.Claim("banExpires")
	if !ok || v.Text() == "" {
		return true
	}
	s := v.Text()
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return now.Before(t)
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n > 1e11 {
			n /= 1000
		}
		return float64(now.Unix()) < n
	}
	return true
}
