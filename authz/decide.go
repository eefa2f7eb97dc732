package authz

import (
	"context"
	"errors"

	"github.com/betterauthz/betterauthz/jwks"
)

// maxIdentityValue bounds an identity header's value: a claim such as a data-URL avatar must not
// push Envoy past its header limits.
const maxIdentityValue = 4096

// Decide answers one request. It never fails: every problem is a denial with a reason.
func Decide(ctx context.Context, s *Snapshot, r *Request) Decision {
	p := s.Policy
	if p == nil {
		return Decision{Reason: ReasonNotReady, Description: "no config loaded yet"}
	}
	d := Decision{Realm: p.Realm}
	if ctx.Err() != nil {
		return d.deny(ReasonTimeout, "deadline passed before the check ran")
	}
	rawHost, target, err := requestTarget(r.Host, r.Path)
	if err != nil {
		return d.deny(ReasonBadRequest, err.Error())
	}
	host, err := normalizeHost(rawHost)
	if err != nil {
		return d.deny(ReasonBadRequest, err.Error())
	}
	rd, err := normalizePath(target)
	if err != nil {
		return d.deny(ReasonBadRequest, err.Error())
	}
	op, err := p.extensionPolicy(r.ContextExtensions)
	if err != nil {
		d = d.deny(ReasonInvalidRoutePolicy, "this route's betterauthz.io/ settings are invalid")
		d.Detail = err.Error()
		return d
	}
	// The backend may read the path in more than one way — encoded separators decoded or not,
	// a leading "//" as a host or not, upper and lower case told apart or not — and every
	// reading's rules must allow it.
	var buf [8]*Rule
	var segBuf, foldBuf [16]string
	var pathBuf [4]string
	rules := buf[:0]
	for _, path := range rd.all(&pathBuf) {
		sp := splitPath(path, segBuf[:])
		rules = s.rulesFor(rules, op, host, sp, r.Method, r.DestinationNamespace)
		rules = s.rulesFor(rules, op, host, sp.folded(foldBuf[:]), r.Method, r.DestinationNamespace)
	}
	d.Route = rules[0].Name
	for _, rule := range rules[1:] {
		d.Route += "+" + rule.Name
	}
	action := Public
	for _, rule := range rules {
		switch {
		case rule.Action == Deny:
			return d.deny(ReasonPolicyDenied, "this route is closed")
		case rule.Action == Authenticated:
			action = Authenticated
		}
	}

	if p.AllowCORSPreflight && r.CORSPreflight() {
		d.Reason = ReasonCORSPreflight
		d.Remove = p.identityNames()
		return d
	}

	token, err := bearerToken(r, p.MaxTokenBytes)
	if action == Public {
		d.Reason = ReasonPublic
		if err == nil {
			if claims, verr := s.Verifier.Verify(ctx, token); verr == nil {
				d.Subject = claims.Subject()
				d.Set, d.Remove = p.identity(claims)
				return d
			}
		}
		// No valid identity: strip every identity header so a client cannot supply its own.
		d.Remove = p.identityNames()
		return d
	}

	switch {
	case errors.Is(err, errNoToken):
		return d.deny(ReasonMissingToken, "a bearer token is required")
	case err != nil:
		return d.deny(ReasonInvalidToken, err.Error())
	}
	claims, err := s.Verifier.Verify(ctx, token)
	if err != nil {
		return d.deny(verifyReason(err), jwks.Describe(err))
	}
	d.Subject = claims.Subject()
	for _, rule := range rules {
		if req, missing := rule.missingClaim(claims); missing {
			return d.deny(ReasonInsufficientClaims, req.describe())
		}
	}
	d.Reason = ReasonAllowed
	d.Set, d.Remove = p.identity(claims)
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

// identity computes identity headers from verified claims: each configured header whose claim
// renders to a usable value is set, every other one is removed. A header is never in both lists.
func (p *Policy) identity(c jwks.Claims) (set []Header, remove []string) {
	for _, h := range p.IdentityHeaders {
		if v, ok := c.Lookup(h.Claim); ok {
			if s, ok := jwks.String(v); ok && validHeaderValue(s) {
				set = append(set, Header{Name: h.Name, Value: s})
				continue
			}
		}
		remove = append(remove, h.Name)
	}
	return set, remove
}

func (p *Policy) identityNames() []string {
	names := make([]string, len(p.IdentityHeaders))
	for i, h := range p.IdentityHeaders {
		names[i] = h.Name
	}
	return names
}

// validHeaderValue refuses values Envoy would reject or that could split a header: control
// characters (other than tab), and oversize values. UTF-8 passes through.
func validHeaderValue(s string) bool {
	if s == "" || len(s) > maxIdentityValue {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
