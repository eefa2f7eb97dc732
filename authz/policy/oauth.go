package policy

import (
	"fmt"
	"net/url"
	"strings"
)

// A rule's OAuth requirements: the resource an access token must be for, the scopes a
// credential must have, and whether its subject is a user or a client.

// The subject kinds (RuleSpec.SubjectKind).
const (
	SubjectUser   = "user"
	SubjectClient = "client"
)

// Bounds on what a rule asks: scopes travel in a 403's WWW-Authenticate.
const (
	MaxRuleScopes = 32
	MaxScopeBytes = 256
	maxResource   = 2048
)

// compileOAuth checks resource, scopes and subjectKind, and makes a rule with a resource or
// scopes take access tokens alone when its credentials are not written.
func (r *Rule) compileOAuth(path string, lines LineFunc) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, Errorf(key, lines(key), format, args...))
	}
	spec := r.Spec
	oauth := spec.Resource != "" || len(spec.Scopes) > 0
	if (oauth || spec.SubjectKind != "") && r.Action != Authenticated {
		bad(path, "resource, scopes and subjectKind only apply to authenticated rules, not %s", r.Action)
		return errs
	}
	if spec.Resource != "" {
		if err := CheckResource(spec.Resource); err != nil {
			bad(JoinPath(path, "resource"), "%v", err)
		}
	}
	if len(spec.Scopes) > MaxRuleScopes {
		bad(JoinPath(path, "scopes"), "lists %d scopes, more than %d", len(spec.Scopes), MaxRuleScopes)
	}
	for i, sc := range spec.Scopes {
		if err := checkScope(sc); err != nil {
			bad(fmt.Sprintf("%s.scopes[%d]", path, i), "%v", err)
		}
	}
	switch spec.SubjectKind {
	case "", SubjectUser, SubjectClient:
	default:
		bad(JoinPath(path, "subjectKind"), "%q is neither %s nor %s", clip(spec.SubjectKind), SubjectUser, SubjectClient)
	}
	if oauth && len(spec.Credentials) == 0 {
		r.Accepts = CredentialAccessToken
	}
	// An access token is for one resource: a route that takes one without naming its resource
	// would take a token issued for any other API of the same authorization server.
	if r.Accepts.Has(CredentialAccessToken) && spec.Resource == "" {
		bad(JoinPath(path, "credentials"), "take accessToken: the rule needs a resource, the URL an access token's aud must name")
	}
	return errs
}

// CheckResource checks an OAuth resource identifier (RFC 8707 §2): an absolute http(s) URL
// without a fragment.
func CheckResource(res string) error {
	if len(res) > maxResource {
		return fmt.Errorf("is %d bytes, more than %d", len(res), maxResource)
	}
	u, err := url.Parse(res)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || strings.Contains(res, "#") || u.User != nil {
		return fmt.Errorf("%q is not an absolute http(s) URL without a fragment", clip(res))
	}
	return nil
}

// checkScope: a scope-token of RFC 6749 §3.3 (printable ASCII but space, " and \).
func checkScope(sc string) error {
	if sc == "" || len(sc) > MaxScopeBytes {
		return fmt.Errorf("a scope is 1 to %d characters", MaxScopeBytes)
	}
	for i := 0; i < len(sc); i++ {
		if c := sc[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("%q is not a scope (RFC 6749: printable ASCII but space, \" and \\)", clip(sc))
		}
	}
	return nil
}

// MissingScopes appends to dst each of the rule's scopes that granted (an access token's
// space-separated scope claim) lacks, each once.
func (r *Rule) MissingScopes(dst []string, granted string) []string {
	for _, want := range r.Spec.Scopes {
		if hasScope(granted, want) {
			continue
		}
		dup := false
		for _, d := range dst {
			dup = dup || d == want
		}
		if !dup {
			dst = append(dst, want)
		}
	}
	return dst
}

// hasScope reports whether the space-separated list holds scope.
func hasScope(list, scope string) bool {
	for list != "" {
		var s string
		s, list, _ = strings.Cut(list, " ")
		if s == scope {
			return true
		}
	}
	return false
}

// AudienceHolds reports whether aud (a token's aud: one string, or a list) names resource.
func AudienceHolds(aud []string, resource string) bool {
	for _, a := range aud {
		if a == resource {
			return true
		}
	}
	return false
}
