package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// The README's policy example, against real Better Auth tokens (admin plugin for role).
const policyRoutes = `defaultPolicy: authenticated
routes:
  - name: health-and-docs
    paths: ["/healthz", "/docs/**"]
    methods: [GET]
    policy: public
  - name: admin-api
    paths: ["/admin/**"]
    claims: {role: [admin]}
  - name: internal
    paths: ["/internal/**"]
    policy: deny
`

func TestPolicyEndToEnd(t *testing.T) {
	r := run(t, baseConfig(ba)+"allowCORSPreflight: true\n"+policyRoutes, nil)
	r.waitReady(t, 10*time.Second)
	admin, err := ba.Mint(betterauth.MintOptions{User: map[string]any{"role": "admin,user"}})
	if err != nil {
		t.Fatal(err)
	}
	user, err := ba.Mint(betterauth.MintOptions{}) // the admin plugin's default role: "user"
	if err != nil {
		t.Fatal(err)
	}

	type want struct {
		answer string
		route  string
	}
	cases := map[string]struct {
		method, path string
		headers      map[string]string
		ext          map[string]string
		want         want
	}{
		"public docs, no token":                 {"GET", "/docs/intro", nil, nil, want{"allowed", "health-and-docs"}},
		"public docs, POST is not public":       {"POST", "/docs/intro", nil, nil, want{"denied 401", "default"}},
		"default needs a token":                 {"GET", "/orders", nil, nil, want{"denied 401", "default"}},
		"default with a token":                  {"GET", "/orders", bearer(user.Token), nil, want{"allowed", "default"}},
		"admin API, user role":                  {"GET", "/admin/users", bearer(user.Token), nil, want{"denied 403", "admin-api"}},
		"admin API, admin,user role":            {"GET", "/admin/users", bearer(admin.Token), nil, want{"allowed", "admin-api"}},
		"internal, even for an admin":           {"GET", "/internal/debug", bearer(admin.Token), nil, want{"denied 403", "internal"}},
		"bypass: dot dot from public":           {"GET", "/docs/../admin/users", bearer(user.Token), nil, want{"denied 403", "admin-api"}},
		"bypass: encoded slash from public":     {"GET", "/docs%2F..%2Finternal", nil, nil, want{"denied 403", "default+internal"}},
		"context_extensions: route made public": {"GET", "/orders", nil, map[string]string{"betterauthz.io/policy": "public"}, want{"allowed", "context_extensions betterauthz.io/policy"}},
		"context_extensions: public paths": {"GET", "/shop/items", nil, map[string]string{"betterauthz.io/public-paths": "/shop/**"},
			want{"allowed", "context_extensions betterauthz.io/public-paths"}},
		"context_extensions: rules with claims": {"DELETE", "/orders/1", bearer(user.Token),
			map[string]string{"betterauthz.io/rules": "- name: order-admins\n  methods: [DELETE]\n  claims: {role: admin}\n"},
			want{"denied 403", "order-admins"}},
		"context_extensions: over config routes": {"GET", "/internal/debug", nil, map[string]string{"betterauthz.io/policy": "public"},
			want{"allowed", "context_extensions betterauthz.io/policy"}},
		"CORS preflight on the admin API": {"OPTIONS", "/admin/users",
			map[string]string{"origin": "https://app.example.com", "access-control-request-method": "DELETE"}, nil, want{"allowed", "admin-api"}},
		"plain OPTIONS is not a preflight": {"OPTIONS", "/admin/users", nil, nil, want{"denied 401", "admin-api"}},
		"Origin: null is not a preflight": {"OPTIONS", "/admin/users",
			map[string]string{"origin": "null", "access-control-request-method": "DELETE"}, nil, want{"denied 401", "admin-api"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := checkReq(tc.path, tc.headers)
			req.Attributes.Request.Http.Method = tc.method
			req.Attributes.Request.Http.Id = name
			req.Attributes.ContextExtensions = tc.ext
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := r.client.Check(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if got := answer(resp); got != tc.want.answer {
				t.Fatalf("%s (%s), want %s", got, resp.GetStatus().GetMessage(), tc.want.answer)
			}
			line := grepLines(r.logs.String(), `"request_id":"`+name+`"`)
			if !strings.Contains(line, `"route":"`+tc.want.route+`"`) {
				t.Errorf("decision log %s, want route %q", line, tc.want.route)
			}
		})
	}

	t.Run("insufficient claims say which", func(t *testing.T) {
		resp := r.checkRequest(t, "GET", "/admin/users", bearer(user.Token))
		h := deniedHeaders(resp)
		if want := `error="insufficient_scope", error_description="claim \"role\" must be admin"`; !strings.Contains(h["www-authenticate"], want) {
			t.Errorf("www-authenticate %q lacks %q", h["www-authenticate"], want)
		}
	})

	t.Run("spoofed identity on a public route", func(t *testing.T) {
		spoof := map[string]string{"x-user-id": "attacker", "x-user-role": "admin", "x-user-email": "ceo@example.com"}
		resp := r.checkRequest(t, "GET", "/docs/intro", spoof)
		ok := resp.GetOkResponse()
		if ok == nil || len(ok.GetHeaders()) != 0 {
			t.Fatalf("public without a token: %v", resp)
		}
		for _, h := range []string{"x-user-id", "x-user-role", "x-user-email", "x-user-name", "x-user-org"} {
			if !slices.Contains(ok.GetHeadersToRemove(), h) {
				t.Errorf("%s not stripped", h)
			}
		}
		// With a valid token the identity is the token's, overwriting the spoof.
		h := bearer(user.Token)
		for k, v := range spoof {
			h[k] = v
		}
		resp = r.checkRequest(t, "GET", "/docs/intro", h)
		if got := setHeaders(resp)["x-user-id"].GetHeader().GetValue(); got != user.UserID {
			t.Errorf("x-user-id %q, want %q", got, user.UserID)
		}
		if got := setHeaders(resp)["x-user-role"].GetHeader().GetValue(); got != "user" {
			t.Errorf("x-user-role %q, want user", got)
		}
	})

	t.Run("route names in metrics and logs", func(t *testing.T) {
		_, metrics := r.get(t, "/metrics")
		for _, want := range []string{
			`betterauthz_checks_total{decision="deny",reason="insufficient_claims",route="admin-api",transport="grpc"}`,
			`betterauthz_checks_total{decision="allow",reason="public",route="health-and-docs",transport="grpc"}`,
			`betterauthz_checks_total{decision="deny",reason="policy_denied",route="internal",transport="grpc"}`,
			// Envoy routes' rules share one label, whatever their names (issue 18): whoever
			// writes routes must not add a series per name. The log names them.
			`betterauthz_checks_total{decision="deny",reason="insufficient_claims",route="extensions",transport="grpc"}`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if strings.Contains(metrics, "order-admins") {
			t.Error("/metrics names an Envoy route's rule")
		}
		if !strings.Contains(r.logs.String(), `"route":"admin-api"`) {
			t.Error("decision logs lack the route name")
		}
	})
}
