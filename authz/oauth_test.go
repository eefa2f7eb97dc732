package authz

import (
	"context"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// Tokens whose headers say what they are: {"typ":"at+jwt"} and {"typ":"JWT"}. The fake
// verifiers answer for their whole text.
const (
	atHeader  = "eyJ0eXAiOiJhdCtqd3QifQ"
	jwtHeader = "eyJ0eXAiOiJKV1QifQ"
	api       = "https://api.example.com"
)

func TestAccessTokensAgainstRules(t *testing.T) {
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "tasks", Paths: []string{"/tasks"}, Resource: api, Scopes: []string{"read", "write", "admin"}},
		{Name: "read", Paths: []string{"/read"}, Resource: api, Scopes: []string{"read"}},
		{Name: "machines", Paths: []string{"/machines"}, Resource: api, SubjectKind: "client"},
		{Name: "users", Paths: []string{"/app"}},
	}, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := testPolicy()
	c.Routes = rules
	c.IdentityHeaders = append(c.IdentityHeaders, IdentityHeader{Name: "x-subject-kind", Claim: SubjectKindClaim}, IdentityHeader{Name: "x-scope", Claim: "scope"})
	user := jwtHeader + ".e30.u"
	access := func(name string) string { return atHeader + ".e30." + name }
	users := fakeVerifier{user: claims(`{"sub":"u1","iss":"https://auth.example.com"}`)}
	tokens := fakeVerifier{
		access("machine"):  claims(`{"sub":"c1","client_id":"c1","aud":"` + api + `","scope":"read write"}`),
		access("user"):     claims(`{"sub":"u1","client_id":"c1","sid":"s1","aud":["` + api + `","https://auth.example.com/api/auth/oauth2/userinfo"],"scope":"openid read"}`),
		access("other"):    claims(`{"sub":"c1","client_id":"c1","aud":"https://other.example.com","scope":"read"}`),
		access("noaud"):    claims(`{"sub":"c1","client_id":"c1","scope":"read"}`),
		access("noclient"): claims(`{"sub":"u9","aud":"` + api + `","scope":"read"}`),
		access("dpop"):     claims(`{"sub":"c1","client_id":"c1","aud":"` + api + `","scope":"read","cnf":{"jkt":"x"}}`),
		access("wrongkey"): jwks.ErrInvalidToken,
	}
	s := c.live(users, nil)
	s.AccessVerifier = tokens
	res, _ := NewResource(api, []string{"https://auth.example.com/api/auth"}, nil)
	s.Config.Resources = map[string]*Resource{api: res}

	for name, tc := range map[string]struct {
		path, token, reason, scope, kind string
	}{
		"machine, scope met":                 {"/read", access("machine"), "allowed", "", "client"},
		"user, aud a list":                   {"/read", access("user"), "allowed", "", "user"},
		"every missing scope":                {"/tasks", access("user"), "insufficient_scope", "write admin", ""},
		"another resource":                   {"/read", access("other"), "wrong_resource", "", ""},
		"no aud":                             {"/read", access("noaud"), "wrong_resource", "", ""},
		"DPoP-bound as Bearer":               {"/read", access("dpop"), "invalid_token", "", ""},
		"the access verifier refuses":        {"/read", access("wrongkey"), "invalid_token", "", ""},
		"no client: neither kind":            {"/machines", access("noclient"), "insufficient_claims", "", ""},
		"no client: allowed, no kind":        {"/read", access("noclient"), "allowed", "", ""},
		"access token on a user route":       {"/app", access("machine"), "credential_not_accepted", "", ""},
		"user JWT on an access route":        {"/read", user, "credential_not_accepted", "", ""},
		"user JWT on a user route":           {"/app", user, "allowed", "", "user"},
		"a user's token on a client route":   {"/machines", access("user"), "insufficient_claims", "", ""},
		"a client's token on a client route": {"/machines", access("machine"), "allowed", "", "client"},
		"opaque on an access route":          {"/read", "opaquetoken", "invalid_token", "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			d := Decide(context.Background(), s, httpCheck("GET", "api.example.com", tc.path, map[string]string{"authorization": "Bearer " + tc.token, "x-subject-kind": "spoofed"}))
			if string(d.Reason) != tc.reason || d.Scope != tc.scope {
				t.Fatalf("%s (scope %q): %s", d.Reason, d.Scope, d.Description)
			}
			if d.Allowed() {
				got := ""
				for _, h := range d.Set {
					if h.Name == "x-subject-kind" {
						got = h.Value
					}
				}
				if got != tc.kind {
					t.Fatalf("x-subject-kind %q, want %q", got, tc.kind)
				}
				for _, h := range d.Set {
					if h.Name == "x-user-id" && tc.kind != "user" {
						t.Fatalf("x-user-id %q for a token that is no user's", h.Value)
					}
				}
				return
			}
			if tc.path != "/app" && d.ResourceMetadata != res.MetadataURL {
				t.Fatalf("resource_metadata %q", d.ResourceMetadata)
			}
		})
	}

	// Without an access token verifier, no access token passes.
	s.AccessVerifier = nil
	if d := Decide(context.Background(), s, httpCheck("GET", "api.example.com", "/read", map[string]string{"authorization": "Bearer " + access("machine")})); d.Reason != ReasonInvalidToken {
		t.Fatalf("no access verifier: %s", d.Reason)
	}
}

// TestAccessTokenOfAnotherIssuer: a resource the config describes takes access tokens of its
// own issuer only — another Better Auth (a staging one) may issue tokens naming it too.
func TestAccessTokenOfAnotherIssuer(t *testing.T) {
	rules, errs := policy.CompileRules([]policy.RuleSpec{{Name: "read", Paths: []string{"/read"}, Resource: api}}, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := testPolicy()
	c.Routes = rules
	access := func(name string) string { return atHeader + ".e30." + name }
	s := c.live(fakeVerifier{}, nil)
	s.Config.Issuers = map[string]string{"https://auth.example.com/api/auth": "prod", "https://staging.example.com/api/auth": "staging"}
	s.AccessVerifier = fakeVerifier{
		access("prod"):    claims(`{"sub":"c1","client_id":"c1","aud":"` + api + `","iss":"https://auth.example.com/api/auth"}`),
		access("staging"): claims(`{"sub":"c1","client_id":"c1","aud":"` + api + `","iss":"https://staging.example.com/api/auth"}`),
	}
	res, _ := NewResource(api, []string{"https://auth.example.com/api/auth"}, nil)
	res.IssuerName = "prod"
	s.Config.Resources = map[string]*Resource{api: res}
	for token, want := range map[string]Reason{access("prod"): ReasonAllowed, access("staging"): ReasonWrongResource} {
		d := Decide(context.Background(), s, httpCheck("GET", "api.example.com", "/read", map[string]string{"authorization": "Bearer " + token}))
		if d.Reason != want {
			t.Errorf("%s: %s (%s), want %s", token, d.Reason, d.Description, want)
		}
	}
}
