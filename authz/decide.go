package authz

import (
	"context"
	"strconv"
	"strings"

	"github.com/betterauthz/betterauthz/jwks"

	"github.com/betterauthz/betterauthz/authz/policy"
)

// Decide answers one request. It never fails: every problem is a denial with a reason.
//
// A decision is five steps, in this order, each in a file of its own:
//
//  1. read the request's host and target strictly (read.go);
//  2. find the rules every reading of it must satisfy (rules.go);
//  3. get the credential and verify it (credential.go) — unless the rules decide without one;
//  4. decide: the rules' verdict on the credential (below);
//  5. write the identity headers: set from a valid credential, stripped otherwise (identity.go).
func Decide(ctx context.Context, s *Snapshot, r *Request) Decision {
	if s == nil || s.Config == nil {
		return Decision{Reason: ReasonNotReady, Description: "no config loaded yet"}
	}
	c := s.Config
	d := Decision{Realm: c.Realm}
	if ctx.Err() != nil {
		return d.deny(ReasonTimeout, "deadline passed before the check ran")
	}

	// 1. Read the request.
	rq, err := readRequest(r)
	if err != nil {
		return d.deny(ReasonBadRequest, err.Error())
	}

	// 2. Find the rules.
	var buf [8]*policy.Rule
	rules, set, err := s.findRules(buf[:0], r, &rq)
	if err != nil {
		d = d.deny(ReasonInvalidRoutePolicy, "this route's betterauthz.io/ settings are invalid")
		d.Detail = err.Error()
		return d
	}
	d.Route, d.RouteLabel = set.route, set.label
	dryRun := c.DryRun || set.dryRun

	// 3. Get the credential, unless the rules decide without one: a deny rule (whose dry run
	// still reads it, for the identity headers) or a browser's preflight.
	switch {
	case set.deny != nil:
		d.RouteLabel = set.denyLabel
		d = d.deny(ReasonPolicyDenied, "this route is closed")
	case c.AllowCORSPreflight && r.CORSPreflight():
		d.Reason = ReasonCORSPreflight
	}
	var cred credential
	if d.Reason == "" || dryRun && dryRunnable(d.Reason) {
		cred = s.credential(ctx, r, rq, set.accepts, routeResource{set.resource, set.resourceNamespace})
		d.Credential = cred.source
		if cred.valid {
			c.readFacts(&cred)
			s.askRole(ctx, &cred, rules)
		}
	}

	// 4. Decide.
	if d.Reason == "" {
		d = c.verdict(d, r, &rq, rules, set, cred)
	}
	if !d.Allowed() && set.resource != "" {
		d.ResourceMetadata = c.metadataURL(set.resource)
	}
	if !d.Allowed() && dryRun && dryRunnable(d.Reason) {
		// Allowed, keeping the reason it would have been denied for (the log and the metrics
		// report it).
		d.DryRun = true
		d.Location = ""
	}

	// 5. Write the identity.
	return c.writeIdentity(d, r, cred)
}

// verdict judges the credential against rules none of which denies outright: public lets
// everything through; otherwise a valid credential from a trusted origin is needed, of the
// issuer and with the claims each rule asks for.
func (c *Config) verdict(d Decision, r *Request, rq *reading, rules []*policy.Rule, set ruleSet, cred credential) Decision {
	if !set.authenticated {
		d.Reason = ReasonPublic
		return d
	}
	switch {
	case !cred.sent, !cred.valid && !cred.bearer && signInReason(cred.reason):
		if loc, ok := c.Browser.signInRedirect(r, rq.host, rq.authority, rq.target); ok {
			d = d.deny(ReasonSignIn, "sign in")
			d.Location = loc
			return d
		}
		if !cred.sent {
			return d.deny(ReasonMissingToken, c.missingDescription())
		}
		return d.deny(cred.reason, cred.description)
	case !cred.valid:
		return d.denyCredential(cred)
	case cred.crossSite:
		return d.deny(ReasonUntrustedOrigin, "a cookie-authenticated "+r.Method+" must come from a trusted origin (Origin or Referer)")
	}
	d.Subject = cred.subject
	if cred.facts.banned {
		return d.deny(ReasonBanned, "this user is banned")
	}
	for _, rule := range rules {
		if rule.Action != policy.Authenticated {
			continue
		}
		if reason, description, ok := c.resourceHolds(rule, cred); !ok {
			d.RouteLabel = rule.Label()
			return d.deny(reason, description)
		}
		if want := rule.Spec.Issuer; want != "" && want != cred.issuer {
			d.RouteLabel = rule.Label()
			return d.deny(ReasonInsufficientClaims, "this route takes tokens of issuer "+strconv.Quote(want)+" only")
		}
		if want := rule.Spec.SubjectKind; want != "" && want != cred.subjectKind {
			d.RouteLabel = rule.Label()
			return d.deny(ReasonInsufficientClaims, "this route takes credentials of a "+want+" only")
		}
		if description, missing := rule.MissingClaim(cred.claims); missing {
			d.RouteLabel = rule.Label()
			return d.deny(ReasonInsufficientClaims, description)
		}
		if description, unmet := rule.Unmet(cred.facts.Standing); unmet {
			d.RouteLabel = rule.Label()
			return d.deny(ReasonInsufficientClaims, description)
		}
	}
	// Every missing scope of every rule, so that a client asks for all of them at once.
	var missing []string
	// Scopes are an access token's: any other credential's "scope" field is the user's data.
	var granted string
	if cred.kind == policy.CredentialAccessToken {
		granted = cred.claims.StringClaim("scope")
	}
	for _, rule := range rules {
		if rule.Action != policy.Authenticated {
			continue
		}
		before := len(missing)
		if missing = rule.MissingScopes(missing, granted); len(missing) > before {
			d.RouteLabel = rule.Label()
		}
	}
	if len(missing) > 0 {
		d = d.deny(ReasonInsufficientScope, "access token is missing required scope: "+strings.Join(missing, " "))
		d.Scope = strings.Join(missing, " ")
		return d
	}
	d.Reason = ReasonAllowed
	return d
}

// resourceHolds checks that an access token is for the rule's resource (its aud names it, and
// for a resource the config describes, its issuer is the resource's). An
// access token is only ever accepted for a named resource: a rule without one takes none.
func (c *Config) resourceHolds(rule *policy.Rule, cred credential) (Reason, string, bool) {
	if cred.kind != policy.CredentialAccessToken {
		return "", "", true
	}
	if rule.Spec.Resource == "" || !audienceNames(cred.claims, rule.Spec.Resource) {
		return ReasonWrongResource, "access token is not for this resource (aud)", false
	}
	if r := c.Resources[rule.Spec.Resource]; r != nil && r.IssuerName != "" && r.IssuerName != cred.issuer {
		// Another Better Auth's OAuth provider (a staging one) may issue tokens naming the same
		// resource: only the resource's own issuer speaks for it.
		return ReasonWrongResource, "access token is not from this resource's issuer", false
	}
	return "", "", true
}

// audienceNames reports whether the aud claim (a string or a list of strings) names resource.
func audienceNames(c jwks.Claims, resource string) bool {
	v, ok := c.Claim("aud")
	if !ok {
		return false
	}
	found := false
	switch v.Kind() {
	case jwks.KindString:
		found = v.Text() == resource
	case jwks.KindArray:
		v.Elements(func(e jwks.Value) bool {
			if e.Kind() == jwks.KindString && e.Text() == resource {
				found = true
				return false
			}
			return true
		})
	}
	return found
}

// signInReason: a cookie that failed for one of these reasons is no session at all, and a
// browser is better sent to sign in; an outage (503) is not a reason to sign in again.
func signInReason(r Reason) bool {
	return r == ReasonInvalidToken || r == ReasonExpired || r == ReasonUnknownKey
}

func (c *Config) missingDescription() string {
	if c.Browser.enabled() {
		return "a bearer token or a session cookie is required"
	}
	return "a bearer token is required"
}

// dryRunnable: the denials a dry run lets through — every one a rule or a credential causes.
// A request betterauthz cannot read (400) or a bug (500) stays refused.
func dryRunnable(r Reason) bool {
	return r != ReasonBadRequest && r != ReasonInvalidRoutePolicy && r != ReasonInternal
}

func (d Decision) deny(reason Reason, description string) Decision {
	d.Reason = reason
	d.Description = description
	d.Set, d.Remove, d.ResponseHeaders = nil, nil, nil
	return d
}
