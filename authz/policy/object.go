package authz

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/betterauthz/betterauthz/internal/strictyaml"
)

// Keys of per-object policy, the same on Kubernetes objects (annotations) and Envoy routes
// (check_settings.context_extensions).
const (
	KeyPolicy      = "betterauthz.io/policy"
	KeyPublicPaths = "betterauthz.io/public-paths"
	KeyRules       = "betterauthz.io/rules"
	keyPrefix      = "betterauthz.io/"
)

// ObjectPolicy is the policy an Envoy route or a Kubernetes object sets for itself. It is
// consulted in this order: Rules (first match wins), then PublicPaths, then Policy (which
// covers everything else on the object). When none of them is set for a request, the next
// source decides.
type ObjectPolicy struct {
	Rules  []*Rule
	Public *Rule // from betterauthz.io/public-paths; nil if unset
	Policy *Rule // from betterauthz.io/policy; nil if unset
}

// ParseObjectPolicy reads the betterauthz.io/ keys of kv (annotations or context extensions;
// other keys are ignored). source names where they came from, for logs and /debug/routes. It
// returns nil, nil when no betterauthz.io/ key is set. An unknown betterauthz.io/ key is an
// error: a typo must not silently drop a policy.
func ParseObjectPolicy(kv map[string]string, source string) (*ObjectPolicy, error) {
	var op ObjectPolicy
	var errs []error
	seen := false
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		if !strings.HasPrefix(k, keyPrefix) {
			continue
		}
		seen = true
		v := kv[k]
		switch k {
		case KeyPolicy:
			a, err := ParseAction(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, strictyaml.Errorf(k, 0, "%v", err))
				continue
			}
			op.Policy = &Rule{Name: source + " " + k, Source: source, Action: a, Spec: RuleSpec{Policy: a.String()}}
		case KeyPublicPaths:
			r := &Rule{Name: source + " " + k, Source: source, Action: Public, Spec: RuleSpec{Policy: "public"}}
			for i, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				pp, err := compilePath(p)
				if err != nil {
					errs = append(errs, strictyaml.Errorf(fmt.Sprintf("%s[%d]", k, i), 0, "%v", err))
					continue
				}
				r.paths = append(r.paths, pp)
				r.Spec.Paths = append(r.Spec.Paths, p)
			}
			if len(r.paths) == 0 && len(errs) == 0 {
				errs = append(errs, strictyaml.Errorf(k, 0, "lists no paths"))
			}
			op.Public = r
		case KeyRules:
			var specs []RuleSpec
			res := strictyaml.Decode([]byte(v), &specs, k)
			errs = append(errs, res.Errs...)
			if len(res.Errs) > 0 {
				continue
			}
			rules, rerrs := CompileRules(specs, k, source, false, res.Line)
			errs = append(errs, rerrs...)
			for _, r := range rules {
				if r.Spec.Name == "" {
					r.Name = source + " " + r.Name
				}
			}
			op.Rules = rules
		default:
			errs = append(errs, strictyaml.Errorf(k, 0, "unknown key (want %s, %s or %s)", KeyPolicy, KeyPublicPaths, KeyRules))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !seen {
		return nil, nil
	}
	return &op, nil
}

// match returns the object's rule for a request, if the object decides it.
func (op *ObjectPolicy) match(host string, path reqPath, method string) (*Rule, bool) {
	for _, r := range op.Rules {
		if r.matches(host, path, method) {
			return r, true
		}
	}
	if op.Public != nil && op.Public.matches(host, path, method) {
		return op.Public, true
	}
	if op.Policy != nil {
		return op.Policy, true
	}
	return nil, false
}
