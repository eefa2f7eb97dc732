package authz

import (
	"context"
	"fmt"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
)

// BenchmarkDecide: one decision for an allowed request whose token's claims are already
// verified (as on a cache hit): betterauthz's own cost on top of the verifier and the transport.
func BenchmarkDecide(b *testing.B) {
	v := fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","name":"Alice","role":"admin,user","emailVerified":true}`)}
	live := testPolicy().live(v, nil)
	r := httpCheck("GET", "api.example.com:443", "/api/orders?page=2", map[string]string{
		"authorization": "Bearer good", "user-agent": "Mozilla/5.0", "x-user-id": "spoofed",
	})
	r.Scratch = new(Scratch) // as extauthz gives it
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(ctx, live, r); !d.Allowed() {
			b.Fatal("denied")
		}
	}
}

// BenchmarkRouteMatch1000: resolving a request against 1,000 config rules.
func BenchmarkRouteMatch1000(b *testing.B) {
	specs := make([]policy.RuleSpec, 1000)
	for i := range specs {
		specs[i] = policy.RuleSpec{
			Name:    fmt.Sprintf("svc-%d", i),
			Hosts:   []string{fmt.Sprintf("svc-%d.example.com", i%50), "*.internal"},
			Paths:   []string{fmt.Sprintf("/svc-%d/**", i), fmt.Sprintf("/v1/svc-%d/*/items", i)},
			Methods: []string{"GET", "POST"},
		}
	}
	rules, errs := policy.CompileRules(specs, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	p := testPolicy()
	p.Routes = rules
	s := p.live(nil, nil)
	for name, req := range map[string][3]string{
		"last rule": {"svc-49.example.com", "/v1/svc-999/42/items", "GET"},
		"no rule":   {"other.example.com", "/nothing/here", "GET"},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var buf [4]*policy.Rule
			var segs [16]string
			for b.Loop() {
				rd, _ := normalizePath(req[1])
				host, _ := normalizeHost(req[0])
				rules := s.rulesFor(buf[:0], nil, host, policy.SplitPath(rd.asSent, segs[:]), req[2], "")
				if len(rules) == 0 {
					b.Fatal("no rule")
				}
			}
		})
	}
}
