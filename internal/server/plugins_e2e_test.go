package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/proxies"
)

// Better Auth's organization, admin, anonymous and api-key plugins at the edge, against the
// real packages (test/betterauth with TEST_PLUGINS) and the whole server.

func pluginsConfig(s *betterauth.Server, extra string) string {
	return fmt.Sprintf(`betterAuthURL: %s
clockSkew: 1s
identityHeaders:
  x-user-id: sub
  x-organization-id: "@organization"
  x-organization-role: "@organizationRole"
  x-impersonated-by: "@impersonatedBy"
  x-api-key-id: "@apiKeyId"
sessions:
  cookieCache: true
  lookup: true
  lookupTTL: 2s
apiKeys:
  enabled: true
routes:
  - name: home
    paths: ["/"]
    policy: public
  - name: org-admin
    paths: ["/org/settings/**"]
    orgRoles: [admin, owner]
  - name: support
    paths: ["/support/**"]
    impersonated: true
  - name: billing
    paths: ["/billing/**"]
    impersonated: false
  - name: members
    paths: ["/members/**"]
    anonymous: false
  - name: machines
    paths: ["/api/**"]
    credentials: [apiKey, jwt]
%s`, s.URL, extra)
}

func startPlugins(t *testing.T) *betterauth.Server {
	t.Helper()
	s, err := betterauth.StartWith(betterauth.StartOptions{Plugins: true, CookieCache: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// must is v, or a panic (which fails the test) on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func header(resp *authv3.CheckResponse, name string) string {
	return setHeaders(resp)[name].GetHeader().GetValue()
}

func removed(resp *authv3.CheckResponse) []string {
	return resp.GetOkResponse().GetHeadersToRemove()
}

// cacheCookie is only the session-cache cookie of what a browser holds.
func cacheCookie(s *betterauth.Session) map[string]string {
	return map[string]string{"cookie": "better-auth.session_data=" + s.SessionCacheToken}
}

func TestOrganizationsAdminsAndAnonymousUsers(t *testing.T) {
	t.Parallel()
	s := startPlugins(t)
	r := run(t, pluginsConfig(s, ""), nil)
	r.waitReady(t, 10*time.Second)

	admin := must(s.SignUp(betterauth.UserOptions{Roles: []string{"admin", "user"}}))
	member := must(s.SignUp(betterauth.UserOptions{}))
	reader := must(s.SignUp(betterauth.UserOptions{}))
	org := must(s.CreateOrganization(admin,
		betterauth.Member{UserID: member.UserID, Roles: []string{"member", "admin"}},
		betterauth.Member{UserID: reader.UserID, Roles: []string{"member"}}))
	member = must(s.SetActiveOrganization(member, org.ID, ""))
	reader = must(s.SetActiveOrganization(reader, org.ID, ""))
	owner := must(s.SetActiveOrganization(admin, org.ID, ""))

	t.Run("the organization role, asked of Better Auth (comma-joined roles split)", func(t *testing.T) {
		for name, tc := range map[string]struct {
			who  *betterauth.Session
			want string
			role string
		}{
			"owner":                  {owner, "allowed", "owner"},
			"member,admin":           {member, "allowed", "member,admin"},
			"member only":            {reader, "insufficient_claims", ""},
			"no active organization": {must(s.SignUp(betterauth.UserOptions{})), "insufficient_claims", ""},
		} {
			resp := r.checkAs(t, "GET", "/org/settings/plan", map[string]string{"cookie": tc.who.Cookie, "x-organization-role": "owner"})
			if got := reasonOf(resp); got != tc.want {
				t.Errorf("%s: %s, want %s", name, got, tc.want)
				continue
			}
			if tc.want == "allowed" && (header(resp, "x-organization-role") != tc.role || header(resp, "x-organization-id") != org.ID) {
				t.Errorf("%s: headers %v", name, setHeaders(resp))
			}
		}
		// A header the client sent is never passed on for one betterauthz sets.
		resp := r.checkAs(t, "GET", "/", map[string]string{"x-organization-role": "owner"})
		if resp.GetOkResponse() == nil || !strings.Contains(strings.Join(removed(resp), ","), "x-organization-role") {
			t.Errorf("public route: %s, removes %v", reasonOf(resp), removed(resp))
		}
	})
	t.Run("a JWT with the organization through definePayload", func(t *testing.T) {
		tok := must(s.SessionClaimsToken(owner))
		resp := r.checkAs(t, "GET", "/members/home", bearer(tok))
		if reasonOf(resp) != "allowed" || header(resp, "x-organization-id") != org.ID || header(resp, "x-organization-role") != "" {
			t.Errorf("%s %v", reasonOf(resp), setHeaders(resp))
		}
		// Its role is in no claim (organizations.roleClaim unset): orgRoles refuses it.
		if got := reasonOf(r.checkAs(t, "GET", "/org/settings/plan", bearer(tok))); got != "insufficient_claims" {
			t.Errorf("a JWT without a role claim on an orgRoles route: %s", got)
		}
	})
	t.Run("impersonated sessions refused, or required", func(t *testing.T) {
		imp := must(s.Impersonate(admin, member.UserID))
		resp := r.checkAs(t, "GET", "/support/tickets", cacheCookie(imp))
		if reasonOf(resp) != "allowed" || header(resp, "x-impersonated-by") != admin.UserID || header(resp, "x-user-id") != member.UserID {
			t.Errorf("impersonated on a support route: %s %v", reasonOf(resp), setHeaders(resp))
		}
		if got := reasonOf(r.checkAs(t, "GET", "/billing/invoices", cacheCookie(imp))); got != "insufficient_claims" {
			t.Errorf("impersonated on billing: %s", got)
		}
		if got := reasonOf(r.checkAs(t, "GET", "/support/tickets", cacheCookie(member))); got != "insufficient_claims" {
			t.Errorf("the user themself on a support route: %s", got)
		}
		resp = r.checkAs(t, "GET", "/billing/invoices", cacheCookie(member))
		if reasonOf(resp) != "allowed" || !strings.Contains(strings.Join(removed(resp), ","), "x-impersonated-by") {
			t.Errorf("the user themself on billing: %s, removes %v", reasonOf(resp), removed(resp))
		}
	})
	t.Run("anonymous users refused", func(t *testing.T) {
		anon := must(s.SignUp(betterauth.UserOptions{Anonymous: true}))
		if got := reasonOf(r.checkAs(t, "GET", "/members/home", cacheCookie(anon))); got != "insufficient_claims" {
			t.Errorf("anonymous: %s", got)
		}
		if got := reasonOf(r.checkAs(t, "GET", "/members/home", cacheCookie(reader))); got != "allowed" {
			t.Errorf("signed up: %s", got)
		}
	})
	t.Run("banned users refused everywhere", func(t *testing.T) {
		victim := must(s.SignUp(betterauth.UserOptions{}))
		key := must(s.CreateAPIKey(victim, betterauth.APIKeyOptions{}))
		if err := s.BanUser(admin, victim.UserID, time.Hour); err != nil {
			t.Fatal(err)
		}
		// The API key's session carries the user row, banned.
		resp := r.checkAs(t, "GET", "/api/tasks", map[string]string{"x-api-key": key.Key})
		if reasonOf(resp) != "banned" || resp.GetDeniedResponse().GetStatus().GetCode() != 403 {
			t.Errorf("a banned user's API key: %s %v", reasonOf(resp), resp.GetDeniedResponse().GetStatus())
		}
		// Banning ends the sessions: the session token no longer opens anything.
		if got := reasonOf(r.checkAs(t, "GET", "/members/home", map[string]string{"cookie": strings.ReplaceAll(victim.Cookie, "better-auth.session_data=", "x=")})); got != "invalid_token" {
			t.Errorf("a banned user's session token: %s", got)
		}
	})
}

func TestCookieCacheVersion(t *testing.T) {
	t.Parallel()
	s := startPlugins(t)
	user := must(s.SignUp(betterauth.UserOptions{})) // a version "1" cookie
	if err := s.SetCookieCacheVersion("2"); err != nil {
		t.Fatal(err)
	}
	fresh := must(s.SignUp(betterauth.UserOptions{}))
	for _, lookup := range []bool{false, true} {
		r := run(t, strings.Replace(pluginsConfig(s, ""), "  lookup: true\n", fmt.Sprintf("  lookup: %t\n  cookieCacheVersion: \"2\"\n", lookup), 1), nil)
		r.waitReady(t, 10*time.Second)
		if got := reasonOf(r.checkAs(t, "GET", "/members/x", cacheCookie(fresh))); got != "allowed" {
			t.Errorf("lookup %t: a cookie of version 2: %s", lookup, got)
		}
		if got := reasonOf(r.checkAs(t, "GET", "/members/x", cacheCookie(user))); got != "invalid_token" {
			t.Errorf("lookup %t: a cookie of version 1 alone: %s", lookup, got)
		}
		resp := r.checkAs(t, "GET", "/members/x", map[string]string{"cookie": user.Cookie})
		want := map[bool]string{false: "invalid_token", true: "allowed"}[lookup]
		if got := reasonOf(resp); got != want {
			t.Errorf("lookup %t: a cookie of version 1 with its session token: %s, want %s", lookup, got, want)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	s := startPlugins(t)
	r := run(t, pluginsConfig(s, ""), nil)
	r.waitReady(t, 10*time.Second)
	owner := must(s.SignUp(betterauth.UserOptions{}))
	key := must(s.CreateAPIKey(owner, betterauth.APIKeyOptions{RateLimitMax: 1000}))

	t.Run("allowed on a route that takes API keys; the key stripped, its id a header", func(t *testing.T) {
		for range 3 {
			resp := r.checkAs(t, "GET", "/api/tasks", map[string]string{"x-api-key": key.Key, "x_api_key": "smuggled"})
			if reasonOf(resp) != "allowed" || header(resp, "x-user-id") != owner.UserID || header(resp, "x-api-key-id") != key.ID {
				t.Fatalf("%s %v", reasonOf(resp), setHeaders(resp))
			}
			rm := strings.Join(removed(resp), ",")
			if !strings.Contains(rm, "x-api-key") || !strings.Contains(rm, "x_api_key") {
				t.Errorf("headers_to_remove %v lack the key header", removed(resp))
			}
			for _, h := range resp.GetOkResponse().GetHeaders() {
				if strings.Contains(h.GetHeader().GetValue(), key.Key) {
					t.Errorf("header %s carries the key", h.GetHeader().GetKey())
				}
			}
		}
	})
	t.Run("cached: Better Auth asked once", func(t *testing.T) {
		// The three checks above and those below come from one get-session call.
		before := must(s.GetSessions())
		for range 5 {
			r.checkAs(t, "GET", "/api/tasks", map[string]string{"x-api-key": key.Key})
		}
		if after := must(s.GetSessions()); after != before {
			t.Errorf("get-session asked %d more times", after-before)
		}
	})
	t.Run("refused unasked on a browser route", func(t *testing.T) {
		other := must(s.CreateAPIKey(owner, betterauth.APIKeyOptions{}))
		before := must(s.GetSessions())
		resp := r.checkAs(t, "GET", "/members/home", map[string]string{"x-api-key": other.Key})
		if reasonOf(resp) != "credential_not_accepted" || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
			t.Errorf("%s", reasonOf(resp))
		}
		if after := must(s.GetSessions()); after != before {
			t.Errorf("Better Auth was asked about a key the route does not take")
		}
	})
	t.Run("unknown and organization-owned keys refused", func(t *testing.T) {
		if got := reasonOf(r.checkAs(t, "GET", "/api/tasks", map[string]string{"x-api-key": strings.Repeat("a", 64)})); got != "invalid_token" {
			t.Errorf("unknown key: %s", got)
		}
		org := must(s.CreateOrganization(owner))
		orgKey := must(s.CreateAPIKey(owner, betterauth.APIKeyOptions{OrganizationID: org.ID}))
		if got := reasonOf(r.checkAs(t, "GET", "/api/tasks", map[string]string{"x-api-key": orgKey.Key})); got != "invalid_token" {
			t.Errorf("organization-owned key: %s", got)
		}
	})
	t.Run("keys never reach the log", func(t *testing.T) {
		logs := r.logs.String()
		if strings.Contains(logs, key.Key) {
			t.Error("the logs contain an API key")
		}
		if !strings.Contains(logs, `"credential":"api_key"`) {
			t.Error(`the logs lack "credential":"api_key"`)
		}
	})
}

// Through real nginx (the shipped config, with the organization role and the API key id copied
// and the key header cleared, as docs/organizations.md says): the app gets the identity, never
// the key.
func TestPluginsThroughNginx(t *testing.T) {
	t.Parallel()
	s := startPlugins(t)
	r, checkAddr := runCheckHTTP(t, pluginsConfig(s, `  - name: ready
    paths: ["/public/**"]
    policy: public
`))
	r.waitReady(t, 10*time.Second)
	cfg, err := proxies.Example(proxies.Nginx)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "proxy_set_header X-User-Name  $betterauthz_user_name;"
	if !strings.Contains(cfg.Main, anchor) {
		t.Fatalf("the shipped nginx.conf changed: no %q", anchor)
	}
	cfg.Main = strings.Replace(cfg.Main, anchor, anchor+`
        auth_request_set $betterauthz_org_role   $upstream_http_x_organization_role;
        auth_request_set $betterauthz_api_key_id $upstream_http_x_api_key_id;
        proxy_set_header X-Organization-Role $betterauthz_org_role;
        proxy_set_header X-Api-Key-Id        $betterauthz_api_key_id;
        proxy_set_header X-Api-Key           "";`, 1)
	cfg.ReadyPath = "/public/ready"
	up := proxies.NewUpstream(t)
	p := proxies.Start(t, proxies.Nginx, cfg, proxies.Addrs{Check: checkAddr, Upstream: up.Addr})

	owner := must(s.SignUp(betterauth.UserOptions{}))
	reader := must(s.SignUp(betterauth.UserOptions{}))
	org := must(s.CreateOrganization(owner, betterauth.Member{UserID: reader.UserID, Roles: []string{"member"}}))
	owner = must(s.SetActiveOrganization(owner, org.ID, ""))
	reader = must(s.SetActiveOrganization(reader, org.ID, ""))
	key := must(s.CreateAPIKey(owner, betterauth.APIKeyOptions{RateLimitMax: 100}))

	get := func(path string, h map[string]string) int {
		t.Helper()
		up.Reset()
		req, _ := http.NewRequest("GET", p.URL+path, nil)
		req.Header.Set("X-Organization-Role", "owner")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/org/settings/plan", map[string]string{"Cookie": owner.Cookie}); code != 200 {
		t.Fatalf("owner: %d", code)
	}
	if got := only(t, up).Header.Get("X-Organization-Role"); got != "owner" {
		t.Errorf("the app got role %q", got)
	}
	if code := get("/org/settings/plan", map[string]string{"Cookie": reader.Cookie}); code != 403 || len(up.Requests()) != 0 {
		t.Errorf("member: %d, app got %d requests", code, len(up.Requests()))
	}
	if code := get("/api/tasks", map[string]string{"X-Api-Key": key.Key}); code != 200 {
		t.Fatalf("API key: %d", code)
	}
	got := only(t, up)
	if got.Header.Get("X-Api-Key-Id") != key.ID || got.Header.Get("X-Organization-Role") != "" {
		t.Errorf("the app got %v", got.Header)
	}
	for name, values := range got.Header {
		for _, v := range values {
			if strings.Contains(v, key.Key) {
				t.Errorf("the app got the key in %s", name)
			}
		}
	}
	if code := get("/members/home", map[string]string{"X-Api-Key": key.Key}); code != 401 || len(up.Requests()) != 0 {
		t.Errorf("API key on a browser route: %d", code)
	}
}
