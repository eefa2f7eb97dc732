package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// OAuth access tokens of Better Auth's real OAuth provider (@better-auth/oauth-provider, through
// the mcp plugin of test/betterauth/plugins.mjs) against betterauthz's resource rules.

func oauthConfig(s *betterauth.Server) string {
	api, mcp := s.APIResource(), s.MCPResource()
	return fmt.Sprintf(`betterAuthURL: %[1]s
resources:
  - resource: %[2]s
    scopes: [read:tasks, write:tasks]
  - resource: %[3]s
    scopes: [read:tasks, write:tasks]
routes:
  - name: tasks
    paths: ["/api/tasks"]
    resource: %[2]s
    scopes: [read:tasks]
  - name: admin
    paths: ["/api/admin"]
    resource: %[2]s
    scopes: [read:tasks, write:tasks, admin, delete:tasks]
  - name: machines
    paths: ["/api/machine"]
    resource: %[2]s
    subjectKind: client
  - name: either
    paths: ["/api/either"]
    resource: %[2]s
    credentials: [jwt, accessToken]
  - name: mcp
    paths: ["/mcp"]
    resource: %[3]s
    scopes: [read:tasks]
  - name: users
    paths: ["/app/**"]
`, s.URL, api, mcp)
}

func TestOAuthAccessTokensOfTheRealProvider(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{Plugins: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := runHTTP(t, oauthConfig(s))
	r.waitReady(t, 10*time.Second)

	api := s.APIResource()
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
		return tok.AccessToken
	}
	machine := token(betterauth.TokenRequest{Resource: []string{api}}) // read:tasks write:tasks
	userToken := token(betterauth.TokenRequest{AuthorizationCode: true, User: user, Resource: []string{api}, Scope: "openid read:tasks"})
	mcpToken := token(betterauth.TokenRequest{Resource: []string{s.MCPResource()}})
	opaque := token(betterauth.TokenRequest{})
	dpop := token(betterauth.TokenRequest{Resource: []string{api}, DPoP: true})
	if strings.Count(opaque, ".") != 0 || strings.Count(machine, ".") != 2 {
		t.Fatalf("Better Auth's tokens are not what the facts say: opaque %d dots, JWT %d", strings.Count(opaque, "."), strings.Count(machine, "."))
	}

	for name, tc := range map[string]struct {
		path, token, reason, header, value string
	}{
		"client_credentials token, scope met": {"/api/tasks", machine, "allowed", "x-subject-kind", "client"},
		"client id as a header":               {"/api/tasks", machine, "allowed", "x-client-id", client.ID},
		"no user for a machine token":         {"/api/tasks", machine, "allowed", "x-user-id", ""},
		"user token of the code flow":         {"/api/tasks", userToken, "allowed", "x-subject-kind", "user"},
		"user token's subject is the user":    {"/api/tasks", userToken, "allowed", "x-user-id", user.UserID},
		"scopes as a header":                  {"/api/tasks", userToken, "allowed", "x-scope", "openid read:tasks"},
		"scopes missing":                      {"/api/admin", machine, "insufficient_scope", "", ""},
		"a machine route refuses a user":      {"/api/machine", userToken, "insufficient_claims", "", ""},
		"a machine route takes a machine":     {"/api/machine", machine, "allowed", "", ""},
		"another resource's token":            {"/api/tasks", mcpToken, "wrong_resource", "", ""},
		"access token on a user-JWT route":    {"/app/orders", machine, "credential_not_accepted", "", ""},
		"user JWT on an access token route":   {"/api/tasks", user.Token, "credential_not_accepted", "", ""},
		"user JWT where both are taken":       {"/api/either", user.Token, "allowed", "x-user-id", user.UserID},
		"access token where both are taken":   {"/api/either", machine, "allowed", "x-subject-kind", "client"},
		"user JWT on a user-JWT route":        {"/app/orders", user.Token, "allowed", "x-user-id", user.UserID},
		"opaque token, introspection off":     {"/api/tasks", opaque, "invalid_token", "", ""},
		"DPoP-bound token as Bearer":          {"/api/tasks", dpop, "invalid_token", "", ""},
	} {
		t.Run(name, func(t *testing.T) {
			resp := r.checkAs(t, "GET", tc.path, map[string]string{"authorization": "Bearer " + tc.token, "x-subject-kind": "spoofed", "x-client-id": "spoofed"})
			if got := reasonOf(resp); got != tc.reason {
				t.Fatalf("reason %s, want %s: %s", got, tc.reason, resp.GetStatus().GetMessage())
			}
			if tc.header != "" {
				if got := setHeaders(resp)[tc.header].GetHeader().GetValue(); got != tc.value {
					t.Fatalf("%s = %q, want %q", tc.header, got, tc.value)
				}
			}
		})
	}

	t.Run("403 names every missing scope, and where the metadata is", func(t *testing.T) {
		resp, _ := r.ask(t, "GET", "/check", forwarded("/api/admin", machine))
		got := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != 403 || !strings.Contains(got, `error="insufficient_scope"`) || !strings.Contains(got, `scope="admin delete:tasks"`) ||
			!strings.Contains(got, `resource_metadata="`+originOf(api)+`/.well-known/oauth-protected-resource/api"`) {
			t.Fatalf("HTTP %d, WWW-Authenticate %s", resp.StatusCode, got)
		}
	})
	t.Run("DPoP-bound refusal says why", func(t *testing.T) {
		resp, body := r.ask(t, "GET", "/check", forwarded("/api/tasks", dpop))
		if resp.StatusCode != 401 || !strings.Contains(body, "DPoP") {
			t.Fatalf("HTTP %d %s", resp.StatusCode, body)
		}
	})
}

// An MCP client's view, through the HTTP check mode: refused with a challenge, it reads the
// resource metadata the challenge points at, gets a token for that resource from the
// authorization server the metadata names, and is let through.
func TestMCPClientFollowsTheChallenge(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{Plugins: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := runHTTP(t, oauthConfig(s))
	r.waitReady(t, 10*time.Second)

	// 1. No token: 401, and where to learn more.
	resp, _ := r.ask(t, "POST", "/check", forwarded("/mcp", ""))
	challenge := resp.Header.Get("WWW-Authenticate")
	m := regexp.MustCompile(`resource_metadata="([^"]+)"`).FindStringSubmatch(challenge)
	if resp.StatusCode != 401 || m == nil {
		t.Fatalf("HTTP %d, WWW-Authenticate %q", resp.StatusCode, challenge)
	}
	metaURL, err := url.Parse(m[1])
	if err != nil || metaURL.Path != "/.well-known/oauth-protected-resource/mcp" {
		t.Fatalf("resource_metadata %q", m[1])
	}

	// 2. The metadata, where the proxy routes that path: betterauthz's HTTP check port.
	resp, body := r.ask(t, "GET", metaURL.Path, nil)
	var meta struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		Scopes               []string `json:"scopes_supported"`
		BearerMethods        []string `json:"bearer_methods_supported"`
	}
	if err := json.Unmarshal([]byte(body), &meta); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP %d %s", resp.StatusCode, body)
	}
	if meta.Resource != s.MCPResource() || len(meta.AuthorizationServers) != 1 || meta.AuthorizationServers[0] != s.AuthURL() ||
		strings.Join(meta.Scopes, " ") != "read:tasks write:tasks" || strings.Join(meta.BearerMethods, " ") != "header" {
		t.Fatalf("metadata %s; want resource %s, authorization server %s", body, s.MCPResource(), s.AuthURL())
	}
	if resp, _ := r.ask(t, "GET", "/.well-known/oauth-protected-resource/nothing", nil); resp.StatusCode != 404 {
		t.Fatalf("metadata of an unknown resource: HTTP %d", resp.StatusCode)
	}

	// 3. A token for that resource from that authorization server, then 200.
	client, err := s.RegisterOAuthClient(betterauth.OAuthClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	user, err := s.SignUp(betterauth.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.OAuthToken(client, betterauth.TokenRequest{AuthorizationCode: true, User: user, Resource: []string{meta.Resource}, Scope: "openid read:tasks"})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = r.ask(t, "POST", "/check", forwarded("/mcp", tok.AccessToken))
	if resp.StatusCode != 200 || resp.Header.Get("X-User-Id") != user.UserID || resp.Header.Get("X-Subject-Kind") != "user" {
		t.Fatalf("HTTP %d %s %v", resp.StatusCode, body, resp.Header)
	}
}

// forwarded is a forward-auth call about a request to path on app.example.com.
func forwarded(path, token string) map[string]string {
	h := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": path, "X-Forwarded-Proto": "https"}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return h
}

func originOf(u string) string {
	p, _ := url.Parse(u)
	return p.Scheme + "://" + p.Host
}
