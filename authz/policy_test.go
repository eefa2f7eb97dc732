package authz

import (
	"context"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// routedPolicy is the README's example: public docs and health, an admin API that needs the
// admin role, internal paths closed, everything else authenticated.
func routedPolicy(t *testing.T) *testConfig {
	t.Helper()
	p := testPolicy()
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "health", Paths: []string{"/healthz", "/readyz"}, Methods: []string{"GET"}, Policy: "public"},
		{Name: "docs", Hosts: []string{"docs.example.com"}, Policy: "public"},
		{Name: "public-api", Paths: []string{"/public/**", "/api/*/public"}, Policy: "public"},
		{Name: "admin", Paths: []string{"/admin/**"}, Claims: map[string]any{"role": []any{"admin"}}},
		{Name: "internal", Paths: []string{"/internal/**"}, Policy: "deny"},
		{Name: "verified", Hosts: []string{"*.example.com"}, Paths: []string{"/billing/**"}, Claims: map[string]any{"emailVerified": true}},
	}, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p.Routes = rules
	return p
}

func TestRoutePolicy(t *testing.T) {
	v := fakeVerifier{
		"user":  claims(`{"sub":"u1","role":"user","emailVerified":false}`),
		"admin": claims(`{"sub":"a1","role":"admin,user","emailVerified":true}`),
		"bad":   jwks.ErrExpired,
	}
	type req struct {
		method, host, path, token string
		ext                       map[string]string
	}
	cases := map[string]struct {
		req    req
		reason Reason
		route  string
	}{
		"public health, no token":      {req{"GET", "api.example.com", "/healthz", "", nil}, ReasonPublic, "health"},
		"health with another method":   {req{"POST", "api.example.com", "/healthz", "", nil}, ReasonMissingToken, "default"},
		"health with a query":          {req{"GET", "api.example.com", "/healthz?full=1", "", nil}, ReasonPublic, "health"},
		"public host, port and case":   {req{"GET", "Docs.Example.com:443", "/anything", "", nil}, ReasonPublic, "docs"},
		"public path segment glob":     {req{"GET", "h", "/api/v2/public", "", nil}, ReasonPublic, "public-api"},
		"public with a bad token":      {req{"GET", "h", "/public/x", "bad", nil}, ReasonPublic, "public-api"},
		"default needs a token":        {req{"GET", "h", "/orders", "", nil}, ReasonMissingToken, "default"},
		"default with a token":         {req{"GET", "h", "/orders", "user", nil}, ReasonAllowed, "default"},
		"admin without role":           {req{"GET", "h", "/admin/users", "user", nil}, ReasonInsufficientClaims, "admin"},
		"admin with comma-joined role": {req{"GET", "h", "/admin/users", "admin", nil}, ReasonAllowed, "admin"},
		"admin without token":          {req{"GET", "h", "/admin/users", "", nil}, ReasonMissingToken, "admin"},
		"admin with expired token":     {req{"GET", "h", "/admin", "bad", nil}, ReasonExpired, "admin"},
		"internal denied with admin":   {req{"GET", "h", "/internal/metrics", "admin", nil}, ReasonPolicyDenied, "internal"},
		"host-scoped claims":           {req{"GET", "pay.example.com", "/billing/x", "user", nil}, ReasonInsufficientClaims, "verified"},
		"host-scoped claims elsewhere": {req{"GET", "pay.other.com", "/billing/x", "user", nil}, ReasonAllowed, "default"},
		"host-scoped claims met":       {req{"GET", "pay.example.com", "/billing/x", "admin", nil}, ReasonAllowed, "verified"},
		"first match wins":             {req{"GET", "docs.example.com", "/internal/x", "", nil}, ReasonPublic, "docs"},

		// Bypass attempts: no spelling of a private path may reach a public rule.
		"dot dot out of public":       {req{"GET", "h", "/public/../admin/users", "user", nil}, ReasonInsufficientClaims, "admin"},
		"encoded dots out of public":  {req{"GET", "h", "/public/%2e%2e/admin/users", "user", nil}, ReasonInsufficientClaims, "admin"},
		"encoded slash out of public": {req{"GET", "h", "/public%2F..%2Fadmin", "", nil}, ReasonMissingToken, "default+admin"},
		"encoded slash into public":   {req{"GET", "h", "/public%2Fx", "", nil}, ReasonMissingToken, "default+public-api"},
		// A leading "//" is also read as a host by URL parsers (new URL(req.url, base) in Node
		// reads //admin/users as host admin, path /users), so /users's rules apply too.
		"double slash":                      {req{"GET", "h", "//admin/users", "user", nil}, ReasonInsufficientClaims, "admin+default"},
		"network-path reference":            {req{"GET", "h", "//evil/admin/users", "user", nil}, ReasonInsufficientClaims, "default+admin"},
		"network-path with backslashes":     {req{"GET", "h", `/\evil\admin\users`, "user", nil}, ReasonInsufficientClaims, "default+admin"},
		"absolute-form":                     {req{"GET", "h", "http://h/admin/users", "user", nil}, ReasonInsufficientClaims, "admin"},
		"absolute-form, host and port":      {req{"GET", "h:8080", "HTTPS://H:443/admin/users?x", "user", nil}, ReasonInsufficientClaims, "admin"},
		"absolute-form naming another host": {req{"GET", "h", "http://evil/admin/users", "user", nil}, ReasonBadRequest, ""},
		"absolute-form with userinfo":       {req{"GET", "h", "http://evil@h/admin/users", "user", nil}, ReasonBadRequest, ""},
		"other scheme":                      {req{"GET", "h", "file:///admin/users", "user", nil}, ReasonBadRequest, ""},
		// Neither origin-form nor absolute-form: no path a rule could be sure of.
		"relative target":                 {req{"GET", "h", "public/x", "", nil}, ReasonBadRequest, ""},
		"relative, userinfo":              {req{"GET", "h", "@evil.com/public/x", "", nil}, ReasonBadRequest, ""},
		"query-only target":               {req{"GET", "h", "?x=/public/x", "", nil}, ReasonBadRequest, ""},
		"empty target":                    {req{"GET", "h", "", "", nil}, ReasonBadRequest, ""},
		"asterisk-form":                   {req{"OPTIONS", "h", "*", "", nil}, ReasonBadRequest, ""},
		"host with userinfo":              {req{"GET", "evil@h", "/admin/users", "user", nil}, ReasonBadRequest, ""},
		"path parameter on deny":          {req{"GET", "h", "/internal;x/secrets", "admin", nil}, ReasonPolicyDenied, "default+internal"},
		"path parameter on admin":         {req{"GET", "h", "/admin;x", "user", nil}, ReasonInsufficientClaims, "default+admin"},
		"backslash out of public":         {req{"GET", "h", `/public\..\internal\x`, "", nil}, ReasonPolicyDenied, "default+internal"},
		"encoded backslash out of public": {req{"GET", "h", "/public%5C..%5Cinternal", "", nil}, ReasonPolicyDenied, "default+internal"},
		"malformed escape":                {req{"GET", "h", "/public/%zz", "", nil}, ReasonBadRequest, ""},
		"encoded NUL":                     {req{"GET", "h", "/public/%00", "", nil}, ReasonBadRequest, ""},

		// A case-insensitive backend reads /ADMIN as /admin: its rules apply too.
		"upper case on admin":           {req{"GET", "h", "/ADMIN/users", "user", nil}, ReasonInsufficientClaims, "default+admin"},
		"mixed case on deny":            {req{"GET", "h", "/Internal/x", "admin", nil}, ReasonPolicyDenied, "default+internal"},
		"upper case cannot make public": {req{"GET", "h", "/PUBLIC/x", "", nil}, ReasonMissingToken, "default+public-api"},
		"HEAD is covered by a GET rule": {req{"HEAD", "h", "/healthz", "", nil}, ReasonPublic, "health"},

		// Envoy's per-route context_extensions come first.
		"context policy public": {
			req{"GET", "h", "/admin/users", "", map[string]string{policy.KeyPolicy: "public"}}, ReasonPublic, "context_extensions betterauthz.io/policy",
		},
		"context policy deny": {
			req{"GET", "h", "/healthz", "", map[string]string{policy.KeyPolicy: "deny"}}, ReasonPolicyDenied, "context_extensions betterauthz.io/policy",
		},
		"context public paths": {
			req{"GET", "h", "/shop/items", "", map[string]string{policy.KeyPublicPaths: "/shop/**, /cart"}}, ReasonPublic, "context_extensions betterauthz.io/public-paths",
		},
		"context public paths miss falls through": {
			req{"GET", "h", "/admin/x", "user", map[string]string{policy.KeyPublicPaths: "/shop/**"}}, ReasonInsufficientClaims, "admin",
		},
		"context rules": {
			req{"POST", "h", "/orders", "user", map[string]string{policy.KeyRules: "- name: writers\n  methods: [POST]\n  claims: {role: [editor]}\n"}},
			ReasonInsufficientClaims, "writers",
		},
		"context rules before public paths and policy": {
			req{"GET", "h", "/shop/admin", "", map[string]string{
				policy.KeyRules:       "- {paths: [/shop/admin], policy: deny}",
				policy.KeyPublicPaths: "/shop/**",
				policy.KeyPolicy:      "public",
			}},
			ReasonPolicyDenied, "context_extensions betterauthz.io/rules[0]",
		},
		"other context keys are ignored": {
			req{"GET", "h", "/healthz", "", map[string]string{"virtual_host": "x"}}, ReasonPublic, "health",
		},
		"invalid context policy fails closed": {
			req{"GET", "h", "/healthz", "", map[string]string{policy.KeyPolicy: "allow"}}, ReasonInvalidRoutePolicy, "",
		},
		"unknown betterauthz key fails closed": {
			req{"GET", "h", "/healthz", "", map[string]string{"betterauthz.io/polcy": "public"}}, ReasonInvalidRoutePolicy, "",
		},
		"context rules with hosts are invalid": {
			req{"GET", "h", "/healthz", "", map[string]string{policy.KeyRules: "- {hosts: [a], policy: public}"}}, ReasonInvalidRoutePolicy, "",
		},

		// CORS preflight: allowed without a token, except where the route is closed.
		"preflight on admin": {req{"OPTIONS", "h", "/admin/x", "", nil}, ReasonCORSPreflight, "admin"},
		"preflight on deny":  {req{"OPTIONS", "h", "/internal/x", "", nil}, ReasonPolicyDenied, "internal"},
	}
	p := routedPolicy(t)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{}
			if tc.req.token != "" {
				h["authorization"] = "Bearer " + tc.req.token
			}
			if tc.req.method == "OPTIONS" {
				h["origin"] = "https://app.example.com"
				h["access-control-request-method"] = "DELETE"
			}
			r := httpCheck(tc.req.method, tc.req.host, tc.req.path, h)
			r.ContextExtensions = tc.req.ext
			d := Decide(context.Background(), p.live(v, nil), r)
			if d.Reason != tc.reason || d.Route != tc.route {
				t.Fatalf("decision %s via %q (%s), want %s via %q", d.Reason, d.Route, d.Description+d.Detail, tc.reason, tc.route)
			}
		})
	}
}

func TestInsufficientClaimsSaysWhat(t *testing.T) {
	p := routedPolicy(t)
	r := httpCheck("GET", "h", "/admin", map[string]string{"authorization": "Bearer user"})
	d := Decide(context.Background(), p.live(fakeVerifier{"user": claims(`{"sub":"u","role":"user"}`)}, nil), r)
	if d.Description != `claim "role" must be admin` || d.Subject != "u" {
		t.Fatalf("%+v", d)
	}
}
