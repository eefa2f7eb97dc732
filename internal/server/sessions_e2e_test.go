package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// cookieCacheAge is the Better Auth session.cookieCache.maxAge of these tests: short, so that
// a session-cache cookie expires within a test.
const cookieCacheAge = 4 * time.Second

func sessionsConfig(s *betterauth.Server) string {
	// clockSkew extends a session-cache cookie's life as it does a token's: kept short here.
	return baseConfig(s) + `clockSkew: 1s
sessions:
  cookieCache: true
  lookup: true
  lookupTTL: 2s
  signInURL: https://app.example.com/sign-in
routes:
  - name: home
    paths: ["/"]
    policy: public
`
}

// checkAs sends a CheckRequest for app.example.com with headers, as Envoy would.
func (r *running) checkAs(t *testing.T, method, path string, headers map[string]string) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := r.client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "e2e", Method: method, Scheme: "https", Host: "app.example.com", Path: path, Headers: headers,
		}},
	}})
	if err != nil {
		t.Fatalf("Check returned a gRPC error: %v", err)
	}
	return resp
}

func signedUp(t *testing.T, s *betterauth.Server, name string) (*betterauth.Browser, string) {
	t.Helper()
	b := s.NewBrowser()
	email := fmt.Sprintf("user-%d@example.com", time.Now().UnixNano())
	if err := b.SignUp(email, name); err != nil {
		t.Fatal(err)
	}
	return b, email
}

func TestBrowserSessionsOverGRPC(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: cookieCacheAge})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := run(t, sessionsConfig(s), nil)
	r.waitReady(t, 10*time.Second)
	b, email := signedUp(t, s, "Alice")
	data, token := b.Cookie("better-auth.session_data"), b.Cookie("better-auth.session_token")
	if data == "" || token == "" {
		t.Fatalf("Better Auth set no session cookies: %q", b.CookieHeader())
	}
	user := func(resp *authv3.CheckResponse) string { return setHeaders(resp)["x-user-id"].GetHeader().GetValue() }

	t.Run("the session-cache cookie, verified with the JWKS keys", func(t *testing.T) {
		resp := r.checkAs(t, "GET", "/orders", map[string]string{"cookie": "theme=dark; better-auth.session_data=" + data, "x-user-id": "spoofed"})
		if reasonOf(resp) != "allowed" || user(resp) == "" || user(resp) == "spoofed" {
			t.Fatalf("%s %v", reasonOf(resp), resp)
		}
		if got := setHeaders(resp)["x-user-email"].GetHeader().GetValue(); got != email {
			t.Errorf("x-user-email %q, want %q", got, email)
		}
	})
	t.Run("the session token, looked up; the refreshed cookie handed on", func(t *testing.T) {
		resp := r.checkAs(t, "GET", "/orders", map[string]string{"cookie": "better-auth.session_token=" + token})
		if reasonOf(resp) != "allowed" || user(resp) == "" {
			t.Fatalf("%s %v", reasonOf(resp), resp)
		}
		add := resp.GetOkResponse().GetResponseHeadersToAdd()
		if len(add) == 0 || add[0].GetHeader().GetKey() != "set-cookie" || !strings.HasPrefix(add[0].GetHeader().GetValue(), "better-auth.session_data=") {
			t.Fatalf("response_headers_to_add %v, want the refreshed session_data cookie", add)
		}
	})
	t.Run("the session-cache JWT is no bearer token, an access JWT no cookie", func(t *testing.T) {
		if got := reasonOf(r.checkAs(t, "GET", "/orders", map[string]string{"authorization": "Bearer " + data})); got != "invalid_token" {
			t.Errorf("session-cache JWT as Bearer: %s", got)
		}
		jwt, err := b.Token()
		if err != nil {
			t.Fatal(err)
		}
		if got := reasonOf(r.checkAs(t, "GET", "/orders", map[string]string{"cookie": "better-auth.session_data=" + jwt})); got != "invalid_token" {
			t.Errorf("access JWT in the cookie: %s", got)
		}
		// A Bearer header decides alone: invalid stays 401 whatever the cookie says.
		if got := reasonOf(r.checkAs(t, "GET", "/orders", map[string]string{"authorization": "Bearer " + jwt + "x", "cookie": "better-auth.session_data=" + data})); got != "invalid_token" {
			t.Errorf("invalid Bearer with a valid cookie: %s", got)
		}
	})
	t.Run("CSRF", func(t *testing.T) {
		cookie := "better-auth.session_data=" + data
		if got := reasonOf(r.checkAs(t, "POST", "/orders", map[string]string{"cookie": cookie, "origin": "https://evil.example"})); got != "untrusted_origin" {
			t.Errorf("POST from another site: %s", got)
		}
		if got := reasonOf(r.checkAs(t, "POST", "/orders", map[string]string{"cookie": cookie})); got != "untrusted_origin" {
			t.Errorf("POST without Origin: %s", got)
		}
		if got := reasonOf(r.checkAs(t, "POST", "/orders", map[string]string{"cookie": cookie, "origin": "https://app.example.com"})); got != "allowed" {
			t.Errorf("POST from the app itself: %s", got)
		}
		if got := reasonOf(r.checkAs(t, "POST", "/orders", map[string]string{"cookie": cookie, "origin": s.URL})); got != "allowed" {
			t.Errorf("POST from Better Auth's origin: %s", got)
		}
	})
	t.Run("a browser without a session is sent to sign in", func(t *testing.T) {
		resp := r.checkAs(t, "GET", "/orders?page=2", map[string]string{"accept": "text/html,*/*"})
		loc := deniedHeaders(resp)["location"]
		if reasonOf(resp) != "sign_in_redirect" || resp.GetDeniedResponse().GetStatus().GetCode() != 302 ||
			loc != "https://app.example.com/sign-in?callbackURL="+url.QueryEscape("https://app.example.com/orders?page=2") {
			t.Fatalf("%s %q", reasonOf(resp), loc)
		}
		if got := reasonOf(r.checkAs(t, "GET", "/orders", map[string]string{"accept": "application/json"})); got != "missing_token" {
			t.Errorf("an API call: %s", got)
		}
	})
	t.Run("cookies never reach the log", func(t *testing.T) {
		logs := r.logs.String()
		for _, secret := range []string{data, token, token[:strings.Index(token, ".")]} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain a session credential %.12q…", secret)
			}
		}
		// ...but they say which credential decided.
		for _, want := range []string{`"credential":"session_cookie"`, `"credential":"session_token"`, `"credential":"bearer"`} {
			if !strings.Contains(logs, want) {
				t.Errorf("logs lack %s", want)
			}
		}
	})
}

// Revocation: a sign-out shows through lookups within lookupTTL; a session-cache cookie stays
// good until it expires (Better Auth's cookieCache.maxAge), then the lookup decides.
func TestBrowserSessionRevocation(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: cookieCacheAge})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := run(t, sessionsConfig(s), nil)
	r.waitReady(t, 10*time.Second)
	b, _ := signedUp(t, s, "Bob")
	data, token := b.Cookie("better-auth.session_data"), b.Cookie("better-auth.session_token")
	both := map[string]string{"cookie": "better-auth.session_data=" + data + "; better-auth.session_token=" + token}
	tokenOnly := map[string]string{"cookie": "better-auth.session_token=" + token}
	if got := reasonOf(r.checkAs(t, "GET", "/x", tokenOnly)); got != "allowed" {
		t.Fatalf("before the sign-out: %s", got)
	}
	signedOut := time.Now()
	if err := b.SignOut(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if got := reasonOf(r.checkAs(t, "GET", "/x", tokenOnly)); got != "invalid_token" {
			return "the session token after the sign-out: " + got
		}
		return ""
	})
	if waited := time.Since(signedOut); waited > 2*time.Second+time.Second {
		t.Errorf("the sign-out showed after %s, want within lookupTTL (2s)", waited)
	}
	// The session-cache cookie is signed and carries its own expiry: it is trusted until then.
	if time.Since(signedOut) < cookieCacheAge-time.Second {
		if got := reasonOf(r.checkAs(t, "GET", "/x", both)); got != "allowed" {
			t.Errorf("a still-valid session-cache cookie after the sign-out: %s", got)
		}
	}
	eventually(t, cookieCacheAge+5*time.Second, func() string {
		if got := reasonOf(r.checkAs(t, "GET", "/x", both)); got != "invalid_token" {
			return "an expired session-cache cookie, with the signed-out token: " + got
		}
		return ""
	})
}

// Better Auth down: a lookup answers 503 with a reason of its own, never 401.
func TestBrowserSessionLookupOutage(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: cookieCacheAge})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := run(t, sessionsConfig(s), nil)
	r.waitReady(t, 10*time.Second)
	b, _ := signedUp(t, s, "Carol")
	if err := s.SetSessionMode(betterauth.SessionDown); err != nil {
		t.Fatal(err)
	}
	resp := r.checkAs(t, "GET", "/x", map[string]string{"cookie": "better-auth.session_token=" + b.Cookie("better-auth.session_token"), "accept": "text/html"})
	if reasonOf(resp) != "session_unavailable" || resp.GetDeniedResponse().GetStatus().GetCode() != 503 || deniedHeaders(resp)["retry-after"] == "" {
		t.Fatalf("%s %v", reasonOf(resp), resp)
	}
}

// The admin plugin's ban ends the user's sessions: the lookup sees it within lookupTTL, a
// session-cache cookie issued before keeps working until it expires (documented).
func TestBannedUser(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: cookieCacheAge})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := run(t, sessionsConfig(s), nil)
	r.waitReady(t, 10*time.Second)
	b, email := signedUp(t, s, "Dave")
	data, token := b.Cookie("better-auth.session_data"), b.Cookie("better-auth.session_token")
	if err := s.Ban(email); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() string {
		if got := reasonOf(r.checkAs(t, "GET", "/x", map[string]string{"cookie": "better-auth.session_token=" + token})); got != "invalid_token" {
			return "a banned user's session token: " + got
		}
		return ""
	})
	if got := reasonOf(r.checkAs(t, "GET", "/x", map[string]string{"cookie": "better-auth.session_data=" + data})); got != "allowed" {
		t.Errorf("the session-cache cookie issued before the ban: %s (documented to work until it expires)", got)
	}
}

// Above ~4 KB Better Auth splits the session-cache cookie: .0, .1, … joined in index order.
func TestChunkedSessionCookie(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: cookieCacheAge})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := run(t, sessionsConfig(s), nil)
	r.waitReady(t, 10*time.Second)
	b, _ := signedUp(t, s, strings.Repeat("N", 6000))
	if b.Cookie("better-auth.session_data.1") == "" {
		t.Fatalf("Better Auth did not chunk the cookie: %.200s", b.CookieHeader())
	}
	var parts []string
	for _, p := range strings.Split(b.CookieHeader(), "; ") {
		if strings.HasPrefix(p, "better-auth.session_data.") {
			parts = append(parts, p)
		}
	}
	// Reverse the order the browser sends them in: the index decides, not the order.
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	resp := r.checkAs(t, "GET", "/x", map[string]string{"cookie": strings.Join(parts, "; ")})
	if reasonOf(resp) != "allowed" || setHeaders(resp)["x-user-id"].GetHeader().GetValue() == "" {
		t.Fatalf("%s", reasonOf(resp))
	}
}

// The same sessions over the HTTP check endpoint.
func TestBrowserSessionsOverHTTP(t *testing.T) {
	t.Parallel()
	s, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: cookieCacheAge})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r := runHTTP(t, sessionsConfig(s))
	r.waitReady(t, 10*time.Second)
	b, _ := signedUp(t, s, "Erin")
	fwd := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": "/orders"}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range fwd {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	resp, _ := r.ask(t, "GET", "/check", with(map[string]string{"Cookie": "better-auth.session_token=" + b.Cookie("better-auth.session_token")}))
	if resp.StatusCode != 200 || resp.Header.Get("X-User-Id") == "" || !strings.HasPrefix(resp.Header.Get("Set-Cookie"), "better-auth.session_data=") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = r.ask(t, "GET", "/check", with(map[string]string{"Accept": "text/html"}))
	if resp.StatusCode != 302 || !strings.HasPrefix(resp.Header.Get("Location"), "https://app.example.com/sign-in?callbackURL=") {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	post := with(map[string]string{"X-Forwarded-Method": "POST", "Cookie": "better-auth.session_data=" + b.Cookie("better-auth.session_data"), "Origin": "https://evil.example"})
	if resp, _ := r.ask(t, "GET", "/check", post); resp.StatusCode != 403 {
		t.Fatalf("CSRF over HTTP: %d", resp.StatusCode)
	}
}
