package policy

import (
	"strings"
	"testing"
)

func TestOAuthRules(t *testing.T) {
	const api = "https://api.example.com"
	for name, tc := range map[string]struct {
		spec    RuleSpec
		accepts Credentials
		err     string
	}{
		"resource alone takes access tokens": {RuleSpec{Resource: api}, CredentialAccessToken, ""},
		"scopes with a resource":             {RuleSpec{Resource: api, Scopes: []string{"read:tasks", "write:tasks"}}, CredentialAccessToken, ""},
		"credentials written win":            {RuleSpec{Resource: api, Credentials: []string{"jwt", "accessToken"}}, CredentialJWT | CredentialAccessToken, ""},
		"scopes on user JWTs":                {RuleSpec{Resource: api, Scopes: []string{"a"}, Credentials: []string{"jwt"}}, CredentialJWT, ""},
		"no resource, no OAuth":              {RuleSpec{}, 0, ""},
		"accessToken without a resource":     {RuleSpec{Credentials: []string{"accessToken"}}, 0, "needs a resource"},
		"scopes without a resource":          {RuleSpec{Scopes: []string{"a"}}, 0, "needs a resource"},
		"resource not a URL":                 {RuleSpec{Resource: "api"}, 0, "not an absolute http(s) URL"},
		"resource with a fragment":           {RuleSpec{Resource: api + "#x"}, 0, "not an absolute http(s) URL"},
		"resource of another scheme":         {RuleSpec{Resource: "urn:api"}, 0, "not an absolute http(s) URL"},
		"a scope with a space":               {RuleSpec{Resource: api, Scopes: []string{"a b"}}, 0, "is not a scope"},
		"a scope with a quote":               {RuleSpec{Resource: api, Scopes: []string{`a"`}}, 0, "is not a scope"},
		"an empty scope":                     {RuleSpec{Resource: api, Scopes: []string{""}}, 0, "a scope is 1 to"},
		"subjectKind client":                 {RuleSpec{Resource: api, SubjectKind: "client"}, CredentialAccessToken, ""},
		"subjectKind of another kind":        {RuleSpec{Resource: api, SubjectKind: "robot"}, 0, "neither user nor client"},
		"resource on a public rule":          {RuleSpec{Policy: "public", Resource: api}, 0, "only apply to authenticated rules"},
	} {
		t.Run(name, func(t *testing.T) {
			r, errs := CompileRule(tc.spec, "routes[0]", SourceConfig, true, nil)
			if tc.err == "" {
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				if r.Accepts != tc.accepts {
					t.Fatalf("accepts %v, want %v", r.Accepts, tc.accepts)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.err) {
				t.Fatalf("errors %v, want %q", errs, tc.err)
			}
		})
	}
}

func TestMissingScopes(t *testing.T) {
	r := &Rule{Spec: RuleSpec{Scopes: []string{"read", "write", "admin"}}}
	for granted, want := range map[string]string{
		"read write admin": "",
		"read":             "write admin",
		"":                 "read write admin",
		"readwrite admin":  "read write",
		"admin  read":      "write",
		"READ write admin": "read",
	} {
		if got := strings.Join(r.MissingScopes(nil, granted), " "); got != want {
			t.Errorf("granted %q: missing %q, want %q", granted, got, want)
		}
	}
	// Scopes several rules miss are named once.
	if got := strings.Join(r.MissingScopes([]string{"write"}, "read"), " "); got != "write admin" {
		t.Errorf("merged: %q", got)
	}
}
