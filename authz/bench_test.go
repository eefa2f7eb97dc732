package authz

import (
	"context"
	"fmt"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

func benchRequest(path string) *authv3.CheckRequest {
	return httpCheck("GET", "api.example.com:443", path, map[string]string{
		"authorization":   "Bearer good",
		"user-agent":      "Mozilla/5.0",
		"accept":          "application/json",
		"accept-encoding": "gzip, br",
		"x-request-id":    "0f8fad5b-d9cb-469f-a165-70867728950e",
		"x-forwarded-for": "203.0.113.9",
		"cookie":          "theme=dark",
		"x-user-id":       "spoofed",
	})
}

// BenchmarkCheck: one Check through extract, decide and render, with the token's claims
// already verified (as on a cache hit): betterauthz's own cost on top of the verifier.
func BenchmarkCheck(b *testing.B) {
	p := testPolicy()
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","name":"Alice","role":"admin,user","emailVerified":true}`)}
	svc := NewService(&Snapshot{Policy: p, Verifier: v}, nil)
	req := benchRequest("/api/orders?page=2")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := svc.Check(ctx, req)
		if resp.GetOkResponse() == nil {
			b.Fatal("denied")
		}
	}
}

// BenchmarkRouteMatch1000: resolving a request against 1,000 config rules.
func BenchmarkRouteMatch1000(b *testing.B) {
	specs := make([]RuleSpec, 1000)
	for i := range specs {
		specs[i] = RuleSpec{
			Name:    fmt.Sprintf("svc-%d", i),
			Hosts:   []string{fmt.Sprintf("svc-%d.example.com", i%50), "*.internal"},
			Paths:   []string{fmt.Sprintf("/svc-%d/**", i), fmt.Sprintf("/v1/svc-%d/*/items", i)},
			Methods: []string{"GET", "POST"},
		}
	}
	rules, errs := CompileRules(specs, "routes", "config", true, nil)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	p := testPolicy()
	p.Routes = rules
	s := &Snapshot{Policy: p}
	for name, req := range map[string][3]string{
		"last rule": {"svc-49.example.com", "/v1/svc-999/42/items", "GET"},
		"no rule":   {"other.example.com", "/nothing/here", "GET"},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var buf [4]*Rule
			var segs [16]string
			for b.Loop() {
				rd, _ := normalizePath(req[1])
				host, _ := normalizeHost(req[0])
				rules := s.rulesFor(buf[:0], nil, host, splitPath(rd.asSent, segs[:]), req[2], "")
				if len(rules) == 0 {
					b.Fatal("no rule")
				}
			}
		})
	}
}
