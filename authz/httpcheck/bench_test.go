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

// cachedVerifier answers one token with claims decoded once, as the verifier's cache does.
type cachedVerifier struct{ claims jwks.Claims }

func (v cachedVerifier) Verify(_ context.Context, token string) (jwks.Claims, error) {
	if token != "good" {
		return jwks.Claims{}, jwks.ErrInvalidToken
	}
	return v.claims, nil
}

// BenchmarkForwardAuth: one /check call (Traefik, Caddy, nginx) for a cached token, through
// ServeHTTP to the answer's headers: betterauthz's own cost on top of net/http.
func BenchmarkForwardAuth(b *testing.B) {
	var c jwks.Claims
	d := json.NewDecoder(strings.NewReader(`{"sub":"u1","email":"a@example.com","name":"Alice","role":"admin,user"}`))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		b.Fatal(err)
	}
	h := NewHandler(authz.NewAuthorizer(&authz.Snapshot{
		Config: &authz.Config{
			Routes: policy.NewRoutes(nil, policy.Authenticated),
			IdentityHeaders: []authz.IdentityHeader{
				{Name: "x-user-email", Claim: "email"}, {Name: "x-user-id", Claim: "sub"}, {Name: "x-user-name", Claim: "name"},
			},
			Realm: "https://auth.example.com",
		},
		Verifier: cachedVerifier{c},
	}, nil), 0)
	r := httptest.NewRequest("GET", "http://authz:8080/check", nil)
	r.Header.Set("Authorization", "Bearer good")
	r.Header.Set("X-Forwarded-Method", "GET")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "api.example.com")
	r.Header.Set("X-Forwarded-Uri", "/api/orders?page=2")
	r.Header.Set("User-Agent", "Mozilla/5.0")
	r.Header.Set("X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e")
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.status != http.StatusOK || w.h.Get("X-User-Id") != "u1" {
		b.Fatalf("%d %v", w.status, w.h)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// discardWriter is a ResponseWriter that keeps the status and headers only.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
