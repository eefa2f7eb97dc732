package authz

import (
	"slices"
	"strings"

	"github.com/betterauthz/betterauthz/authz/policy"
)

// Step 2 of a decision: find the rules a request must satisfy. Every reading of its path must
// satisfy its rules — the backend may read the path in more than one way: encoded separators
// decoded or not, a leading "//" as a host or not, upper and lower case told apart or not — so
// the rules of every reading are gathered, each once. The rules themselves (patterns, claims,
// object rules, the route index) are package policy's; which source decides is here.

// ruleSet is what the rules of every reading of a request say before any credential is read.
type ruleSet struct {
	// route and label name the rules that decided: for logs ("a+b" when a path was read two
	// ways; cut at maxRouteName bytes) and, from a bounded set, for metrics.
	route, label string
	// deny is the first rule that closes the route (nil: none), denyLabel its metric label.
	deny      *policy.Rule
	denyLabel string
	// authenticated: some rule asks for a credential (none: the route is public).
	authenticated bool
	// accepts: the kinds of credential every authenticated rule takes.
	accepts policy.Credentials
	// dryRun: every rule is a dry run.
	dryRun bool
	// resource: the OAuth resource the first authenticated rule naming one names ("": none),
	// and the namespace of the object that wrote that rule ("": the config or
	// context_extensions).
	resource, resourceNamespace string
}

// findRules gathers, into dst's memory, the rules of every reading of the request, each once,
// and what they say. It fails when the request's context_extensions hold an invalid policy.
func (s *Snapshot) findRules(dst []*policy.Rule, r *Request, rq *reading) ([]*policy.Rule, ruleSet, error) {
	c := s.Config
	route, err := c.extensions.Rules(r.ContextExtensions, policy.Limits{RefuseDryRun: c.AnnotationsOnlyTighten, Issuers: c.IssuerNames})
	if err != nil {
		return nil, ruleSet{}, err
	}
	var segBuf, foldBuf [16]string
	rules := dst
	for _, path := range rq.paths[:rq.npaths] {
		asSent, folded := policy.Readings(path, segBuf[:], foldBuf[:])
		rules = s.rulesFor(rules, route, rq.host, asSent, r.Method, r.DestinationNamespace)
		rules = s.rulesFor(rules, route, rq.host, folded, r.Method, r.DestinationNamespace)
	}
	set := ruleSet{route: routeName(rules), label: rules[0].Label(), dryRun: true, accepts: ^policy.Credentials(0)}
	for _, rule := range rules {
		switch rule.Action {
		case policy.Deny:
			if set.deny == nil {
				set.deny, set.denyLabel = rule, rule.Label()
			}
		case policy.Authenticated:
			set.authenticated = true
			set.accepts &= rule.Credentials()
			if set.resource == "" {
				set.resource, set.resourceNamespace = rule.Spec.Resource, rule.Namespace
			}
		}
		set.dryRun = set.dryRun && rule.Spec.DryRun
	}
	if !set.authenticated {
		// A public route reads a credential only for the identity headers: of the kinds that
		// cost nothing at Better Auth.
		set.accepts = policy.DefaultCredentials
	}
	return rules, set, nil
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

// appendOnce appends r to rules unless it is there already: a rule that decides for several
// readings is one rule.
func appendOnce(rules []*policy.Rule, r *policy.Rule) []*policy.Rule {
	if slices.Contains(rules, r) {
		return rules
	}
	return append(rules, r)
}

// rulesFor appends the rules a request must satisfy for one reading of its path, from the
// most specific source to the least:
//
//  1. the Envoy route's context_extensions (route);
//  2. the annotations of the Kubernetes objects that serve the request;
//  3. the config's routes, first match;
//  4. the config's defaultPolicy.
//
// The first source with an opinion decides alone — except that with annotations.allowPublic
// off, objects' rules are added to the config's, so that annotations can only tighten.
func (s *Snapshot) rulesFor(dst []*policy.Rule, route *policy.ObjectRules, host string, p policy.Path, method, destNS string) []*policy.Rule {
	if route != nil {
		if r, ok := route.Match(host, p, method); ok {
			return appendOnce(dst, r)
		}
	}
	if s.Objects != nil {
		var configToo bool
		dst, configToo = s.Objects.Lookup(dst, host, p, method, destNS)
		if !configToo && !s.Config.AnnotationsOnlyTighten {
			return dst
		}
	}
	return appendOnce(dst, s.Config.Routes.Match(host, p, method))
}
