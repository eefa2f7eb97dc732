package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// Opaque access tokens of Better Auth's real OAuth provider, run without the JWT plugin
// (disableJwtPlugin: every access token is opaque, stored with the resources it was asked for),
// read through its /oauth2/introspect by betterauthz as a client of its own, linked to the API
// resource. The MCP resource has no introspection: its opaque tokens are refused as before.
func TestOpaqueAccessTokensThroughIntrospection(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{Plugins: true, OpaqueAccessTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	api, mcp := s.APIResource(), s.MCPResource()

	// betterauthz's own confidential client, linked to the API. (Better Auth's mcp() plugin
	// links every new client to the MCP resource too.)
	self, err := s.RegisterOAuthClient(betterauth.OAuthClientOptions{Resources: []string{api}})
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secretFile, []byte(self.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runHTTP(t, fmt.Sprintf(`betterAuthURL: %[1]s
resources:
  - resource: %[2]s
    scopes: [read:tasks, write:tasks]
    introspection:
      clientId: %[4]s
      clientSecretFile: %[5]s
      cacheTTL: 1s
  - resource: %[3]s
routes:
  - name: tasks
    paths: ["/api/tasks"]
    resource: %[2]s
    scopes: [read:tasks]
  - name: admin
    paths: ["/api/admin"]
    resource: %[2]s
    scopes: [read:tasks, admin]
  - name: machines
    paths: ["/api/machine"]
    resource: %[2]s
    subjectKind: client
  - name: mcp
    paths: ["/mcp"]
    resource: %[3]s
`, s.URL, api, mcp, self.ID, secretFile))
	r.waitReady(t, 10*time.Second)

	client, err := s.RegisterOAuthClient(betterauth.OAuthClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	user, err := s.SignUp(betterauth.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := func(req betterauth.TokenRequest) string {
		t.Helper()
		tok, err := s.OAuthToken(client, req)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(tok.AccessToken, ".") {
			t.Fatalf("Better Auth without its JWT plugin issued a JWT: %q", tok.AccessToken)
		}
		return tok.AccessToken
	}
	machine := token(betterauth.TokenRequest{Resource: []string{api}}) // read:tasks write:tasks
	userToken := token(betterauth.TokenRequest{AuthorizationCode: true, User: user, Resource: []string{api}, Scope: "openid read:tasks"})
	mcpToken := token(betterauth.TokenRequest{Resource: []string{mcp}})
	noResource := token(betterauth.TokenRequest{})
	dpop := token(betterauth.TokenRequest{Resource: []string{api}, DPoP: true})

	for name, tc := range map[string]struct {
		path, token, reason string
		headers             map[string]string // "" must be absent
	}{
		"a machine's token": {"/api/tasks", machine, "allowed",
			map[string]string{"x-client-id": client.ID, "x-subject-kind": "client", "x-scope": "read:tasks write:tasks", "x-user-id": ""}},
		"a user's token": {"/api/tasks", userToken, "allowed",
			map[string]string{"x-client-id": client.ID, "x-subject-kind": "user", "x-scope": "openid read:tasks", "x-user-id": user.UserID}},
		"a machine route takes a machine": {"/api/machine", machine, "allowed", nil},
		"a machine route refuses a user":  {"/api/machine", userToken, "insufficient_claims", nil},
		"a missing scope":                 {"/api/admin", machine, "insufficient_scope", nil},
		// Better Auth answers it (betterauthz's client is linked to the MCP resource too), with
		// aud the MCP resource: the route's rule refuses it.
		"a token of another resource": {"/api/tasks", mcpToken, "wrong_resource", nil},
		// A token of no resource may be introspected by the client it was issued to only:
		// Better Auth tells betterauthz it is not active.
		"a token of no resource":    {"/api/tasks", noResource, "invalid_token", nil},
		"a DPoP-bound token":        {"/api/tasks", dpop, "invalid_token", nil},
		"a made-up token":           {"/api/tasks", "madeUpTokenOf32LettersAndDigits0", "invalid_token", nil},
		"introspection off for MCP": {"/mcp", mcpToken, "invalid_token", nil},
		"no token":                  {"/api/tasks", "", "missing_token", nil},
	} {
		t.Run(name, func(t *testing.T) {
			h := map[string]string{"x-subject-kind": "spoofed", "x-client-id": "spoofed", "x-user-id": "spoofed"}
			if tc.token != "" {
				h["authorization"] = "Bearer " + tc.token
			}
			resp := r.checkAs(t, "GET", tc.path, h)
			if got := reasonOf(resp); got != tc.reason {
				t.Fatalf("reason %s, want %s: %s", got, tc.reason, resp.GetStatus().GetMessage())
			}
			set := setHeaders(resp)
			for k, want := range tc.headers {
				if got, ok := set[k]; ok != (want != "") || got.GetHeader().GetValue() != want {
					t.Errorf("%s = %q, want %q", k, got.GetHeader().GetValue(), want)
				}
			}
		})
	}
	t.Run("the refusal says introspection is off", func(t *testing.T) {
		resp, body := r.ask(t, "GET", "/check", forwarded("/mcp", mcpToken))
		if resp.StatusCode != 401 || !strings.Contains(body, "introspection is off for this resource") {
			t.Fatalf("HTTP %d %s", resp.StatusCode, body)
		}
	})

	// Revocation shows once the cache entry lapses (cacheTTL 1s).
	t.Run("a revoked token", func(t *testing.T) {
		tok := token(betterauth.TokenRequest{Resource: []string{api}})
		if got := reasonOf(r.checkAs(t, "GET", "/api/tasks", bearer(tok))); got != "allowed" {
			t.Fatalf("before revocation: %s", got)
		}
		if err := s.Revoke(client, tok); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			got := reasonOf(r.checkAs(t, "GET", "/api/tasks", bearer(tok)))
			if got == "invalid_token" {
				break
			}
			if got != "allowed" || time.Now().After(deadline) {
				t.Fatalf("after revocation: %s", got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	// A secret Better Auth refuses (here: the file rewritten with another) is an outage of
	// introspection, never a 401: 503, and a log line naming the resource and the client.
	t.Run("a refused client credential", func(t *testing.T) {
		tmp := secretFile + ".new"
		if err := os.WriteFile(tmp, []byte("not-the-secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, secretFile); err != nil {
			t.Fatal(err)
		}
		fresh := token(betterauth.TokenRequest{Resource: []string{api}})
		resp := r.checkAs(t, "GET", "/api/tasks", bearer(fresh))
		if reasonOf(resp) != "introspection_unavailable" || resp.GetDeniedResponse().GetStatus().GetCode() != 503 || deniedHeaders(resp)["retry-after"] == "" {
			t.Fatalf("%s %v", resp.GetStatus().GetMessage(), deniedHeaders(resp))
		}
		logs := r.logs.String()
		if !strings.Contains(logs, `"client_id":"`+self.ID+`"`) || !strings.Contains(logs, `"resource":"`+api+`"`) {
			t.Fatalf("no log line names the client and the resource:\n%s", logs)
		}
		if err := os.WriteFile(tmp, []byte(self.Secret), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, secretFile); err != nil {
			t.Fatal(err)
		}
		if got := reasonOf(r.checkAs(t, "GET", "/api/tasks", bearer(fresh))); got != "allowed" {
			t.Fatalf("with the secret back: %s", got)
		}
	})

	_, metrics := r.get(t, "/metrics")
	for _, outcome := range []string{"active", "inactive", "client_rejected"} {
		if n, ok := metricValue(metrics, `betterauthz_introspections_total{outcome="`+outcome+`"}`); !ok || n < 1 {
			t.Errorf("introspections %s: %v", outcome, grepLines(metrics, "introspections"))
		}
	}
	for what, text := range map[string]string{"logs": r.logs.String(), "metrics": metrics} {
		if strings.Contains(text, self.Secret) {
			t.Errorf("the client secret is in betterauthz's %s", what)
		}
	}
}
