package authz

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/introspect"
	"github.com/betterauthz/betterauthz/jwks"
)

// fakeIntrospector answers from a table, as fakeVerifier does.
type fakeIntrospector map[string]any // token -> jwks.Claims or error

func (f fakeIntrospector) Introspect(_ context.Context, token string) (jwks.Claims, error) {
	switch v := f[token].(type) {
	case jwks.Claims:
		return v, nil
	case error:
		return jwks.Claims{}, v
	default:
		return jwks.Claims{}, introspect.ErrInactive
	}
}

// An opaque access token is read through its route resource's introspection, and what Better
// Auth says of it goes through the rules as a verified JWT access token's claims would.
func TestOpaqueAccessTokensThroughIntrospection(t *testing.T) {
	const other = "https://other.example.com"
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "tasks", Paths: []string{"/tasks"}, Resource: api, Scopes: []string{"read", "write"}},
		{Name: "read", Paths: []string{"/read"}, Resource: api, Scopes: []string{"read"}},
		{Name: "machines", Paths: []string{"/machines"}, Resource: api, SubjectKind: "client"},
		{Name: "other", Paths: []string{"/other"}, Resource: other},
		{Name: "users", Paths: []string{"/app"}},
	}, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := testPolicy()
	c.Routes = rules
	c.IdentityHeaders = append(c.IdentityHeaders, IdentityHeader{Name: "x-subject-kind", Claim: SubjectKindClaim},
		IdentityHeader{Name: "x-scope", Claim: "scope"}, IdentityHeader{Name: "x-client-id", Claim: "client_id"})
	s := c.live(fakeVerifier{}, nil)
	s.Config.Issuers = map[string]string{"https://auth.example.com/api/auth": "default"}
	s.Introspectors = map[string]Introspector{api: fakeIntrospector{
		"machine":   claims(`{"active":true,"iss":"https://auth.example.com/api/auth","sub":"c1","client_id":"c1","aud":"` + api + `","scope":"read write"}`),
		"user":      claims(`{"active":true,"iss":"https://auth.example.com/api/auth","sub":"u1","client_id":"c1","sid":"s1","aud":"` + api + `","scope":"read"}`),
		"elsewhere": claims(`{"active":true,"sub":"c1","client_id":"c1","aud":"` + other + `","scope":"read"}`),
		"noaud":     claims(`{"active":true,"sub":"c1","client_id":"c1","scope":"read"}`),
		"cnf":       claims(`{"active":true,"sub":"c1","client_id":"c1","aud":"` + api + `","scope":"read","cnf":{"jkt":"x"}}`),
		"expired":   fmt.Errorf("%w", introspect.ErrExpired),
		"bound":     introspect.ErrBound,
		"down":      fmt.Errorf("%w: introspection answered HTTP 502", introspect.ErrUnavailable),
		"slow":      fmt.Errorf("%w: context deadline exceeded", introspect.ErrTimeout),
	}}
	res, _ := NewResource(api, []string{"https://auth.example.com/api/auth"}, nil)
	s.Config.Resources = map[string]*Resource{api: res}

	for name, tc := range map[string]struct {
		path, token, reason string
		headers             map[string]string // set on allow; "" must be absent
	}{
		"a machine's token":                  {"/read", "machine", "allowed", map[string]string{"x-subject-kind": "client", "x-client-id": "c1", "x-scope": "read write", "x-user-id": ""}},
		"a user's token":                     {"/read", "user", "allowed", map[string]string{"x-subject-kind": "user", "x-user-id": "u1", "x-client-id": "c1"}},
		"every missing scope":                {"/tasks", "user", "insufficient_scope", nil},
		"a token of another resource":        {"/read", "elsewhere", "wrong_resource", nil},
		"a token of no resource":             {"/read", "noaud", "wrong_resource", nil},
		"a user's token on a machine route":  {"/machines", "user", "insufficient_claims", nil},
		"a machine's token on its route":     {"/machines", "machine", "allowed", nil},
		"inactive":                           {"/read", "unknown", "invalid_token", nil},
		"expired":                            {"/read", "expired", "expired", nil},
		"DPoP-bound, by token_type":          {"/read", "bound", "invalid_token", nil},
		"DPoP-bound, by cnf":                 {"/read", "cnf", "invalid_token", nil},
		"Better Auth down":                   {"/read", "down", "introspection_unavailable", nil},
		"the check's deadline first":         {"/read", "slow", "timeout", nil},
		"a resource without introspection":   {"/other", "machine", "invalid_token", nil},
		"a route that takes no access token": {"/app", "machine", "invalid_token", nil},
	} {
		t.Run(name, func(t *testing.T) {
			d := Decide(context.Background(), s, httpCheck("GET", "api.example.com", tc.path, map[string]string{
				"authorization": "Bearer " + tc.token, "x-subject-kind": "spoofed", "x-user-id": "spoofed", "x-client-id": "spoofed"}))
			if string(d.Reason) != tc.reason {
				t.Fatalf("%s: %s", d.Reason, d.Description)
			}
			set := map[string]string{}
			for _, h := range d.Set {
				set[h.Name] = h.Value
			}
			for h, want := range tc.headers {
				if got, ok := set[h]; got != want || ok != (want != "") {
					t.Errorf("%s = %q, want %q (set %v)", h, got, want, set)
				}
			}
		})
	}

	d := Decide(context.Background(), s, httpCheck("GET", "api.example.com", "/other", map[string]string{"authorization": "Bearer machine"}))
	if !strings.Contains(d.Description, "introspection is off for this resource") {
		t.Errorf("the refusal does not say why: %s", d.Description)
	}
	d = Decide(context.Background(), s, httpCheck("GET", "api.example.com", "/read", map[string]string{"authorization": "Bearer down"}))
	if d.HTTPStatus() != 503 || d.RetryAfter() == "" || d.Description != introspect.ErrUnavailable.Error() {
		t.Errorf("an outage: %d, Retry-After %q, %q", d.HTTPStatus(), d.RetryAfter(), d.Description)
	}
}

// TestOpaqueTokensForAnotherNamespacesRule: a rule from a namespace's annotations may name any
// resource; it has the resource's opaque tokens introspected only when the resource's
// introspection.namespaces lists that namespace (or "*"): a team must not spend another's
// introspection calls. Rules of the config always may.
func TestOpaqueTokensForAnotherNamespacesRule(t *testing.T) {
	for name, tc := range map[string]struct {
		ruleNamespace string
		allowed       []string
		want          Reason
		asked         bool
	}{
		"the config's rule":              {"", nil, ReasonAllowed, true},
		"an annotation, not listed":      {"team-b", nil, ReasonInvalidToken, false},
		"an annotation, another listed":  {"team-b", []string{"team-a"}, ReasonInvalidToken, false},
		"an annotation, its namespace":   {"team-b", []string{"team-a", "team-b"}, ReasonAllowed, true},
		"an annotation, every namespace": {"team-b", []string{"*"}, ReasonAllowed, true},
	} {
		t.Run(name, func(t *testing.T) {
			rules, errs := policy.CompileRules([]policy.RuleSpec{{Name: "read", Paths: []string{"/read"}, Resource: api}}, "routes", policy.SourceConfig, true, nil)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			rules[0].Namespace = tc.ruleNamespace
			c := testPolicy()
			c.Routes = rules
			s := c.live(fakeVerifier{}, nil)
			asked := false
			s.Introspectors = map[string]Introspector{api: introspectorFunc(func(string) (jwks.Claims, error) {
				asked = true
				return claims(`{"active":true,"sub":"c1","client_id":"c1","aud":"` + api + `"}`), nil
			})}
			res, _ := NewResource(api, nil, nil)
			res.IntrospectionNamespaces = tc.allowed
			s.Config.Resources = map[string]*Resource{api: res}
			d := Decide(context.Background(), s, httpCheck("GET", "api.example.com", "/read", map[string]string{"authorization": "Bearer opaque"}))
			if d.Reason != tc.want || asked != tc.asked {
				t.Fatalf("%s (%s), Better Auth asked: %v", d.Reason, d.Description, asked)
			}
		})
	}
}

type introspectorFunc func(token string) (jwks.Claims, error)

func (f introspectorFunc) Introspect(_ context.Context, token string) (jwks.Claims, error) {
	return f(token)
}

// While Better Auth rate-limits introspection, the 503 says how long the backoff has yet to
// run, not the reason's usual 5 seconds.
func TestOpaqueRateLimitedRetryAfterIsTheBackoff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "42")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := introspect.New(introspect.Options{URL: srv.URL, ClientID: "betterauthz", ClientSecretFile: secret,
		Issuers: []string{"https://auth.example.com/api/auth"}})
	if err != nil {
		t.Fatal(err)
	}
	rules, errs := policy.CompileRules([]policy.RuleSpec{{Name: "read", Paths: []string{"/read"}, Resource: api}},
		"routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := testPolicy()
	c.Routes = rules
	s := c.live(fakeVerifier{}, nil)
	s.Introspectors = map[string]Introspector{api: in}
	res, _ := NewResource(api, nil, nil)
	s.Config.Resources = map[string]*Resource{api: res}
	for _, token := range []string{"first", "second"} { // the 429, then a token refused unasked
		d := Decide(context.Background(), s, httpCheck("GET", "api.example.com", "/read", map[string]string{"authorization": "Bearer " + token}))
		if d.Reason != ReasonIntrospectionUnavailable || d.RetryAfter() != "42" && d.RetryAfter() != "41" {
			t.Fatalf("%s: %s, Retry-After %q, want 42", token, d.Reason, d.RetryAfter())
		}
	}
	d := Decision{Reason: ReasonIntrospectionUnavailable}
	if d.RetryAfter() != "5" {
		t.Fatalf("an outage that is no rate limit: Retry-After %q", d.RetryAfter())
	}
	for wait, want := range map[time.Duration]string{time.Millisecond: "1", 1500 * time.Millisecond: "2", time.Hour: "60"} {
		if d.retryAfter = wait; d.RetryAfter() != want {
			t.Fatalf("%s: Retry-After %q, want %s", wait, d.RetryAfter(), want)
		}
	}
}
