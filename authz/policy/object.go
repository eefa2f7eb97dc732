package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Keys of per-object policy, the same on Kubernetes objects (annotations) and Envoy routes
// (check_settings.context_extensions).
const (
	KeyPolicy      = "betterauthz.io/policy"
	KeyPublicPaths = "betterauthz.io/public-paths"
	KeyRules       = "betterauthz.io/rules"
	KeyDryRun      = "betterauthz.io/dry-run"
	KeyPrefix      = "betterauthz.io/"
)

// ObjectRules are the rules an Envoy route or a Kubernetes object sets for itself. They are
// consulted in this order: Rules (first match wins), then PublicPaths, then Default (which
// covers everything else on the object). When none of them applies to a request, the next
// source decides.
type ObjectRules struct {
	Rules       []*Rule // from betterauthz.io/rules
	PublicPaths *Rule   // from betterauthz.io/public-paths; nil if unset
	Default     *Rule   // from betterauthz.io/policy; nil if unset
}

// SetNamespace records, in every rule, the namespace of the object that wrote them.
func (op *ObjectRules) SetNamespace(ns string) {
	for _, r := range op.Rules {
		r.Namespace = ns
	}
	for _, r := range []*Rule{op.PublicPaths, op.Default} {
		if r != nil {
			r.Namespace = ns
		}
	}
}

// ParseObjectRules reads the betterauthz.io/ keys of kv (annotations or context extensions;
// other keys are ignored). source names where they came from, for logs and /debug/routes. It
// returns nil, nil when no betterauthz.io/ key is set. An unknown betterauthz.io/ key is an
// error: a typo must not silently drop a policy.
func ParseObjectRules(kv map[string]string, source string) (*ObjectRules, error) {
	if n := PolicyBytes(kv); n > MaxPolicyBytes {
		return nil, Errorf(KeyPrefix, 0, "its betterauthz.io/ keys and values are %d bytes, more than %d", n, MaxPolicyBytes)
	}
	var op ObjectRules
	var errs []error
	seen, dryRun := false, false
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		if !strings.HasPrefix(k, KeyPrefix) {
			continue
		}
		seen = true
		v := kv[k]
		switch k {
		case KeyPolicy:
			a, err := ParseAction(strings.TrimSpace(v))
			if err != nil {
				errs = append(errs, Errorf(k, 0, "%v", err))
				continue
			}
			op.Default = &Rule{Name: source + " " + k, Source: source, Action: a, Spec: RuleSpec{Policy: a.String()}}
		case KeyPublicPaths:
			var perrs []error
			op.PublicPaths, perrs = publicPaths(v, source)
			errs = append(errs, perrs...)
		case KeyDryRun:
			switch strings.TrimSpace(v) {
			case "true":
				dryRun = true
			case "false":
			default:
				errs = append(errs, Errorf(k, 0, "%q is not true or false", v))
			}
		case KeyRules:
			var rerrs []error
			op.Rules, rerrs = objectRules(v, source)
			errs = append(errs, rerrs...)
		default:
			errs = append(errs, Errorf(k, 0, "unknown key (want %s, %s, %s or %s)", KeyPolicy, KeyPublicPaths, KeyRules, KeyDryRun))
		}
	}
	if n := op.pathCount(); n > MaxObjectPaths && len(errs) == 0 {
		errs = append(errs, Errorf(KeyPrefix, 0, "its rules and public paths list %d path patterns, more than %d", n, MaxObjectPaths))
	}
	if n := op.segmentCount(); n > MaxObjectPathSegments && len(errs) == 0 {
		errs = append(errs, Errorf(KeyPrefix, 0, "its path patterns have %d segments in all, more than %d", n, MaxObjectPathSegments))
	}
	if n := op.claimValueCount(); n > MaxObjectClaimValues && len(errs) == 0 {
		errs = append(errs, Errorf(KeyPrefix, 0, "its rules' claims list %d values, more than %d", n, MaxObjectClaimValues))
	}
	if err := errors.Join(capProblems(errs)...); err != nil {
		return nil, err
	}
	if !seen {
		return nil, nil
	}
	if dryRun {
		for _, r := range op.all() {
			r.Spec.DryRun = true
		}
	}
	return &op, nil
}

// publicPaths reads betterauthz.io/public-paths: comma-separated path patterns.
func publicPaths(v, source string) (*Rule, []error) {
	var errs []error
	k := KeyPublicPaths
	r := &Rule{Name: source + " " + k, Source: source, Action: Public, Spec: RuleSpec{Policy: "public"}}
	for i, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		pp, err := compilePath(p)
		if err != nil {
			errs = append(errs, Errorf(fmt.Sprintf("%s[%d]", k, i), 0, "%v", err))
			continue
		}
		r.paths = append(r.paths, pp)
		r.Spec.Paths = append(r.Spec.Paths, p)
	}
	if len(r.paths) == 0 && len(errs) == 0 {
		errs = append(errs, Errorf(k, 0, "lists no paths"))
	}
	return r, errs
}

// objectRules reads betterauthz.io/rules: a YAML list of rules, without anchors or aliases.
func objectRules(v, source string) ([]*Rule, []error) {
	k := KeyRules
	var specs []RuleSpec
	res := DecodeUntrusted([]byte(v), &specs, k)
	if len(res.Errs) > 0 {
		return nil, res.Errs
	}
	if len(specs) > MaxObjectRules {
		return nil, []error{Errorf(k, 0, "lists %d rules, more than %d", len(specs), MaxObjectRules)}
	}
	rules, errs := CompileRules(specs, k, source, false, res.Line)
	for _, r := range rules {
		if r.Spec.Name == "" {
			r.Name = source + " " + r.Name
		}
	}
	return rules, errs
}

// Bounds on what one Kubernetes object's annotations or one Envoy route's context_extensions
// may set: far above what a route table written by hand holds, and what keeps parsing and
// matching one object's rules cheap whoever wrote them.
const (
	// MaxPolicyBytes bounds the betterauthz.io/ keys and values, together.
	MaxPolicyBytes = 32 << 10
	// MaxObjectRules bounds the rules of betterauthz.io/rules.
	MaxObjectRules = 64
	// MaxObjectPaths bounds the path patterns of all the rules and public-paths together.
	MaxObjectPaths = 256
	// MaxObjectPathSegments bounds the segments of all those path patterns together.
	MaxObjectPathSegments = 1024
	// MaxObjectClaimValues bounds the claim values the rules require, together.
	MaxObjectClaimValues = 256
	// maxProblems bounds the problems one object's or route's settings are reported with: its
	// error is kept while it lasts, and logged.
	maxProblems = 10
)

// capProblems keeps the first maxProblems problems, and says how many more there are.
func capProblems(errs []error) []error {
	if len(errs) <= maxProblems {
		return errs
	}
	more := len(errs) - maxProblems
	return append(errs[:maxProblems:maxProblems], Errorf(KeyPrefix, 0, "and %d more problems", more))
}

// footprint is an upper bound on the memory the compiled rules hold beyond the text they were
// written in (a test measures it against the worst shapes the bounds allow).
func (op *ObjectRules) footprint() int {
	if op == nil {
		return 0
	}
	n := 0
	for _, r := range op.all() {
		n += 1024 + 48*len(r.methods) + 48*len(r.Spec.Methods)
		for _, p := range r.paths {
			n += 160 + 48*len(p.segments)
		}
		for _, c := range r.claims {
			n += 96 + 64*len(c.Values)
		}
	}
	return n
}

func (op *ObjectRules) segmentCount() int {
	n := 0
	for _, r := range op.all() {
		for _, p := range r.paths {
			n += len(p.segments)
		}
	}
	return n
}

func (op *ObjectRules) claimValueCount() int {
	n := 0
	for _, r := range op.all() {
		for _, c := range r.claims {
			n += len(c.Values)
		}
	}
	return n
}

// PolicyBytes is the size of the betterauthz.io/ keys and values of kv.
func PolicyBytes(kv map[string]string) int {
	n := 0
	for k, v := range kv {
		if strings.HasPrefix(k, KeyPrefix) {
			n += len(k) + len(v)
		}
	}
	return n
}

func (op *ObjectRules) pathCount() int {
	n := 0
	for _, r := range op.all() {
		n += len(r.paths)
	}
	return n
}

// all lists the object's rules.
func (op *ObjectRules) all() []*Rule {
	out := slices.Clone(op.Rules)
	if op.PublicPaths != nil {
		out = append(out, op.PublicPaths)
	}
	if op.Default != nil {
		out = append(out, op.Default)
	}
	return out
}

// HasDryRun reports whether any of the object's rules is a dry run.
func (op *ObjectRules) HasDryRun() bool {
	return slices.ContainsFunc(op.all(), (*Rule).DryRun)
}

// Limits are what the config lets the rules of objects and routes do.
type Limits struct {
	// RefuseDryRun (annotations.allowPublic: false): rules with a dry run are invalid.
	RefuseDryRun bool
	// Issuers are the names of the config's issuers: a rule naming another is invalid. Nil:
	// not checked.
	Issuers []string
}

// Check reports why the object's rules break lim, if they do.
func (op *ObjectRules) Check(lim Limits) error {
	if lim.RefuseDryRun && op.HasDryRun() {
		return ErrDryRunTightenOnly
	}
	if lim.Issuers == nil {
		return nil
	}
	for _, r := range op.all() {
		if is := r.Spec.Issuer; is != "" && !slices.Contains(lim.Issuers, is) {
			return fmt.Errorf("%s: issuer %q names no issuer of the config (%s)", clip(r.Name), clip(is), strings.Join(lim.Issuers, ", "))
		}
	}
	return nil
}

// ErrDryRunTightenOnly refuses a dry run on an object or Envoy route while annotations may only
// tighten (annotations.allowPublic: false): a dry run lets through what the config would deny.
var ErrDryRunTightenOnly = errors.New("dry runs are refused here while annotations.allowPublic is false: a dry run would open what the config denies")

// Match returns the object's rule for a request (host normalized, path one reading), if the
// object decides it.
func (op *ObjectRules) Match(host string, path Path, method string) (*Rule, bool) {
	for _, r := range op.Rules {
		if r.matches(host, path, method) {
			return r, true
		}
	}
	if op.PublicPaths != nil && op.PublicPaths.matches(host, path, method) {
		return op.PublicPaths, true
	}
	if op.Default != nil {
		return op.Default, true
	}
	return nil, false
}
