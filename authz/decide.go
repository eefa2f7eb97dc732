package authz

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// Decide answers one request. It never fails: every problem is a denial with a reason.
func Decide(ctx context.Context, l *Live, r *Request) Decision {
	d := decide(ctx, l, r)
	if d.Allowed() {
		d.Underscored = l.Config.underscoreNames()
	}
	return d
}

func decide(ctx context.Context, l *Live, r *Request) Decision {
	if l == nil || l.Config == nil {
		return Decision{Reason: ReasonNotReady, Description: "no config loaded yet"}
	}
	c := l.Config
	d := Decision{Realm: c.Realm}
	if ctx.Err() != nil {
		return d.deny(ReasonTimeout, "deadline passed before the check ran")
	}
	var buf [8]*policy.Rule
	var rq readRequest
	rules, d, ok := l.rules(buf[:0], r, d, &rq)
	if !ok {
		return d
	}
	d = l.decideRules(ctx, r, d, rq, rules)
	if !d.Allowed() && dryRunnable(d.Reason) && (c.DryRun || allDryRun(rules)) {
		return l.dryRun(ctx, r, d, rq)
	}
	return d
}

// decideRules answers a request the rules apply to.
func (l *Live) decideRules(ctx context.Context, r *Request, d Decision, rq readRequest, rules []*policy.Rule) Decision {
	c := l.Config
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
		_, names := r.identityBuffers()
		d.Remove = c.identityNames(names)
		return d
	}
	return l.authenticate(ctx, r, d, rq, rules, action)
}

// allDryRun reports whether every rule that decided is a dry run.
func allDryRun(rules []*policy.Rule) bool {
	for _, r := range rules {
		if !r.DryRun() {
			return false
		}
	}
	return len(rules) > 0
}

// dryRunnable: the denials a dry run lets through — every one a rule or a credential causes.
// A request betterauthz cannot read (400) or a bug (500) stays refused.
func dryRunnable(r Reason) bool {
	return r != ReasonBadRequest && r != ReasonInvalidRoutePolicy && r != ReasonInternal
}

// dryRun lets a denied request through, keeping the reason it was denied for (the log and the
// metrics report it). Identity headers follow the credential alone: a valid one sets them (as
// on a public route), anything else strips them, so that a dry run never lets a client's own
// x-user-id through.
func (l *Live) dryRun(ctx context.Context, r *Request, d Decision, rq readRequest) Decision {
	c := l.Config
	d.DryRun = true
	d.Location = ""
	// The credential again (a deny rule decides before reading it): a verified token or a
	// session comes from the caches.
	cred := l.credential(ctx, r)
	d.Credential = cred.source
	csrf := !cred.bearer && !safeMethod(r.Method) && !c.Sessions.originTrusted(r, rq.host)
	set, names := r.identityBuffers()
	if cred.valid() && !csrf {
		d.Subject = cred.claims.Subject()
		d.Set, d.Remove = c.identity(cred.claims, cred.issuer, set, names)
		d.ResponseHeaders = setCookies(cred.setCookie)
		return d
	}
	d.Subject = ""
	d.Set, d.ResponseHeaders = nil, nil
	d.Remove = c.identityNames(names)
	return d
}

// readRequest is the request's host and target as rules read them.
type readRequest struct {
	host      string // normalized
	authority string // the host as sent, with its port (of an absolute-form target, its own)
	target    string // the path and query as sent (of an absolute-form target, its path part)
}

// rules reads the request's host and path and collects the rules every reading of it must
// satisfy (see precedence.go). ok is false when the request is refused before any rule applies.
func (l *Live) rules(dst []*policy.Rule, r *Request, d Decision, rq *readRequest) (_ []*policy.Rule, _ Decision, ok bool) {
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
	rq.host, rq.authority, rq.target = host, rawHost, target
	route, err := l.Config.extensions.Rules(r.ContextExtensions, policy.Limits{RefuseDryRun: l.Config.AnnotationsOnlyTighten, Issuers: l.Config.IssuerNames})
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
	d.Route = routeName(rules)
	d.RouteLabel = rules[0].Label()
	return rules, d, true
}

// maxRouteName bounds Decision.Route: many objects tied on one path all apply, and their names
// are logged with the decision.
const maxRouteName = 512

// routeName names the rules that decide, joined with "+" (cut at maxRouteName bytes).
func routeName(rules []*policy.Rule) string {
	if len(rules) == 1 {
		return rules[0].Name
	}
	var b strings.Builder
	for i, rule := range rules {
		if i > 0 {
			b.WriteByte('+')
		}
		if b.Len()+len(rule.Name) > maxRouteName {
			b.WriteString("…")
			break
		}
		b.WriteString(rule.Name)
	}
	return b.String()
}

// authenticate verifies the request's credential against what its rules ask.
func (l *Live) authenticate(ctx context.Context, r *Request, d Decision, rq readRequest, rules []*policy.Rule, action policy.Action) Decision {
	c := l.Config
	cred := l.credential(ctx, r)
	d.Credential = cred.source
	// A cookie rides along with requests other sites' pages make: an unsafe request it
	// authenticates must come from a trusted origin (CSRF). Bearer tokens are not sent by
	// browsers on their own, and are exempt.
	csrf := cred.valid() && !cred.bearer && !safeMethod(r.Method) && !c.Sessions.originTrusted(r, rq.host)
	set, names := r.identityBuffers()
	if action == policy.Public {
		d.Reason = ReasonPublic
		if cred.valid() && !csrf {
			d.Subject = cred.claims.Subject()
			d.Set, d.Remove = c.identity(cred.claims, cred.issuer, set, names)
			d.ResponseHeaders = setCookies(cred.setCookie)
			return d
		}
		// No valid identity: strip every identity header so a client cannot supply its own.
		d.Remove = c.identityNames(names)
		return d
	}
	switch {
	case !cred.sent, !cred.valid() && !cred.bearer && signInReason(cred.reason):
		if loc, ok := c.Sessions.signInRedirect(r, rq.host, rq.authority, rq.target); ok {
			d = d.deny(ReasonSignIn, "sign in")
			d.Location = loc
			return d
		}
		if !cred.sent {
			return d.deny(ReasonMissingToken, c.missingDescription())
		}
		return d.deny(cred.reason, cred.description)
	case !cred.valid():
		return d.deny(cred.reason, cred.description)
	case csrf:
		return d.deny(ReasonUntrustedOrigin, "a cookie-authenticated "+r.Method+" must come from a trusted origin (Origin or Referer)")
	}
	d.Subject = cred.claims.Subject()
	for _, rule := range rules {
		if want := rule.Spec.Issuer; want != "" && want != cred.issuer {
			d.RouteLabel = rule.Label()
			return d.deny(ReasonInsufficientClaims, "this route takes tokens of issuer "+strconv.Quote(want)+" only")
		}
		if description, missing := rule.MissingClaim(cred.claims); missing {
			d.RouteLabel = rule.Label()
			return d.deny(ReasonInsufficientClaims, description)
		}
	}
	d.Reason = ReasonAllowed
	d.Set, d.Remove = c.identity(cred.claims, cred.issuer, set, names)
	d.ResponseHeaders = setCookies(cred.setCookie)
	return d
}

// signInReason: a cookie that failed for one of these reasons is no session at all, and a
// browser is better sent to sign in; an outage (503) is not a reason to sign in again.
func signInReason(r Reason) bool {
	return r == ReasonInvalidToken || r == ReasonExpired || r == ReasonUnknownKey
}

func (c *Config) missingDescription() string {
	if c.Sessions.enabled() {
		return "a bearer token or a session cookie is required"
	}
	return "a bearer token is required"
}

func setCookies(cookies []string) []Header {
	if len(cookies) == 0 {
		return nil
	}
	out := make([]Header, len(cookies))
	for i, v := range cookies {
		out[i] = Header{Name: "set-cookie", Value: v}
	}
	return out
}

func (d Decision) deny(reason Reason, description string) Decision {
	d.Reason = reason
	d.Description = description
	d.Set, d.Remove, d.ResponseHeaders = nil, nil, nil
	return d
}

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
