package authz

import "github.com/betterauthz/betterauthz/authz/policy"

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
func (l *Live) rulesFor(dst []*policy.Rule, route *policy.ObjectRules, host string, p policy.Path, method, destNS string) []*policy.Rule {
	if route != nil {
		if r, ok := route.Match(host, p, method); ok {
			return policy.AppendRule(dst, r)
		}
	}
	if l.Objects != nil {
		var configToo bool
		dst, configToo = l.Objects.Lookup(dst, host, p, method, destNS)
		if !configToo && !l.Config.AnnotationsOnlyTighten {
			return dst
		}
	}
	return policy.AppendRule(dst, l.Config.Routes.Match(host, p, method))
}
