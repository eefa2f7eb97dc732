package betterauth

// These tests check the helpers of plugins.go against the real Better Auth server, and with
// them document what Better Auth (versions pinned in test/betterauth/package.json) issues with
// its organization, admin, anonymous, API key and OAuth provider plugins: the facts the edge
// will rely on (test/betterauth/plugin-facts.md lists them).

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

var srv *Server

const cacheMaxAge = 5 * time.Minute

func TestMain(m *testing.M) {
	var err error
	if srv, err = StartWith(StartOptions{Plugins: true, CookieCache: cacheMaxAge}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

// must is v, or a panic (which fails the test) on an error.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// decode returns a JWT's header and claims, unverified.
func decode(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	for i, out := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func keys(m any) []string {
	out := []string{}
	for k := range m.(map[string]any) {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func wantKeys(t *testing.T, what string, m any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keys(m); !slices.Equal(got, want) {
		t.Errorf("%s has %v, want %v", what, got, want)
	}
}

func wantEq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// do sends a request to the server and returns the status, headers and JSON body (nil when
// the body is empty or not JSON).
func do(t *testing.T, method, path string, header http.Header, body any) (int, http.Header, any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", srv.BaseURL)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out any
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, resp.Header, out
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// The session-cache cookie carries the plugins' session and user fields, and a version; the
// /token JWT carries the user row only.
func TestSessionCacheCookieCarriesPluginFields(t *testing.T) {
	admin := must(srv.SignUp(UserOptions{Roles: []string{"admin", "user"}}))
	user := must(srv.SignUp(UserOptions{}))
	org := must(srv.CreateOrganization(admin, Member{UserID: user.UserID, Roles: []string{"admin", "member"}}))
	user = must(srv.SetActiveOrganization(user, org.ID, org.TeamID))

	h, c := decode(t, user.SessionCacheToken)
	wantEq(t, "session-cache typ", h["typ"], "better-auth.session-cache+jwt")
	wantEq(t, "session-cache alg", h["alg"], "EdDSA")
	wantKeys(t, "session-cache payload", c, "session", "user", "updatedAt", "version", "sid", "iat", "exp", "iss", "aud", "sub")
	wantKeys(t, "session-cache session", c["session"], "id", "token", "userId", "expiresAt", "createdAt", "updatedAt",
		"ipAddress", "userAgent", "activeOrganizationId", "activeTeamId")
	wantKeys(t, "session-cache user", c["user"], "id", "name", "email", "emailVerified", "createdAt", "updatedAt",
		"role", "banned", "isAnonymous")
	wantEq(t, "activeOrganizationId", field(c, "session", "activeOrganizationId"), org.ID)
	wantEq(t, "activeTeamId", field(c, "session", "activeTeamId"), org.TeamID)
	wantEq(t, "user role", field(c, "user", "role"), "user")
	wantEq(t, "banned", field(c, "user", "banned"), false)
	wantEq(t, "isAnonymous", field(c, "user", "isAnonymous"), false)
	wantEq(t, "version", c["version"], "1")
	wantEq(t, "aud", c["aud"], "better-auth:session-cache")
	wantEq(t, "iss", c["iss"], srv.BaseURL)
	wantEq(t, "sub", c["sub"], user.UserID)
	// sid and session.token are the session token, not its id.
	wantEq(t, "sid", c["sid"], user.SessionToken)
	wantEq(t, "session.token", field(c, "session", "token"), user.SessionToken)
	wantEq(t, "session.id", field(c, "session", "id"), user.SessionID)
	wantEq(t, "exp-iat", c["exp"].(float64)-c["iat"].(float64), cacheMaxAge.Seconds())

	_, a := decode(t, admin.SessionCacheToken)
	wantEq(t, "admin role (comma-joined)", field(a, "user", "role"), "admin,user")
	// Without an active organization or impersonation the fields are left out, not null.
	wantKeys(t, "admin session", a["session"], "id", "token", "userId", "expiresAt", "createdAt", "updatedAt", "ipAddress", "userAgent")

	// The /token JWT is the user row (the default definePayload): no session fields.
	_, tok := decode(t, user.Token)
	wantKeys(t, "/token claims", tok, "id", "name", "email", "emailVerified", "createdAt", "updatedAt", "role", "banned",
		"isAnonymous", "sub", "iat", "exp", "iss", "aud")
	wantEq(t, "/token iss", tok["iss"], srv.BaseURL)
	wantEq(t, "/token aud", tok["aud"], srv.BaseURL)
	wantEq(t, "/token exp-iat", tok["exp"].(float64)-tok["iat"].(float64), 900)
	// ... unless definePayload adds them.
	_, tok = decode(t, must(srv.SessionClaimsToken(user)))
	wantEq(t, "definePayload activeOrganizationId", tok["activeOrganizationId"], org.ID)
	wantEq(t, "definePayload activeTeamId", tok["activeTeamId"], org.TeamID)

	imp := must(srv.Impersonate(admin, user.UserID))
	_, c = decode(t, imp.SessionCacheToken)
	wantEq(t, "impersonated user", field(c, "user", "id"), user.UserID)
	wantEq(t, "impersonatedBy", field(c, "session", "impersonatedBy"), admin.UserID)
	_, tok = decode(t, imp.Token)
	wantEq(t, "impersonated /token sub", tok["sub"], user.UserID)
	wantEq(t, "impersonated /token impersonatedBy", tok["impersonatedBy"], nil)
	// Impersonation sessions last an hour (the admin plugin's impersonationSessionDuration).
	exp := must(time.Parse(time.RFC3339, field(c, "session", "expiresAt").(string)))
	created := must(time.Parse(time.RFC3339, field(c, "session", "createdAt").(string)))
	wantEq(t, "impersonation session length", exp.Sub(created).Round(time.Second), time.Hour)

	anon := must(srv.SignUp(UserOptions{Anonymous: true}))
	_, c = decode(t, anon.SessionCacheToken)
	wantEq(t, "anonymous isAnonymous", field(c, "user", "isAnonymous"), true)
	_, tok = decode(t, anon.Token)
	wantEq(t, "anonymous /token isAnonymous", tok["isAnonymous"], true)
}

// A changed session.cookieCache.version makes Better Auth ignore session-cache cookies of
// another version: it reads the session from its database and sets a new cookie. The
// sessions themselves live on.
func TestCookieCacheVersionInvalidatesCookiesNotSessions(t *testing.T) {
	user := must(srv.SignUp(UserOptions{}))
	if err := srv.SetCookieCacheVersion("2"); err != nil {
		t.Fatal(err)
	}
	defer srv.SetCookieCacheVersion("1") //nolint:errcheck
	status, h, body := do(t, "GET", "/api/auth/get-session", hdr("Cookie", user.Cookie), nil)
	wantEq(t, "get-session status", status, 200)
	wantEq(t, "get-session user", field(body, "user", "id"), user.UserID)
	var fresh string
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "better-auth.session_data" && c.Value != "" {
			fresh = c.Value
		}
	}
	if fresh == "" {
		t.Fatalf("no new session-cache cookie: %v", h["Set-Cookie"])
	}
	_, c := decode(t, fresh)
	wantEq(t, "new cookie version", c["version"], "2")

	// Better Auth reads a session-cache cookie only beside its session token cookie.
	cacheOnly := "better-auth.session_data=" + url.QueryEscape(user.SessionCacheToken)
	_, _, body = do(t, "GET", "/api/auth/get-session", hdr("Cookie", cacheOnly), nil)
	wantEq(t, "get-session with the cache cookie alone", body, nil)
}

// The member role is not in the session: get-active-member-role answers it.
func TestActiveMemberRole(t *testing.T) {
	owner := must(srv.SignUp(UserOptions{}))
	user := must(srv.SignUp(UserOptions{}))
	stranger := must(srv.SignUp(UserOptions{}))
	org := must(srv.CreateOrganization(owner, Member{UserID: user.UserID, Roles: []string{"admin", "member"}}))
	user = must(srv.SetActiveOrganization(user, org.ID, ""))
	owner = must(srv.SetActiveOrganization(owner, org.ID, ""))

	role := func(s *Session, query string) (int, any) {
		status, _, body := do(t, "GET", "/api/auth/organization/get-active-member-role"+query, hdr("Cookie", s.Cookie), nil)
		return status, body
	}
	status, body := role(user, "")
	wantEq(t, "status", status, 200)
	wantKeys(t, "answer", body, "role")
	wantEq(t, "multi-role member", field(body, "role"), "admin,member")
	_, body = role(owner, "")
	wantEq(t, "creator", field(body, "role"), "owner")
	status, body = role(stranger, "")
	wantEq(t, "no active organization", fmt.Sprint(status, " ", field(body, "code")), "400 NO_ACTIVE_ORGANIZATION")
	status, body = role(stranger, "?organizationId="+org.ID)
	wantEq(t, "not a member", fmt.Sprint(status, " ", field(body, "code")), "403 YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION")
	// With userId, the answer is that user's role, asked with another member's session; a
	// session of someone who is no member gets none (betterauthz asks for the verified user).
	status, body = role(owner, "?organizationId="+org.ID+"&userId="+user.UserID)
	wantEq(t, "another member's role", fmt.Sprint(status, " ", field(body, "role")), "200 admin,member")
	status, body = role(stranger, "?organizationId="+org.ID+"&userId="+user.UserID)
	wantEq(t, "asked by no member", fmt.Sprint(status, " ", field(body, "code")), "403 YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION")
	// The bearer plugin lets the session token stand for the cookie.
	status, _, body = do(t, "GET", "/api/auth/organization/get-active-member-role", hdr("Authorization", "Bearer "+user.SessionToken), nil)
	wantEq(t, "with a bearer session token", fmt.Sprint(status, " ", field(body, "role")), "200 admin,member")

	can := func(s *Session, perms map[string][]string) any {
		_, _, body := do(t, "POST", "/api/auth/organization/has-permission", hdr("Cookie", s.Cookie), map[string]any{"permissions": perms})
		return body
	}
	body = can(user, map[string][]string{"member": {"create"}})
	wantEq(t, "has-permission answer", fmt.Sprint(keys(body), field(body, "success")), "[error success] true")
	wantEq(t, "admin may not delete the organization", field(can(user, map[string][]string{"organization": {"delete"}}), "success"), false)
	wantEq(t, "owner may", field(can(owner, map[string][]string{"organization": {"delete"}}), "success"), true)
}

// With enableSessionForAPIKeys, x-api-key turns into the owner's session on any endpoint; each
// use counts against the key's rate limit and quota.
func TestAPIKeySession(t *testing.T) {
	owner := must(srv.SignUp(UserOptions{}))
	key := must(srv.CreateAPIKey(owner, APIKeyOptions{}))
	wantEq(t, "key length", len(key.Key), 64)
	status, h, body := do(t, "GET", "/api/auth/get-session", hdr("X-Api-Key", key.Key), nil)
	wantEq(t, "status", status, 200)
	wantEq(t, "Set-Cookie", h.Values("Set-Cookie"), []string{})
	wantKeys(t, "answer", body, "session", "user")
	wantKeys(t, "session", field(body, "session"), "id", "token", "userId", "userAgent", "ipAddress", "createdAt", "updatedAt", "expiresAt")
	wantEq(t, "session.id", field(body, "session", "id"), key.ID)
	wantEq(t, "session.token (the key itself)", field(body, "session", "token"), key.Key)
	wantEq(t, "session.userId", field(body, "session", "userId"), owner.UserID)
	wantEq(t, "user.id", field(body, "user", "id"), owner.UserID)
	// A key without an expiry gets a session "expiring" 604.8 s on (session.expiresIn's 7 days
	// read as milliseconds), whatever its createdAt.
	exp := must(time.Parse(time.RFC3339, field(body, "session", "expiresAt").(string)))
	if d := time.Until(exp); d < 590*time.Second || d > 605*time.Second {
		t.Errorf("session.expiresAt is %v away", d)
	}
	// ... on /token too: the key buys a JWT of its owner.
	status, _, body = do(t, "GET", "/api/auth/token", hdr("X-Api-Key", key.Key), nil)
	wantEq(t, "/token status", status, 200)
	_, c := decode(t, field(body, "token").(string))
	wantEq(t, "/token sub", c["sub"], owner.UserID)
	// verifyApiKey is server-only.
	status, _, _ = do(t, "POST", "/api/auth/api-key/verify", nil, map[string]any{"key": key.Key})
	wantEq(t, "POST /api-key/verify", status, 404)

	errOf := func(k string, header string) string {
		status, _, body := do(t, "GET", "/api/auth/get-session", hdr(header, k), nil)
		if status == 200 {
			return "200"
		}
		return fmt.Sprint(status, " ", field(body, "code"))
	}
	limited := must(srv.CreateAPIKey(owner, APIKeyOptions{RateLimitMax: 3}))
	var got []string
	for range 4 {
		got = append(got, errOf(limited.Key, "X-Api-Key"))
	}
	wantEq(t, "rate limit 3", got, []string{"200", "200", "200", "429 RATE_LIMITED"})
	_, _, body = do(t, "GET", "/api/auth/get-session", hdr("X-Api-Key", limited.Key), nil)
	if wait, _ := field(body, "details", "tryAgainIn").(float64); wait < 86000e3 {
		t.Errorf("tryAgainIn %v ms, want about a day", wait)
	}
	two := 2
	quota := must(srv.CreateAPIKey(owner, APIKeyOptions{Remaining: &two}))
	got = nil
	for range 4 {
		got = append(got, errOf(quota.Key, "X-Api-Key"))
	}
	// A used-up key is deleted.
	wantEq(t, "quota 2", got, []string{"200", "200", "429 USAGE_EXCEEDED", "401 INVALID_API_KEY"})

	wantEq(t, "unknown key", errOf(strings.Repeat("x", 64), "X-Api-Key"), "401 INVALID_API_KEY")
	wantEq(t, "key shorter than the configured length", errOf("short", "X-Api-Key"), "403 INVALID_API_KEY")

	// An organization's key never becomes a session.
	admin := must(srv.SignUp(UserOptions{}))
	org := must(srv.CreateOrganization(admin))
	orgKey := must(srv.CreateAPIKey(admin, APIKeyOptions{OrganizationID: org.ID}))
	wantEq(t, "org key owner", orgKey.ReferenceID, org.ID)
	wantEq(t, "org key on its own header", errOf(orgKey.Key, "X-Org-Api-Key"), "401 INVALID_REFERENCE_ID_FROM_API_KEY")
	wantEq(t, "org key as x-api-key (the user configuration's)", errOf(orgKey.Key, "X-Api-Key"), "401 INVALID_API_KEY")
}

// Banning deletes the user's sessions, but what was issued before lives on: the JWT until its
// exp, the session-cache cookie until its maxAge, during which it even buys new JWTs.
func TestBannedUsersCredentialsOutliveTheBan(t *testing.T) {
	admin := must(srv.SignUp(UserOptions{Roles: []string{"admin"}}))
	user := must(srv.SignUp(UserOptions{}))
	if err := srv.BanUser(admin, user.UserID, time.Hour); err != nil {
		t.Fatal(err)
	}
	_, _, body := do(t, "GET", "/api/auth/get-session?disableCookieCache=true", hdr("Cookie", user.Cookie), nil)
	wantEq(t, "session in the database", body, nil)
	status, _, body := do(t, "POST", "/api/auth/sign-in/email", nil, map[string]any{"email": user.Email, "password": Password})
	wantEq(t, "sign-in", fmt.Sprint(status, " ", field(body, "code")), "403 BANNED_USER")

	status, _, body = do(t, "GET", "/api/auth/get-session", hdr("Cookie", user.Cookie), nil)
	wantEq(t, "get-session from the cache cookie", fmt.Sprint(status, " ", field(body, "user", "banned")), "200 false")
	status, _, body = do(t, "GET", "/api/auth/token", hdr("Cookie", user.Cookie), nil)
	wantEq(t, "/token from the cache cookie", status, 200)
	_, c := decode(t, field(body, "token").(string))
	wantEq(t, "new JWT's banned", c["banned"], false)

	k := must(keyfunc.NewDefault([]string{srv.JWKSURL()}))
	for name, tok := range map[string]string{"JWT": user.Token, "session-cache JWT": user.SessionCacheToken} {
		if _, err := jwt.Parse(tok, k.Keyfunc, jwt.WithExpirationRequired()); err != nil {
			t.Errorf("%s after the ban: %v", name, err)
		}
	}
}

// JWT access tokens: only when a resource is asked for.
func TestOAuthAccessTokens(t *testing.T) {
	client := must(srv.RegisterOAuthClient(OAuthClientOptions{}))

	cc := must(srv.OAuthToken(client, TokenRequest{Resource: []string{srv.APIResource()}}))
	wantEq(t, "token_type", cc.TokenType, "Bearer")
	wantEq(t, "expires_in", cc.ExpiresIn, 3600)
	h, c := decode(t, cc.AccessToken)
	wantKeys(t, "header", h, "typ", "alg", "kid")
	wantEq(t, "typ", h["typ"], "at+jwt")
	wantKeys(t, "client_credentials claims", c, "sub", "aud", "client_id", "azp", "scope", "iss", "iat", "exp", "jti")
	wantEq(t, "sub", c["sub"], client.ID)
	wantEq(t, "client_id", c["client_id"], client.ID)
	wantEq(t, "azp", c["azp"], client.ID)
	wantEq(t, "aud", c["aud"], srv.APIResource())
	wantEq(t, "scope", c["scope"], "read:tasks write:tasks")
	wantEq(t, "iss (base URL and path)", c["iss"], srv.AuthURL())
	wantEq(t, "exp-iat", c["exp"].(float64)-c["iat"].(float64), 3600)

	opaque := must(srv.OAuthToken(client, TokenRequest{}))
	if strings.Count(opaque.AccessToken, ".") != 0 || len(opaque.AccessToken) != 32 {
		t.Errorf("without a resource: %q, want an opaque token of 32 letters", opaque.AccessToken)
	}

	user := must(srv.SignUp(UserOptions{}))
	ac := must(srv.OAuthToken(client, TokenRequest{AuthorizationCode: true, User: user,
		Resource: []string{srv.APIResource()}, Scope: "openid profile read:tasks offline_access"}))
	if ac.RefreshToken == "" || ac.IDToken == "" {
		t.Errorf("authorization code with openid and offline_access: refresh token %q, ID token %q", ac.RefreshToken, ac.IDToken)
	}
	h, c = decode(t, ac.AccessToken)
	wantEq(t, "typ", h["typ"], "at+jwt")
	wantKeys(t, "authorization_code claims", c, "sub", "aud", "client_id", "azp", "scope", "sid", "iss", "iat", "exp", "jti")
	wantEq(t, "sub", c["sub"], user.UserID)
	wantEq(t, "sid (the session's id)", c["sid"], user.SessionID)
	wantEq(t, "aud (with openid)", c["aud"], []any{srv.APIResource(), srv.AuthURL() + "/oauth2/userinfo"})
	wantEq(t, "scope", c["scope"], "openid profile read:tasks offline_access")
	_, id := decode(t, ac.IDToken)
	wantEq(t, "ID token iss", id["iss"], srv.AuthURL())
	wantEq(t, "ID token aud", id["aud"], client.ID)

	ao := must(srv.OAuthToken(client, TokenRequest{AuthorizationCode: true, User: user, Scope: "read:tasks"}))
	if strings.Contains(ao.AccessToken, ".") {
		t.Errorf("authorization code without a resource: %q, want opaque", ao.AccessToken)
	}

	bound := must(srv.OAuthToken(client, TokenRequest{Resource: []string{srv.MCPResource()}, DPoP: true}))
	wantEq(t, "DPoP token_type", bound.TokenType, "DPoP")
	_, c = decode(t, bound.AccessToken)
	wantEq(t, "cnf", c["cnf"], map[string]any{"jkt": bound.DPoPKey.JKT()})

	// A resource the client is not linked to, or that is not configured, is refused.
	lone := must(srv.RegisterOAuthClient(OAuthClientOptions{Resources: []string{}}))
	if _, err := srv.OAuthToken(lone, TokenRequest{Resource: []string{srv.APIResource()}}); err == nil || !strings.Contains(err.Error(), "invalid_target") {
		t.Errorf("unlinked resource: %v, want invalid_target", err)
	}
	if _, err := srv.OAuthToken(client, TokenRequest{Resource: []string{"https://elsewhere.example"}}); err == nil || !strings.Contains(err.Error(), "invalid_target") {
		t.Errorf("unknown resource: %v, want invalid_target", err)
	}
}

// Introspection answers the issuing client and resource servers linked to the token's
// resource; anyone else is told {"active": false}.
func TestIntrospection(t *testing.T) {
	client := must(srv.RegisterOAuthClient(OAuthClientOptions{}))
	rs := must(srv.RegisterOAuthClient(OAuthClientOptions{Resources: []string{srv.APIResource()}}))
	other := must(srv.RegisterOAuthClient(OAuthClientOptions{Resources: []string{}}))
	tok := must(srv.OAuthToken(client, TokenRequest{Resource: []string{srv.APIResource()}}))

	got := must(srv.Introspect(client, tok.AccessToken))
	wantKeys(t, "introspection of a JWT", got, "active", "token_type", "sub", "aud", "client_id", "azp", "scope", "iss", "iat", "exp", "jti")
	wantEq(t, "active", got["active"], true)
	wantEq(t, "token_type", got["token_type"], "Bearer")
	wantEq(t, "linked resource server", must(srv.Introspect(rs, tok.AccessToken))["active"], true)
	wantEq(t, "other client", must(srv.Introspect(other, tok.AccessToken)), map[string]any{"active": false})
	wantEq(t, "garbage", must(srv.Introspect(client, "garbage")), map[string]any{"active": false})

	resp := must(http.Post(srv.URL+"/api/auth/oauth2/introspect", "application/x-www-form-urlencoded",
		strings.NewReader("token="+tok.AccessToken)))
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantEq(t, "without a client credential", fmt.Sprint(resp.StatusCode, " ", resp.Header.Get("WWW-Authenticate"), " ", string(b)),
		`401 Basic realm="oauth" {"error_description":"missing required credentials","error":"invalid_client"}`)

	opaque := must(srv.OAuthToken(client, TokenRequest{}))
	got = must(srv.Introspect(client, opaque.AccessToken))
	wantKeys(t, "introspection of an opaque client_credentials token", got, "active", "iss", "client_id", "azp", "exp", "iat", "scope", "token_type")
	wantEq(t, "opaque token, resource server", must(srv.Introspect(rs, opaque.AccessToken)), map[string]any{"active": false})

	bound := must(srv.OAuthToken(client, TokenRequest{Resource: []string{srv.APIResource()}, DPoP: true}))
	got = must(srv.Introspect(client, bound.AccessToken))
	wantEq(t, "DPoP token_type", got["token_type"], "DPoP")
	wantEq(t, "DPoP cnf", got["cnf"], map[string]any{"jkt": bound.DPoPKey.JKT()})

	// A user's token lives as long as the session it came from.
	user := must(srv.SignUp(UserOptions{}))
	ac := must(srv.OAuthToken(client, TokenRequest{AuthorizationCode: true, User: user, Resource: []string{srv.APIResource()}, Scope: "read:tasks"}))
	wantEq(t, "before sign-out", must(srv.Introspect(client, ac.AccessToken))["active"], true)
	if status, _, _ := do(t, "POST", "/api/auth/sign-out", hdr("Cookie", user.Cookie), map[string]any{}); status != 200 {
		t.Fatalf("sign-out: %d", status)
	}
	wantEq(t, "after sign-out", must(srv.Introspect(client, ac.AccessToken)), map[string]any{"active": false})
}

// Better Auth's MCP helper (createMcpProtectedRequestHandler) and the RFC 9728 metadata of its
// mcp() plugin.
func TestMCPHelper(t *testing.T) {
	client := must(srv.RegisterOAuthClient(OAuthClientOptions{}))
	tok := must(srv.OAuthToken(client, TokenRequest{Resource: []string{srv.MCPResource()}, Scope: "read:tasks"}))
	metadataURL := srv.URL + "/.well-known/oauth-protected-resource/mcp"

	challenge := func(path string, header http.Header) string {
		status, h, body := do(t, "GET", path, header, nil)
		if status == 200 {
			return "200"
		}
		wantEq(t, "JSON-RPC error", fmt.Sprint(keys(body), field(body, "error", "code")), "[error id jsonrpc] -32000")
		return fmt.Sprint(status, " ", h.Get("WWW-Authenticate"))
	}
	wantEq(t, "no token", challenge("/mcp", nil), `401 Bearer resource_metadata="`+metadataURL+`"`)
	wantEq(t, "valid", challenge("/mcp", hdr("Authorization", "Bearer "+tok.AccessToken)), "200")
	wantEq(t, "missing scopes", challenge("/mcp?scope=read:tasks+write:tasks+admin", hdr("Authorization", "Bearer "+tok.AccessToken)),
		`403 Bearer error="insufficient_scope", scope="write:tasks admin", resource_metadata="`+metadataURL+
			`", error_description="access token is missing required scope: write:tasks admin"`)
	api := must(srv.OAuthToken(client, TokenRequest{Resource: []string{srv.APIResource()}}))
	wantEq(t, "another audience", challenge("/mcp", hdr("Authorization", "Bearer "+api.AccessToken)),
		`401 Bearer error="invalid_token", error_description="invalid access token", resource_metadata="`+metadataURL+`"`)
	opaque := must(srv.OAuthToken(client, TokenRequest{}))
	wantEq(t, "opaque", challenge("/mcp", hdr("Authorization", "Bearer "+opaque.AccessToken)),
		`401 Bearer error="invalid_token", error_description="no token payload", resource_metadata="`+metadataURL+`"`)

	bound := must(srv.OAuthToken(client, TokenRequest{Resource: []string{srv.MCPResource()}, DPoP: true}))
	wantEq(t, "DPoP-bound as Bearer", challenge("/mcp", hdr("Authorization", "Bearer "+bound.AccessToken)),
		`401 DPoP error="invalid_token", error_description="DPoP-bound access token requires the DPoP authorization scheme", algs="EdDSA ES256 ES512 PS256 RS256"`)
	wantEq(t, "DPoP without a proof", challenge("/mcp", hdr("Authorization", "DPoP "+bound.AccessToken)),
		`401 DPoP error="invalid_dpop_proof", error_description="DPoP proof header is required", algs="EdDSA ES256 ES512 PS256 RS256"`)
	proof := must(bound.DPoPKey.Proof("GET", srv.MCPURL(), bound.AccessToken))
	wantEq(t, "DPoP with its proof", challenge("/mcp", hdr("Authorization", "DPoP "+bound.AccessToken, "DPoP", proof)), "200")
	wantEq(t, "the same proof again", challenge("/mcp", hdr("Authorization", "DPoP "+bound.AccessToken, "DPoP", proof)),
		`401 DPoP error="invalid_dpop_proof", error_description="DPoP proof jti has already been used", algs="EdDSA ES256 ES512 PS256 RS256"`)

	want := map[string]any{
		"resource":                          srv.MCPResource(),
		"authorization_servers":             []any{srv.AuthURL()},
		"bearer_methods_supported":          []any{"header"},
		"dpop_signing_alg_values_supported": []any{"EdDSA", "ES256", "ES512", "PS256", "RS256"},
		"scopes_supported":                  []any{"read:tasks", "write:tasks"},
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		status, h, body := do(t, "GET", path, nil, nil)
		wantEq(t, path, fmt.Sprint(status, " ", h.Get("Cache-Control")), "200 public, max-age=15, stale-while-revalidate=15, stale-if-error=86400")
		wantEq(t, path, body, want)
	}
	status, _, _ := do(t, "GET", "/.well-known/oauth-protected-resource/api", nil, nil)
	wantEq(t, "metadata of another resource", status, 404)
}
