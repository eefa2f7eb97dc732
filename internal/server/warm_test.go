package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/extauthz"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/metrics"
	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/jwks"
)

// warmConfig: Better Auth's identity headers and a role, and the request's route needs a claim.
const warmConfig = `
betterAuthURL: %s
identityHeaders:
  x-user-id: sub
  x-user-email: email
  x-user-name: name
  x-user-role: role
routes:
  - name: health
    paths: ["/healthz"]
    policy: public
  - name: admin
    paths: ["/admin/**"]
    claims: {role: [admin]}
cache: {maxEntries: %d}
`

// warm is betterauthz's check as Run assembles it — the compiled config, a verifier with its
// token cache, the decision observer with its metrics and the default --log-decisions deny —
// called in-process, with a request whose token is in the cache: what a cache hit costs
// betterauthz's own code, without the gRPC transport.
type warm struct {
	authorizer *authz.Authorizer
	server     *extauthz.Server
	req        *authv3.CheckRequest
}

func newWarm(t testing.TB) *warm { return newCheck(t, "EdDSA", 10000) }

// newCheck is warm with a token signed with alg and cache.maxEntries cacheEntries (0: every
// check verifies the token).
func newCheck(t testing.TB, alg string, cacheEntries int) *warm {
	t.Helper()
	s, err := config.Parse(fmt.Appendf(nil, warmConfig, ba.URL, cacheEntries), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	is := s.Issuers[0]
	ks, err := jwks.NewKeySet(jwks.KeySetOptions{URL: is.JWKSURL, Name: is.Name})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ks.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	v, err := jwks.NewVerifier(jwks.VerifierOptions{
		Trusts:       []jwks.Trust{{Name: is.Name, Keys: ks, Issuer: is.Issuer, Audiences: is.Audiences, Algorithms: is.Algorithms}},
		ClockSkew:    s.ClockSkew,
		CacheEntries: s.CacheEntries,
		CacheBytes:   s.CacheBytes,
	})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	a := authz.NewAuthorizer(&authz.Snapshot{Config: s.Compile(), Verifier: v},
		server.NewDecisionObserver(log, server.LogDecisionsDeny, metrics.New(prometheus.NewRegistry())))
	m, err := ba.Mint(betterauth.MintOptions{Alg: alg, User: map[string]any{"role": "admin,user"}})
	if err != nil {
		t.Fatal(err)
	}
	w := &warm{authorizer: a, server: extauthz.NewServer(a), req: &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "0f8fad5b-d9cb-469f-a165-70867728950e", Method: "GET", Host: "api.example.com:443", Path: "/admin/users?page=2",
			Headers: map[string]string{
				"authorization": "Bearer " + m.Token, "user-agent": "Mozilla/5.0", "accept": "application/json",
				"x-request-id": "0f8fad5b-d9cb-469f-a165-70867728950e", "x-forwarded-for": "203.0.113.9", "x-user-id": "spoofed",
			},
		}},
	}}}
	deadline := time.Now().Add(10 * time.Second)
	for !ks.Loaded() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	w.check(t) // verified once: every check after is a cache hit
	return w
}

// check runs one Check and insists on the allowed answer with the identity headers.
func (w *warm) check(t testing.TB) {
	resp, _ := w.server.Check(context.Background(), w.req)
	ok := resp.GetOkResponse()
	if ok == nil || len(ok.GetHeaders()) != 4 || !hasHeader(ok.GetHeaders(), "x-user-role", "admin,user") {
		t.Fatalf("not allowed with the identity headers: %v", resp)
	}
}

func hasHeader(hs []*corev3.HeaderValueOption, name, value string) bool {
	for _, h := range hs {
		if h.GetHeader().GetKey() == name && h.GetHeader().GetValue() == value {
			return true
		}
	}
	return false
}

// BenchmarkWarmCheck: extauthz's Check of a cached token, extract, decide and render.
func BenchmarkWarmCheck(b *testing.B) {
	w := newWarm(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if resp, _ := w.server.Check(ctx, w.req); resp.GetOkResponse() == nil {
			b.Fatal("denied")
		}
	}
}

// BenchmarkColdCheck: BenchmarkWarmCheck with the cache off, per algorithm: every check
// verifies the token (compare BenchmarkCold in ./jwks, the verification alone).
func BenchmarkColdCheck(b *testing.B) {
	for _, alg := range jwks.Algorithms() {
		b.Run(alg, func(b *testing.B) {
			w := newCheck(b, alg, 0)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if resp, _ := w.server.Check(ctx, w.req); resp.GetOkResponse() == nil {
					b.Fatal("denied")
				}
			}
		})
	}
}

// BenchmarkWarmAuthorize: the decision alone (the request read once, as the transport reads
// it), for a cached token.
func BenchmarkWarmAuthorize(b *testing.B) {
	w := newWarm(b)
	r, err := extauthz.Extract(w.req)
	if err != nil {
		b.Fatal(err)
	}
	r.Scratch = new(authz.Scratch) // as extauthz's Check gives it, in the block it allocates
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d := w.authorizer.Authorize(ctx, r); !d.Allowed() {
			b.Fatal("denied")
		}
	}
}

// A cache hit allocates nothing in the decision, observer and metrics included, and nothing in
// the gRPC translation but the answer itself: one block holding the CheckResponse's messages
// (with the request and the decision's scratch memory), which gRPC marshals after Check returns.
func TestWarmCheckAllocatesOnlyTheAnswer(t *testing.T) {
	w := newWarm(t)
	r, err := extauthz.Extract(w.req)
	if err != nil {
		t.Fatal(err)
	}
	r.Scratch = new(authz.Scratch)
	ctx := context.Background()
	if n := testing.AllocsPerRun(200, func() { w.authorizer.Authorize(ctx, r) }); n != 0 {
		t.Errorf("Authorize of a cached token: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() { _, _ = w.server.Check(ctx, w.req) }); n != 1 {
		t.Errorf("Check of a cached token: %v allocations, want 1 (the answer)", n)
	}
}
