package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// Rolling out a rule: dryRun on a config rule, an annotated object and an Envoy route lets the
// request through and reports the denial it would have had — in the decision log (even with
// --log-decisions deny), in betterauthz_dry_run_denials_total — while identity headers still
// follow the credential alone.
func TestDryRunRolloutOverGRPC(t *testing.T) {
	t.Parallel()
	r := run(t, baseConfig(ba)+`routes:
  - name: admin-trial
    paths: ["/admin/**"]
    claims: {role: admin}
    dryRun: true
  - name: admin-real
    paths: ["/staff/**"]
    claims: {role: admin}
annotations:
  allowPublic: true # Envoy routes' dry runs too
`, func(o *server.Options) { o.LogDecisions = server.LogDecisionsDeny })
	r.waitReady(t, 10*time.Second)
	user, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}

	resp := r.checkRequest(t, "GET", "/admin/users", map[string]string{"authorization": "Bearer " + user.Token, "x-user-id": "mallory"})
	if resp.GetStatus().GetCode() != 0 || setHeaders(resp)["x-user-id"].GetHeader().GetValue() != user.UserID {
		t.Fatalf("a dry-run rule's claims: %v", resp)
	}
	resp = r.checkRequest(t, "GET", "/admin/users", map[string]string{"x-user-id": "mallory"})
	if resp.GetStatus().GetCode() != 0 || !slices.Contains(resp.GetOkResponse().GetHeadersToRemove(), "x-user-id") || setHeaders(resp)["x-user-id"] != nil {
		t.Fatalf("a dry-run rule without a token: allowed, with x-user-id stripped: %v", resp)
	}
	if got := reasonOf(r.checkRequest(t, "GET", "/staff/x", map[string]string{"authorization": "Bearer " + user.Token})); got != "insufficient_claims" {
		t.Fatalf("a rule without dryRun: %s", got)
	}
	// Envoy route settings can be dry runs too.
	req := checkReq("/orders", nil)
	req.Attributes.ContextExtensions = map[string]string{"betterauthz.io/policy": "deny", "betterauthz.io/dry-run": "true"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if resp, err := r.client.Check(ctx, req); err != nil || resp.GetStatus().GetCode() != 0 {
		t.Fatalf("an Envoy route's dry run: %v %v", resp, err)
	}

	logs := r.logs.String()
	for _, want := range []string{
		`"decision":"allow","reason":"insufficient_claims","status":403,"route":"admin-trial","dry_run":true`,
		`"decision":"allow","reason":"missing_token","status":401,"route":"admin-trial","dry_run":true`,
		`"decision":"allow","reason":"policy_denied","status":403,"route":"context_extensions betterauthz.io/policy","dry_run":true`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s\n%s", want, grepLines(logs, "dry_run"))
		}
	}
	if _, routes := r.get(t, "/debug/routes"); !strings.Contains(routes, "authenticated (dry run)") {
		t.Errorf("/debug/routes does not mark the dry-run rule:\n%s", routes)
	}
	_, metrics := r.get(t, "/metrics")
	for _, want := range []string{
		`betterauthz_dry_run_denials_total{reason="insufficient_claims",route="admin-trial"} 1`,
		`betterauthz_dry_run_denials_total{reason="missing_token",route="admin-trial"} 1`,
		`betterauthz_checks_total{decision="allow",reason="missing_token",route="admin-trial",transport="grpc"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s\n%s", want, grepLines(metrics, "dry_run"))
		}
	}
}

// The top-level dryRun: every denial reported, none enforced — but a request betterauthz cannot
// read is still refused.
func TestDryRunEverything(t *testing.T) {
	t.Parallel()
	r := run(t, baseConfig(ba)+"dryRun: true\ndefaultPolicy: deny\n", nil)
	r.waitReady(t, 10*time.Second)
	if got := r.hostCheck(t, "GET", "h", "/anything", nil); got != "allowed" {
		t.Fatalf("dryRun: true, defaultPolicy deny: %s", got)
	}
	if got := r.hostCheck(t, "GET", "h", "/a/%zz", nil); got != "denied 400" {
		t.Fatalf("a malformed path under a dry run: %s", got)
	}
}

// Annotations on a real API server: betterauthz.io/dry-run on a Service, and its refusal while
// annotations.allowPublic is false.
func TestDryRunAnnotations(t *testing.T) {
	k := newKube(t)
	cfg := baseConfig(ba) + "annotations:\n  namespaces: [" + k.ns + "]\n"
	var path string
	r := run(t, cfg+"  allowPublic: true\n", func(o *server.Options) { o.Kubeconfig = k.kubeconfig; path = o.ConfigPath })
	r.waitReady(t, 20*time.Second)
	user, _ := ba.Mint(betterauth.MintOptions{})
	k.service(t, k.ns, "orders", map[string]string{"betterauthz.io/policy": "deny", "betterauthz.io/dry-run": "true"})
	// Without a token: 401 until the object is seen, then let through by its dry run.
	expectAnswer(t, r, "GET", "orders."+k.ns, "/x", nil, "allowed")
	expectAnswer(t, r, "GET", "orders."+k.ns, "/x", bearer(user.Token), "allowed")
	eventually(t, 5*time.Second, func() string {
		_, metrics := r.get(t, "/metrics")
		if want := `betterauthz_dry_run_denials_total{reason="policy_denied",route="annotation"}`; !strings.Contains(metrics, want) {
			return "/metrics lacks " + want
		}
		return ""
	})

	// allowPublic: false (the default): the object's policy is refused (its requests fall back
	// to the config, which needs a token) and the reason is logged.
	writeAtomically(t, path, cfg)
	expectAnswer(t, r, "GET", "orders."+k.ns, "/x", nil, "denied 401")
	eventually(t, 10*time.Second, func() string {
		if want := "dry runs are refused here while annotations.allowPublic is false"; !strings.Contains(r.logs.String(), want) {
			return fmt.Sprintf("logs lack %q", want)
		}
		return ""
	})
}
