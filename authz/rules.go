package authz

import "github.com/betterauthz/betterauthz/authz/policy"

// Step 2 of a decision: find the rules a request must satisfy. Every reading of its path must
// satisfy its rules — the backend may read the path in more than one way: encoded separators
// decoded or not, a leading "//" as a host or not, upper and lower case told apart or not — so
// the rules of every reading are gathered, each once. The rules themselves (patterns, claims,
// object rules, the route index) are package policy's; which source decides is here.

// findRules appends to dst the rules of every reading of the request. It fails when the
// request's context_extensions hold an invalid policy.
func (s *Snapshot) findRules(dst []*policy.Rule, r *Request, rq reading) ([]*policy.Rule, error) {
	c := s.Config
	route, err := c.extensions.Rules(r.ContextExtensions, policy.Limits{RefuseDryRun: c.AnnotationsOnlyTighten, Issuers: c.IssuerNames})
	if err != nil {
		return nil, err
	}
	var segBuf, foldBuf [16]string
	var pathBuf [4]string
	rules := dst
	for _, path := range rq.paths.all(&pathBuf) {
		asSent, folded := policy.Readings(path, segBuf[:], foldBuf[:])
		rules = s.rulesFor(rules, route, rq.host, asSent, r.Method, r.DestinationNamespace)
		rules = s.rulesFor(rules, route, rq.host, folded, r.Method, r.DestinationNamespace)
	}
	return rules, nil
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
			return policy.AppendRule(dst, r)
		}
	}
	if s.Objects != nil {
		var configToo bool
		dst, configToo = s.Objects.Lookup(dst, host, p, method, destNS)
		if !configToo && !s.Config.AnnotationsOnlyTighten {
			return dst
		}
	}
	return policy.AppendRule(dst, s.Config.Routes.Match(host, p, method))
}
