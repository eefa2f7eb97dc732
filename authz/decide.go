package authz

import (
	"context"
	"errors"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// Decide answers one request. It never fails: every problem is a denial with a reason.
func Decide(ctx context.Context, l *Live, r *Request) Decision {
	if l == nil || l.Config == nil {
		return Decision{Reason: ReasonNotReady, Description: "no config loaded yet"}
	}
	c := l.Config
	d := Decision{Realm: c.Realm}
	if ctx.Err() != nil {
		return d.deny(ReasonTimeout, "deadline passed before the check ran")
	}
	var buf [8]*policy.Rule
	rules, d, ok := l.rules(buf[:0], r, d)
	if !ok {
		return d
	}
	action := policy.Public
	for _, rule := range rules {
		switch rule.Action {
		case policy.Deny:
			d.RouteLabel = rule.Label()
			return d.deny(ReasonPolicyDenied, "this route is closed")
		case policy.Authenticated:
			action = policy.Authenticated
		}
	}
	if c.AllowCORSPreflight && r.CORSPreflight() {
		d.Reason = ReasonCORSPreflight
		d.Remove = c.identityNames()
		return d
	}
	return l.authenticate(ctx, r, d, rules, action)
}

// rules reads the request's host and path and collects the rules every reading of it must
// satisfy (see precedence.go). ok is false when the request is refused before any rule applies.
func (l *Live) rules(dst []*policy.Rule, r *Request, d Decision) (_ []*policy.Rule, _ Decision, ok bool) {
	rawHost, target, err := requestTarget(r.Host, r.Path)
	if err != nil {
		return nil, d.deny(ReasonBadRequest, err.Error()), false
	}
	host, err := normalizeHost(rawHost)
	if err != nil {
		return nil, d.deny(ReasonBadRequest, err.Error()), false
	}
	rd, err := normalizePath(target)
	if err != nil {
		return nil, d.deny(ReasonBadRequest, err.Error()), false
	}
	route, err := l.Config.extensions.Rules(r.ContextExtensions)
	if err != nil {
		d = d.deny(ReasonInvalidRoutePolicy, "this route's betterauthz.io/ settings are invalid")
		d.Detail = err.Error()
		return nil, d, false
	}
	// The backend may read the path in more than one way — encoded separators decoded or not,
	// a leading "//" as a host or not, upper and lower case told apart or not — and every
	// reading's rules must allow it.
	var segBuf, foldBuf [16]string
	var pathBuf [4]string
	rules := dst
	for _, path := range rd.all(&pathBuf) {
		sp := policy.SplitPath(path, segBuf[:])
		rules = l.rulesFor(rules, route, host, sp, r.Method, r.DestinationNamespace)
		rules = l.rulesFor(rules, route, host, sp.Folded(foldBuf[:]), r.Method, r.DestinationNamespace)
	}
	d.Route = rules[0].Name
	for _, rule := range rules[1:] {
		d.Route += "+" + rule.Name
	}
	d.RouteLabel = rules[0].Label()
	return rules, d, true
}

// authenticate verifies the request's credential against what its rules ask.
func (l *Live) authenticate(ctx context.Context, r *Request, d Decision, rules []*policy.Rule, action policy.Action) Decision {
	c := l.Config
	token, err := bearerToken(r, jwks.DefaultMaxTokenBytes)
	if action == policy.Public {
		d.Reason = ReasonPublic
		if err == nil {
			if claims, verr := l.Verifier.Verify(ctx, token); verr == nil {
				d.Subject = claims.Subject()
				d.Set, d.Remove = c.identity(claims)
				return d
			}
		}
		// No valid identity: strip every identity header so a client cannot supply its own.
		d.Remove = c.identityNames()
		return d
	}
	switch {
	case errors.Is(err, errNoToken):
		return d.deny(ReasonMissingToken, "a bearer token is required")
	case err != nil:
		return d.deny(ReasonInvalidToken, err.Error())
	}
	claims, err := l.Verifier.Verify(ctx, token)
	if err != nil {
		return d.deny(verifyReason(err), jwks.Describe(err))
	}
	d.Subject = claims.Subject()
	for _, rule := range rules {
		if description, missing := rule.MissingClaim(claims); missing {
			d.RouteLabel = rule.Label()
			return d.deny(ReasonInsufficientClaims, description)
		}
	}
	d.Reason = ReasonAllowed
	d.Set, d.Remove = c.identity(claims)
	return d
}

func (d Decision) deny(reason Reason, description string) Decision {
	d.Reason = reason
	d.Description = description
	d.Set, d.Remove = nil, nil
	return d
}

func verifyReason(err error) Reason {
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
