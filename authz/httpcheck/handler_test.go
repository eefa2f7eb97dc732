package httpcheck

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// fakeVerifier answers from a table (token -> claims JSON, or an error): the real verifier is
// tested in package jwks and end to end in internal/server.
type fakeVerifier map[string]any

func (f fakeVerifier) Verify(_ context.Context, token string) (jwks.Claims, error) {
	switch v := f[token].(type) {
	case string:
		var c jwks.Claims
		d := json.NewDecoder(strings.NewReader(v))
		d.UseNumber()
		err := d.Decode(&c)
		return c, err
	case error:
		return jwks.Claims{}, v
	}
	return jwks.Claims{}, jwks.ErrInvalidToken
}

func testHandler(t *testing.T, v fakeVerifier) *Handler {
	t.Helper()
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "public-host", Hosts: []string{"public.example.com"}, Policy: "public"},
		{Name: "public", Paths: []string{"/public/**"}, Policy: "public"},
		{Name: "admin", Paths: []string{"/admin/**"}, Claims: map[string]any{"role": "admin"}},
		{Name: "closed", Paths: []string{"/closed"}, Policy: "deny"},
	}, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	live := &authz.Snapshot{
		Config: &authz.Config{
			Routes: policy.NewRoutes(rules, policy.Authenticated),
			IdentityHeaders: []authz.IdentityHeader{
				{Name: "x-user-email", Claim: "email"}, {Name: "x-user-id", Claim: "sub"}, {Name: "x-user-role", Claim: "role"},
			},
			AllowCORSPreflight: true,
			Realm:              "https://auth.example.com",
		},
		Verifier: v,
	}
	return NewHandler(authz.NewAuthorizer(live, nil), 0)
}

func TestHandler(t *testing.T) {
	h := testHandler(t, fakeVerifier{
		"alice": `{"sub":"u1","email":"a@example.com"}`,
		"admin": `{"sub":"u2","email":"b@example.com","role":"admin"}`,
		"old":   jwks.ErrExpired,
		"early": jwks.ErrNotReady,
	})
	type want struct {
		status  int
		headers map[string]string // "" means present and empty; a missing key is not checked
		absent  []string
		reason  string // JSON body's error, for denials
	}
	cases := map[string]struct {
		method, target string
		headers        map[string]string
		want           want
	}{
		"allowed through /check": {
			target:  "/check",
			headers: map[string]string{"X-Forwarded-Uri": "/api", "X-Forwarded-Host": "app.example.com", "Authorization": "Bearer alice"},
			want:    want{status: 200, headers: map[string]string{"X-User-Id": "u1", "X-User-Email": "a@example.com", "X-User-Role": "", "Cache-Control": "no-store"}},
		},
		"no token": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/api"},
			want:    want{status: 401, headers: map[string]string{"Www-Authenticate": `Bearer realm="https://auth.example.com"`, "Content-Type": "application/json"}, absent: []string{"X-User-Id"}, reason: "missing_token"},
		},
		"expired": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/api", "Authorization": "Bearer old"},
			want:    want{status: 401, headers: map[string]string{"Www-Authenticate": `Bearer realm="https://auth.example.com", error="invalid_token", error_description="token expired"`}, reason: "invalid_token"},
		},
		"claims": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/admin/x", "Authorization": "Bearer alice"},
			want:    want{status: 403, reason: "insufficient_scope"},
		},
		"claims met": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/admin/x", "Authorization": "Bearer admin"},
			want:    want{status: 200, headers: map[string]string{"X-User-Role": "admin"}},
		},
		"closed route": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/closed", "Authorization": "Bearer admin"},
			want:    want{status: 403, reason: "access_denied"},
		},
		"keys not loaded": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/api", "Authorization": "Bearer early"},
			want:    want{status: 503, headers: map[string]string{"Retry-After": "5"}, reason: "temporarily_unavailable"},
		},
		"public, no token: identity sent empty": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/public/x"},
			want:    want{status: 200, headers: map[string]string{"X-User-Id": "", "X-User-Email": "", "X-User-Role": ""}},
		},
		"dot segments are read": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/public/../admin/x", "Authorization": "Bearer alice"},
			want:    want{status: 403, reason: "insufficient_scope"},
		},
		"families disagree": {
			target:  "/check",
			headers: map[string]string{"X-Forwarded-Uri": "/public/x", "X-Original-Uri": "/admin/x"},
			want:    want{status: 400, reason: "invalid_request"},
		},
		"a relative target: 400, as in gRPC mode": {
			target:  "/check",
			headers: map[string]string{"X-Forwarded-Uri": "public/x"},
			want:    want{status: 400, reason: "invalid_request"},
		},
		"a relative X-Original-URI: 400": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "@public.example.com/x"},
			want:    want{status: 400, reason: "invalid_request"},
		},
		"the original host decides": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/api", "Host": "public.example.com"},
			want:    want{status: 200},
		},
		"a client's X-Forwarded-Host beside X-Original-URI has no say": {
			target:  "/check",
			headers: map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "/api", "X-Forwarded-Host": "public.example.com"},
			want:    want{status: 401, reason: "missing_token"},
		},
		"a client's whole X-Forwarded-* family beside X-Original-URI: 400": {
			target:  "/check",
			headers: map[string]string{"X-Original-Uri": "/api", "X-Forwarded-Host": "public.example.com", "X-Forwarded-Uri": "/api", "X-Forwarded-Method": "GET"},
			want:    want{status: 400, reason: "invalid_request"},
		},
		"an absolute-form request line for another host (ingress-nginx): 400": {
			target: "/check",
			headers: map[string]string{
				"X-Forwarded-Method": "GET", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/api",
				"X-Original-Method": "GET", "X-Original-Url": "http://public.example.com/api",
			},
			want: want{status: 400, reason: "invalid_request"},
		},
		"a port in the client's Host (ingress-nginx) is no disagreement": {
			target: "/check",
			headers: map[string]string{
				"X-Forwarded-Method": "GET", "X-Forwarded-Host": "public.example.com", "X-Forwarded-Uri": "/api",
				"X-Original-Method": "GET", "X-Original-Url": "http://Public.Example.com:8080/api",
			},
			want: want{status: 200},
		},
		"no original path": {
			target: "/check",
			want:   want{status: 400, reason: "invalid_request"},
		},
		"bad host": {
			target:  "/check",
			headers: map[string]string{"X-Forwarded-Host": "evil@app.example.com", "X-Forwarded-Uri": "/public/x"},
			want:    want{status: 400, reason: "invalid_request"},
		},
		"Envoy http_service": {
			method: "DELETE", target: "/envoy/admin/x?y=1",
			headers: map[string]string{"Authorization": "Bearer admin"},
			want:    want{status: 200, headers: map[string]string{"X-User-Id": "u2"}},
		},
		"Envoy, encoded dots read as sent": {
			target:  "/envoy/public/%2e%2e/admin/x",
			headers: map[string]string{"Authorization": "Bearer alice"},
			want:    want{status: 403, reason: "insufficient_scope"},
		},
		"Envoy, root": {
			target: "/envoy",
			want:   want{status: 401, reason: "missing_token"},
		},
		"another path": {
			target: "/checks",
			want:   want{status: 404},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req := httptest.NewRequest(method, tc.target, nil)
			req.Host = "app.example.com"
			for k, v := range tc.headers {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tc.want.status {
				t.Fatalf("status %d, want %d (body %s)", res.StatusCode, tc.want.status, rec.Body.String())
			}
			for k, v := range tc.want.headers {
				got, present := res.Header[http.CanonicalHeaderKey(k)]
				if !present || len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, present, v)
				}
			}
			for _, k := range tc.want.absent {
				if _, present := res.Header[http.CanonicalHeaderKey(k)]; present {
					t.Errorf("%s present on a denial", k)
				}
			}
			if tc.want.reason != "" {
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error != tc.want.reason {
					t.Errorf("body %q, want error %q", rec.Body.String(), tc.want.reason)
				}
			}
		})
	}
}
