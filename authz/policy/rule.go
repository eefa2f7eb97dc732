package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/betterauthz/betterauthz/jwks"
)

// RuleSpec is a route rule as written: in the config's routes, and (without hosts) in
// betterauthz.io/rules on a Kubernetes object or in Envoy's context_extensions.
type RuleSpec struct {
	// Name labels logs and metrics. Default: where the rule was written, e.g. "routes[2]".
	Name string `yaml:"name"`
	// Hosts are globs on the request host ("*", "*.example.com"); port ignored; default any.
	Hosts []string `yaml:"hosts"`
	// Paths: exact ("/healthz"), "*" for one segment, "**" for any depth; default any.
	Paths []string `yaml:"paths"`
	// Methods, default any.
	Methods []string `yaml:"methods"`
	// Policy: public, authenticated (the default) or deny.
	Policy string `yaml:"policy"`
	// Claims the token must carry (authenticated only): all keys must match; a list means any of.
	Claims map[string]any `yaml:"claims"`
	// Issuer names the issuer (config issuers[].name) whose tokens the rule accepts
	// (authenticated only); a token of another issuer is denied (403). Default: any issuer.
	Issuer string `yaml:"issuer"`
	// Credentials the rule accepts (authenticated only): jwt, session, apiKey, accessToken.
	// Default: jwt and session — an API key or an OAuth access token opens a route only where
	// a rule names it.
	Credentials []string `yaml:"credentials"`
	// OrgRoles (authenticated only): the caller's role in its active organization (Better
	// Auth's organization plugin) must be one of these; several roles held are comma-joined,
	// and any one of them counts. Default: no condition.
	OrgRoles []string `yaml:"orgRoles"`
	// Impersonated (authenticated only): false refuses sessions an admin impersonates (admin
	// plugin), true admits only those. Default: either.
	Impersonated *bool `yaml:"impersonated"`
	// Anonymous (authenticated only): false refuses anonymous users (anonymous plugin), true
	// admits only those. Default: either.
	Anonymous *bool `yaml:"anonymous"`
	// Resource is the OAuth resource (RFC 8707, an absolute URL) the route is: an access
	// token's aud must name it. A rule with a resource or scopes takes access tokens only,
	// unless its credentials say otherwise.
	Resource string `yaml:"resource"`
	// Scopes the credential must have, all of them (an access token's space-separated scope
	// claim). A credential without a scope claim has none.
	Scopes []string `yaml:"scopes"`
	// SubjectKind the credential must be of: user (a person's) or client (an access token of
	// the client_credentials grant, with no user). Default: either.
	SubjectKind string `yaml:"subjectKind"`
	// DryRun: a request this rule would deny is allowed, and the denial it would have had is
	// logged and counted. Identity headers still follow the credential alone.
	DryRun bool `yaml:"dryRun"`
}

// MaxRuleName bounds a rule's name: names are logged with every decision. MaxRuleMethods bounds
// the methods a rule lists.
const (
	MaxRuleName    = 256
	MaxRuleMethods = 32
)

// Where rules come from (Rule.Source); a Kubernetes object's rules name the object instead,
// e.g. "Service shop/orders".
const (
	SourceConfig            = "config"
	SourceContextExtensions = "context_extensions"
	SourceDefault           = "defaultPolicy"
)

// Rule is a compiled RuleSpec.
type Rule struct {
	Name string
	// Source says where the rule was written: "config", "context_extensions", or an object
	// such as "Service default/orders".
	Source string
	// Namespace is the namespace of the object whose annotations wrote the rule; "" for the
	// config's and context_extensions' rules.
	Namespace string
	Action    Action
	Spec      RuleSpec
	// Accepts: the kinds of credential the rule takes (Spec.Credentials; none: DefaultCredentials,
	// see Credentials).
	Accepts Credentials

	hosts   []hostPattern
	paths   []pathPattern
	methods []string
	claims  []claimRequirement
}

// LineFunc gives the line of a key path in the document a rule came from (0 when unknown).
type LineFunc func(path string) int

func noLines(string) int { return 0 }

// CompileRule checks and compiles one rule written at key path path (for error messages).
// Rules written on an object or an Envoy route apply to that object's hosts: allowHosts is false
// for them, and a hosts key is an error.
func CompileRule(spec RuleSpec, path, source string, allowHosts bool, lines LineFunc) (*Rule, []error) {
	if lines == nil {
		lines = noLines
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, Errorf(key, lines(key), format, args...))
	}
	r := &Rule{Name: spec.Name, Source: source, Spec: spec, Action: Authenticated}
	if r.Name == "" {
		r.Name = path
	}
	if len(spec.Name) > MaxRuleName {
		bad(JoinPath(path, "name"), "is %d bytes, more than %d", len(spec.Name), MaxRuleName)
		r.Name = clip(spec.Name)
	}
	if spec.Policy != "" {
		a, err := ParseAction(spec.Policy)
		if err != nil {
			bad(JoinPath(path, "policy"), "%v", err)
		}
		r.Action = a
	}
	if len(spec.Hosts) > 0 && !allowHosts {
		bad(JoinPath(path, "hosts"), "is not allowed here: these rules apply to the hosts of the route or object they are written on")
	}
	for i, h := range spec.Hosts {
		hp, err := compileHost(h)
		if err != nil {
			bad(fmt.Sprintf("%s.hosts[%d]", path, i), "%v", err)
			continue
		}
		r.hosts = append(r.hosts, hp)
	}
	for i, p := range spec.Paths {
		pp, err := compilePath(p)
		if err != nil {
			bad(fmt.Sprintf("%s.paths[%d]", path, i), "%v", err)
			continue
		}
		r.paths = append(r.paths, pp)
	}
	if len(spec.Methods) > MaxRuleMethods {
		bad(JoinPath(path, "methods"), "lists %d methods, more than %d", len(spec.Methods), MaxRuleMethods)
	}
	for i, m := range spec.Methods {
		if i == MaxRuleMethods {
			break
		}
		up := strings.ToUpper(m)
		if up == "" || strings.ContainsFunc(up, func(c rune) bool { return c < 'A' || c > 'Z' }) {
			bad(fmt.Sprintf("%s.methods[%d]", path, i), "%q is not an HTTP method", m)
			continue
		}
		r.methods = append(r.methods, up)
	}
	// Servers answer HEAD with their GET handler: a rule for GET covers HEAD too.
	if slices.Contains(r.methods, "GET") && !slices.Contains(r.methods, "HEAD") {
		r.methods = append(r.methods, "HEAD")
	}
	if spec.Issuer != "" && r.Action != Authenticated {
		bad(JoinPath(path, "issuer"), "only applies to authenticated rules, not %s", r.Action)
	}
	r.compileCredentials(path, bad)
	compileStanding(spec, path, r.Action, bad)
	errs = append(errs, r.compileOAuth(path, lines)...)
	if len(spec.Claims) > 0 {
		key := JoinPath(path, "claims")
		if r.Action != Authenticated {
			bad(key, "only apply to authenticated rules, not %s", r.Action)
		} else {
			var cerrs []error
			r.claims, cerrs = compileClaims(spec.Claims, key, lines)
			errs = append(errs, cerrs...)
		}
	}
	return r, errs
}

// compileCredentials reads the rule's credentials (none: its Credentials() default).
func (r *Rule) compileCredentials(path string, bad func(key, format string, args ...any)) {
	if len(r.Spec.Credentials) == 0 {
		return
	}
	key := JoinPath(path, "credentials")
	accepts, err := ParseCredentials(r.Spec.Credentials)
	switch {
	case r.Action != Authenticated:
		bad(key, "only apply to authenticated rules, not %s", r.Action)
	case err != nil:
		bad(key, "%v", err)
	default:
		r.Accepts = accepts
	}
}

// CompileRules compiles a list of rules written at key path path ("routes"). The error joins
// one FieldError per problem.
func CompileRules(specs []RuleSpec, path, source string, allowHosts bool, lines LineFunc) ([]*Rule, []error) {
	var rules []*Rule
	var errs []error
	names := map[string]string{}
	for i, spec := range specs {
		at := fmt.Sprintf("%s[%d]", path, i)
		r, rerrs := CompileRule(spec, at, source, allowHosts, lines)
		errs = append(errs, rerrs...)
		if spec.Name != "" {
			if prev, ok := names[spec.Name]; ok {
				key := at + ".name"
				errs = append(errs, Errorf(key, lines(key), "%q is already the name of %s", spec.Name, prev))
			}
			names[spec.Name] = at
		}
		rules = append(rules, r)
	}
	return rules, errs
}

// The route metric label of rules that anyone who can write an Envoy route or annotate an object
// brings: their names are not bounded by the config.
const (
	LabelExtensions = "extensions"
	LabelAnnotation = "annotation"
)

// Label names the rule in metrics, where the set of values must stay bounded: a rule from the
// config by its name (the config bounds those), the default as "default", every rule an Envoy
// route's context_extensions bring as "extensions" and every rule a Kubernetes object brings as
// "annotation" — whoever edits those could make a new series per name. Logs name every rule
// (names are at most MaxRuleName bytes).
func (r *Rule) Label() string {
	switch r.Source {
	case SourceConfig:
		return r.Name
	case SourceContextExtensions:
		return LabelExtensions
	case SourceDefault:
		return "default"
	default:
		return LabelAnnotation
	}
}

// Credentials is the set of credential kinds the rule takes.
func (r *Rule) Credentials() Credentials {
	if r.Accepts == 0 {
		return DefaultCredentials
	}
	return r.Accepts
}

// DryRun reports whether the rule only reports its denials (RuleSpec.DryRun).
func (r *Rule) DryRun() bool { return r.Spec.DryRun }

// matches reports whether the rule covers a request (host normalized, path one reading).
func (r *Rule) matches(host string, path Path, method string) bool {
	if len(r.methods) > 0 && !slices.Contains(r.methods, method) {
		return false
	}
	if len(r.hosts) > 0 && !slices.ContainsFunc(r.hosts, func(h hostPattern) bool { return h.match(host) }) {
		return false
	}
	if len(r.paths) > 0 && !slices.ContainsFunc(r.paths, func(p pathPattern) bool { return p.match(path) }) {
		return false
	}
	return true
}

// MissingClaim describes the first of the rule's claim requirements that c does not meet, for
// a 403's error_description ("claim \"role\" must be admin").
func (r *Rule) MissingClaim(c jwks.Claims) (description string, missing bool) {
	for _, req := range r.claims {
		if !req.satisfied(c) {
			return req.describe(), true
		}
	}
	return "", false
}
