package authz

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

func dryRunLive(t *testing.T) *Snapshot {
	t.Helper()
	p := testPolicy()
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "admin-trial", Paths: []string{"/admin/**"}, Claims: map[string]any{"role": "admin"}, DryRun: true},
		{Name: "closing", Paths: []string{"/old/**"}, Policy: "deny", DryRun: true},
		{Name: "billing", Paths: []string{"/billing/**"}, Claims: map[string]any{"role": "admin"}},
		{Name: "public", Paths: []string{"/public/**"}, Policy: "public", DryRun: true},
	}, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p.Routes = rules
	return p.live(fakeVerifier{
		"user":    claims(`{"sub":"u1","email":"u@example.com","role":"user"}`),
		"expired": jwks.ErrExpired,
	}, nil)
}

func TestDryRunRules(t *testing.T) {
	l := dryRunLive(t)
	spoof := map[string]string{"x-user-id": "mallory"}
	with := func(h map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	cases := map[string]struct {
		method, path string
		headers      map[string]string
		reason       Reason
		dryRun       bool
		subject      string // identity set ("" : every identity header stripped)
	}{
		"claims lacking: allowed, the identity set":   {"GET", "/admin/users", with(spoof, "authorization", "Bearer user"), ReasonInsufficientClaims, true, "u1"},
		"no token: allowed, no identity":              {"GET", "/admin/users", spoof, ReasonMissingToken, true, ""},
		"expired token: allowed, no identity":         {"GET", "/admin/users", with(spoof, "authorization", "Bearer expired"), ReasonExpired, true, ""},
		"a deny rule: allowed, the identity set":      {"GET", "/old/page", with(spoof, "authorization", "Bearer user"), ReasonPolicyDenied, true, "u1"},
		"a deny rule without a token: no identity":    {"GET", "/old/page", spoof, ReasonPolicyDenied, true, ""},
		"an enforced rule stays enforced":             {"GET", "/billing/x", with(spoof, "authorization", "Bearer user"), ReasonInsufficientClaims, false, ""},
		"the default policy stays enforced":           {"GET", "/orders", spoof, ReasonMissingToken, false, ""},
		"a dry-run public rule is just public":        {"GET", "/public/x", spoof, ReasonPublic, false, ""},
		"a malformed path is refused, dry run or not": {"GET", "/admin/%zz", spoof, ReasonBadRequest, false, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d := Decide(context.Background(), l, httpCheck(tc.method, "api.example.com", tc.path, tc.headers))
			if d.Reason != tc.reason || d.DryRun != tc.dryRun {
				t.Fatalf("reason %s dry run %v, want %s %v", d.Reason, d.DryRun, tc.reason, tc.dryRun)
			}
			wantAllowed := tc.dryRun || tc.reason == ReasonPublic
			if d.Allowed() != wantAllowed {
				t.Fatalf("allowed %v, want %v", d.Allowed(), wantAllowed)
			}
			if !d.Allowed() {
				return
			}
			if d.Code() != CodeOK || d.StatusMessage() != "" {
				t.Errorf("code %v message %q for an allowed request", d.Code(), d.StatusMessage())
			}
			id := ""
			for _, h := range d.Set {
				if h.Name == "x-user-id" {
					id = h.Value
				}
			}
			if id != tc.subject {
				t.Errorf("x-user-id set to %q, want %q", id, tc.subject)
			}
			if tc.subject == "" && !slices.Contains(d.Remove, "x-user-id") {
				t.Errorf("x-user-id not stripped (remove %v): a client's own would pass", d.Remove)
			}
			if d.Location != "" {
				t.Errorf("a dry run redirects to %s", d.Location)
			}
		})
	}
}

func TestDryRunEverything(t *testing.T) {
	l := dryRunLive(t)
	l.Config.DryRun = true
	d := Decide(context.Background(), l, httpCheck("GET", "h", "/orders", nil))
	if !d.DryRun || !d.Allowed() || d.Reason != ReasonMissingToken || d.RouteLabel != "default" {
		t.Fatalf("%+v", d)
	}
	d = Decide(context.Background(), l, httpCheck("GET", "h", "/billing/x", map[string]string{"authorization": "Bearer user"}))
	if !d.DryRun || d.Reason != ReasonInsufficientClaims || d.Subject != "u1" {
		t.Fatalf("%+v", d)
	}
	if d := Decide(context.Background(), l, httpCheck("GET", "h", "/a/%00", nil)); d.Allowed() {
		t.Fatalf("a bad request was let through: %+v", d)
	}
}

func TestDryRunIsAllRulesThatDecided(t *testing.T) {
	// A path read two ways (as sent, and case-folded) is decided by both readings' rules: one
	// that is no dry run keeps its denial.
	p := testPolicy()
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "trial", Paths: []string{"/a/b"}, Policy: "deny", DryRun: true},
		{Name: "real", Paths: []string{"/A/B"}, Policy: "deny"},
	}, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p.Routes = rules
	l := p.live(fakeVerifier{}, nil)
	if d := Decide(context.Background(), l, httpCheck("GET", "h", "/a/b", nil)); !d.DryRun {
		t.Fatalf("only the dry-run rule decided, yet: %+v", d)
	}
	d := Decide(context.Background(), l, httpCheck("GET", "h", "/A/B", nil))
	if d.Allowed() || d.Route != "real+trial" {
		t.Fatalf("a denial of a rule that is no dry run was let through: %+v", d)
	}
}

func TestDryRunObjectsAndRoutes(t *testing.T) {
	op, err := policy.ParseObjectRules(map[string]string{"betterauthz.io/policy": "deny", "betterauthz.io/dry-run": "true"}, "Service shop/orders")
	if err != nil || !op.HasDryRun() || !op.Default.DryRun() {
		t.Fatalf("%v %+v", err, op)
	}
	if _, err := policy.ParseObjectRules(map[string]string{"betterauthz.io/policy": "deny", "betterauthz.io/dry-run": "yes"}, "x"); err == nil {
		t.Fatal("dry-run: yes accepted")
	}
	op, err = policy.ParseObjectRules(map[string]string{"betterauthz.io/rules": `[{paths: ["/x"], policy: deny, dryRun: true}]`}, "x")
	if err != nil || !op.HasDryRun() {
		t.Fatalf("%v", err)
	}

	ext := map[string]string{"betterauthz.io/policy": "deny", "betterauthz.io/dry-run": "true"}
	l := dryRunLive(t)
	r := httpCheck("GET", "h", "/orders", nil)
	r.ContextExtensions = ext
	if d := Decide(context.Background(), l, r); !d.DryRun || d.Reason != ReasonPolicyDenied {
		t.Fatalf("an Envoy route's dry run: %+v", d)
	}
	// With annotations.allowPublic false, a dry run on a route would open what the config
	// denies: refused as an invalid route policy (and the request with it).
	l = dryRunLive(t)
	l.Config.AnnotationsOnlyTighten = true
	if d := Decide(context.Background(), l, r); d.Allowed() || d.Reason != ReasonInvalidRoutePolicy {
		t.Fatalf("tighten-only: %+v", d)
	}
	var e policy.Extensions
	if _, err := e.Rules(ext, policy.Limits{RefuseDryRun: true}); !errors.Is(err, policy.ErrDryRunTightenOnly) {
		t.Fatalf("err %v", err)
	}
}

// TestRouteRulesNameKnownIssuers: context_extensions rules that name an issuer the config lacks
// are an invalid route policy (500, fail closed), like any other invalid route setting.
func TestRouteRulesNameKnownIssuers(t *testing.T) {
	ext := map[string]string{policy.KeyRules: "- paths: [/orders]\n  issuer: staging\n"}
	var e policy.Extensions
	if _, err := e.Rules(ext, policy.Limits{Issuers: []string{"default"}}); err == nil || !strings.Contains(err.Error(), `issuer "staging" names no issuer`) {
		t.Fatalf("err %v", err)
	}
	var unchecked policy.Extensions
	if _, err := unchecked.Rules(ext, policy.Limits{}); err != nil {
		t.Fatalf("without issuer names: %v", err)
	}
	l := dryRunLive(t)
	l.Config.IssuerNames = []string{"default"}
	r := httpCheck("GET", "h", "/orders", nil)
	r.ContextExtensions = ext
	if d := Decide(context.Background(), l, r); d.Allowed() || d.Reason != ReasonInvalidRoutePolicy {
		t.Fatalf("a route naming an unknown issuer: %+v", d)
	}
}
