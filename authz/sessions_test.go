package authz

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
)

// fakeLookup answers session tokens from a table: token -> claims JSON or an error.
type fakeLookup map[string]any

func (f fakeLookup) Lookup(_ context.Context, name, token string) (*session.Session, error) {
	switch v := f[name+"="+token].(type) {
	case string:
		return &session.Session{Claims: claims(v), SetCookie: []string{"better-auth.session_data=fresh; Path=/; HttpOnly"}}, nil
	case error:
		return nil, v
	}
	return nil, session.ErrNoSession
}

func sessionsLive(t *testing.T, mod func(*Browser)) *Snapshot {
	t.Helper()
	c := routedPolicy(t)
	rules, errs := policy.CompileRules([]policy.RuleSpec{{Name: "home", Paths: []string{"/"}, Policy: "public"}}, "extra", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c.Routes = append(c.Routes, rules...)
	l := c.live(fakeVerifier{"good": claims(`{"sub":"bearer-user","role":"admin"}`)}, nil)
	l.Config.Browser = Browser{
		CookieCache: true, Lookup: true, CookiePrefix: "better-auth",
		SignInURL:      "https://app.example.com/sign-in",
		TrustedOrigins: []string{"https://admin.example.com", "https://auth.example.com"},
	}
	if mod != nil {
		mod(&l.Config.Browser)
	}
	l.SessionVerifier = fakeVerifier{
		"cookie-alice":   claims(`{"sub":"alice","email":"a@example.com","session":{"id":"s1"}}`),
		"cookie-expired": jwks.ErrExpired,
		"cookie-forged":  jwks.ErrInvalidToken,
		"ab" + "cd":      claims(`{"sub":"chunked"}`),
	}
	l.Sessions = fakeLookup{
		"better-auth.session_token=tok-bob":          `{"sub":"bob"}`,
		"__Secure-better-auth.session_token=tok-sec": `{"sub":"secure-bob"}`,
		"better-auth.session_token=tok-down":         session.ErrUnavailable,
		"better-auth.session_token=tok-slow":         session.ErrTimeout,
	}
	return l
}

func TestSessionCredentials(t *testing.T) {
	l := sessionsLive(t, nil)
	type want struct {
		reason  Reason
		subject string
		loc     string // Location prefix, for redirects
		cookies bool   // Set-Cookie handed on
	}
	html := "text/html,application/xhtml+xml"
	cases := map[string]struct {
		method, path string
		headers      map[string]string
		want         want
	}{
		"session-cache cookie":                    {path: "/orders", headers: map[string]string{"cookie": "theme=dark; better-auth.session_data=cookie-alice"}, want: want{reason: ReasonAllowed, subject: "alice"}},
		"chunked cookie, joined":                  {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data.1=cd; better-auth.session_data.0=ab"}, want: want{reason: ReasonAllowed, subject: "chunked"}},
		"percent-encoded value":                   {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie%2Dalice"}, want: want{reason: ReasonAllowed, subject: "alice"}},
		"session token looked up":                 {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_token=tok-bob"}, want: want{reason: ReasonAllowed, subject: "bob", cookies: true}},
		"__Secure- name":                          {path: "/orders", headers: map[string]string{"cookie": "__Secure-better-auth.session_token=tok-sec"}, want: want{reason: ReasonAllowed, subject: "secure-bob", cookies: true}},
		"__Secure- wins over the plain":           {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_token=tok-bob; __Secure-better-auth.session_token=tok-sec"}, want: want{reason: ReasonAllowed, subject: "secure-bob", cookies: true}},
		"expired cookie falls back to the lookup": {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-expired; better-auth.session_token=tok-bob"}, want: want{reason: ReasonAllowed, subject: "bob", cookies: true}},
		"expired cookie alone":                    {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-expired"}, want: want{reason: ReasonExpired}},
		"forged cookie does not fall back":        {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-forged; better-auth.session_token=tok-bob"}, want: want{reason: ReasonInvalidToken}},
		"signed out":                              {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_token=tok-gone"}, want: want{reason: ReasonInvalidToken}},
		"Better Auth down":                        {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_token=tok-down"}, want: want{reason: ReasonSessionUnavailable}},
		"Better Auth slow":                        {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_token=tok-slow"}, want: want{reason: ReasonTimeout}},
		"a cookie twice":                          {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_token=tok-bob; better-auth.session_token=tok-evil"}, want: want{reason: ReasonInvalidToken}},
		"other cookies only":                      {path: "/orders", headers: map[string]string{"cookie": "theme=dark"}, want: want{reason: ReasonMissingToken}},

		"a valid bearer decides alone":    {path: "/orders", headers: map[string]string{"authorization": "Bearer good", "cookie": "better-auth.session_data=cookie-alice"}, want: want{reason: ReasonAllowed, subject: "bearer-user"}},
		"an invalid bearer decides alone": {path: "/orders", headers: map[string]string{"authorization": "Bearer bad", "cookie": "better-auth.session_data=cookie-alice"}, want: want{reason: ReasonInvalidToken}},
		"bearer is exempt from CSRF":      {method: "POST", path: "/orders", headers: map[string]string{"authorization": "Bearer good", "origin": "https://evil.example"}, want: want{reason: ReasonAllowed, subject: "bearer-user"}},

		"CSRF: POST from another site":      {method: "POST", path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "origin": "https://evil.example"}, want: want{reason: ReasonUntrustedOrigin}},
		"CSRF: POST without an origin":      {method: "POST", path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice"}, want: want{reason: ReasonUntrustedOrigin}},
		"CSRF: null origin":                 {method: "DELETE", path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "origin": "null"}, want: want{reason: ReasonUntrustedOrigin}},
		"CSRF: the request's own origin":    {method: "POST", path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "origin": "https://api.example.com"}, want: want{reason: ReasonAllowed, subject: "alice"}},
		"CSRF: own host, other scheme":      {method: "POST", path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "origin": "http://api.example.com"}, want: want{reason: ReasonUntrustedOrigin}},
		"CSRF: own host, other port":        {method: "POST", path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "origin": "https://api.example.com:8443"}, want: want{reason: ReasonUntrustedOrigin}},
		"CSRF: a trusted origin":            {method: "PUT", path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "origin": "https://admin.example.com"}, want: want{reason: ReasonAllowed, subject: "alice"}},
		"CSRF: Referer when no Origin":      {method: "POST", path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "referer": "https://admin.example.com/page?x"}, want: want{reason: ReasonAllowed, subject: "alice"}},
		"CSRF: GET needs no origin":         {path: "/orders", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "origin": "https://evil.example"}, want: want{reason: ReasonAllowed, subject: "alice"}},
		"CSRF on a public route: anonymous": {method: "POST", path: "/public/x", headers: map[string]string{"cookie": "better-auth.session_data=cookie-alice", "origin": "https://evil.example"}, want: want{reason: ReasonPublic}},

		"browser without a session: sign in":   {path: "/orders?x=1", headers: map[string]string{"accept": html}, want: want{reason: ReasonSignIn, loc: "https://app.example.com/sign-in?callbackURL=https%3A%2F%2Fapi.example.com%2Forders%3Fx%3D1"}},
		"browser with an expired cookie":       {path: "/orders", headers: map[string]string{"accept": html, "cookie": "better-auth.session_data=cookie-expired"}, want: want{reason: ReasonSignIn, loc: "https://app.example.com/sign-in?callbackURL="}},
		"browser during an outage: 503":        {path: "/orders", headers: map[string]string{"accept": html, "cookie": "better-auth.session_token=tok-down"}, want: want{reason: ReasonSessionUnavailable}},
		"browser with a bad bearer: 401":       {path: "/orders", headers: map[string]string{"accept": html, "authorization": "Bearer bad"}, want: want{reason: ReasonInvalidToken}},
		"API client: 401":                      {path: "/orders", headers: map[string]string{"accept": "application/json"}, want: want{reason: ReasonMissingToken}},
		"*/* alone is not a browser":           {path: "/orders", headers: map[string]string{"accept": "*/*"}, want: want{reason: ReasonMissingToken}},
		"a POST is never redirected":           {method: "POST", path: "/orders", headers: map[string]string{"accept": html}, want: want{reason: ReasonMissingToken}},
		"HEAD is":                              {method: "HEAD", path: "/orders", headers: map[string]string{"accept": html}, want: want{reason: ReasonSignIn, loc: "https://app.example.com/sign-in?"}},
		"absolute-form: the URI's own parts":   {path: "http://API.example.com:8443/orders?x=1", headers: map[string]string{"accept": html}, want: want{reason: ReasonSignIn, loc: "https://app.example.com/sign-in?callbackURL=https%3A%2F%2FAPI.example.com%3A8443%2Forders%3Fx%3D1"}},
		"a target with an authority-like path": {path: "//evil.com/x", headers: map[string]string{"accept": html}, want: want{reason: ReasonSignIn, loc: "https://app.example.com/sign-in?callbackURL=https%3A%2F%2Fapi.example.com%2F%2Fevil.com%2Fx"}},
		"a relative target: 400, no redirect":  {path: "@evil.com/x", headers: map[string]string{"accept": html}, want: want{reason: ReasonBadRequest}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			r := httpCheck(method, "api.example.com", tc.path, tc.headers)
			r.Scheme = "https"
			d := Decide(context.Background(), l, r)
			if d.Reason != tc.want.reason || d.Subject != tc.want.subject {
				t.Fatalf("%s (%s) as %q, want %s as %q", d.Reason, d.Description, d.Subject, tc.want.reason, tc.want.subject)
			}
			if !strings.HasPrefix(d.Location, tc.want.loc) || (tc.want.loc == "") != (d.Location == "") {
				t.Errorf("Location %q, want %q…", d.Location, tc.want.loc)
			}
			if (len(d.ResponseHeaders) > 0) != tc.want.cookies {
				t.Errorf("response headers %v", d.ResponseHeaders)
			}
			if d.Reason == ReasonPublic && !slices.Contains(d.Remove, "x-user-id") {
				t.Errorf("anonymous public request keeps identity: remove %v", d.Remove)
			}
		})
	}
}

func TestSessionCookieNames(t *testing.T) {
	t.Run("https: only __Secure- names", func(t *testing.T) {
		l := sessionsLive(t, func(s *Browser) { s.SecureOnly = true })
		r := httpCheck("GET", "api.example.com", "/orders", map[string]string{"cookie": "better-auth.session_data=cookie-alice"})
		if d := Decide(context.Background(), l, r); d.Reason != ReasonMissingToken {
			t.Fatalf("a plain-named cookie over https: %s", d.Reason)
		}
	})
	t.Run("a custom prefix", func(t *testing.T) {
		l := sessionsLive(t, func(s *Browser) { s.CookiePrefix = "myapp" })
		r := httpCheck("GET", "api.example.com", "/orders", map[string]string{"cookie": "myapp.session_data=cookie-alice; better-auth.session_data=cookie-forged"})
		if d := Decide(context.Background(), l, r); d.Reason != ReasonAllowed || d.Subject != "alice" {
			t.Fatalf("%s %q", d.Reason, d.Subject)
		}
	})
	t.Run("cookie cache off: the session-cache cookie is ignored", func(t *testing.T) {
		l := sessionsLive(t, func(s *Browser) { s.CookieCache = false })
		r := httpCheck("GET", "api.example.com", "/orders", map[string]string{"cookie": "better-auth.session_data=cookie-alice"})
		if d := Decide(context.Background(), l, r); d.Reason != ReasonMissingToken {
			t.Fatalf("%s", d.Reason)
		}
	})
	t.Run("sessions off: cookies are nobody's business", func(t *testing.T) {
		l := sessionsLive(t, func(s *Browser) { *s = Browser{} })
		r := httpCheck("GET", "api.example.com", "/orders", map[string]string{"cookie": "better-auth.session_data=cookie-alice", "accept": "text/html"})
		if d := Decide(context.Background(), l, r); d.Reason != ReasonMissingToken || d.Description != "a bearer token is required" {
			t.Fatalf("%s %q", d.Reason, d.Description)
		}
	})
}

// multiHeaders keeps repeated headers apart, as HTTP/2 cookie crumbs and header_map arrive.
type multiHeaders map[string][]string

func (m multiHeaders) Header(name string) (string, int) {
	if v := m[name]; len(v) > 0 {
		return v[0], len(v)
	}
	return "", 0
}
func (m multiHeaders) Values(name string) []string { return m[name] }

func TestSessionCookiesInRepeatedHeaders(t *testing.T) {
	l := sessionsLive(t, nil)
	for name, h := range map[string]Headers{
		"separate Cookie headers": multiHeaders{"cookie": {"theme=dark", "better-auth.session_data=cookie-alice"}},
		"joined with a comma":     HeaderMap{"cookie": "theme=dark,better-auth.session_data=cookie-alice"},
	} {
		t.Run(name, func(t *testing.T) {
			r := &Request{Method: "GET", Scheme: "http", Host: "api.example.com", Path: "/orders", Headers: h}
			if d := Decide(context.Background(), l, r); d.Reason != ReasonAllowed || d.Subject != "alice" {
				t.Fatalf("%s %q", d.Reason, d.Subject)
			}
		})
	}
	t.Run("one cookie twice across headers is ambiguous", func(t *testing.T) {
		r := &Request{Method: "GET", Scheme: "http", Host: "api.example.com", Path: "/orders",
			Headers: multiHeaders{"cookie": {"better-auth.session_data=cookie-alice", "better-auth.session_data=cookie-bob"}}}
		if d := Decide(context.Background(), l, r); d.Reason == ReasonAllowed {
			t.Fatalf("allowed %q with two session cookies", d.Subject)
		}
	})
}

func TestSignInCallbackStaysOnSite(t *testing.T) {
	s := Browser{SignInURL: "https://app.example.com/sign-in?from=mesh"}
	for host, wantCallback := range map[string]bool{
		"api.example.com":      true,
		"app.example.com":      true,
		"evil.com":             false,
		"example.com.evil.com": false,
		"10.0.0.1":             false,
	} {
		r := &Request{Method: "GET", Scheme: "https", Host: host, Headers: HeaderMap{"accept": "text/html"}}
		loc, ok := s.signInRedirect(r, host, host, "/x")
		if !ok || !strings.HasPrefix(loc, "https://app.example.com/sign-in?") {
			t.Fatalf("%s: %q %v", host, loc, ok)
		}
		if got := strings.Contains(loc, "callbackURL="); got != wantCallback {
			t.Errorf("%s: callbackURL in %q = %v, want %v", host, loc, got, wantCallback)
		}
		if !strings.Contains(loc, "from=mesh") {
			t.Errorf("%s: signInURL's own query lost: %q", host, loc)
		}
	}
}

// TestCallbackURL: the way back is built from parts, and a target that is not a path is never
// joined to a host.
func TestCallbackURL(t *testing.T) {
	cases := map[string]struct {
		scheme, authority, target string
		want                      string // "" for no callbackURL
	}{
		"path and query":             {"https", "app.example.com", "/orders?page=2&x=%2F", "https://app.example.com/orders?page=2&x=%2F"},
		"port kept":                  {"http", "app.example.com:8080", "/a", "http://app.example.com:8080/a"},
		"IPv6 literal":               {"http", "[::1]:8080", "/a", "http://[::1]:8080/a"},
		"unknown scheme is https":    {"", "app.example.com", "/a", "https://app.example.com/a"},
		"scheme case":                {"HTTP", "app.example.com", "/a", "http://app.example.com/a"},
		"encodings kept as sent":     {"https", "h", "/a%2Fb/%7e", "https://h/a%2Fb/%7e"},
		"fragment dropped":           {"https", "h", "/a?b#c", "https://h/a?b"},
		"two slashes stay a path":    {"https", "h", "//evil.com/x", "https://h//evil.com/x"},
		"backslashes stay a path":    {"https", "h", `/\evil.com/x`, "https://h/%5Cevil.com/x"},
		"@ in the path stays in it":  {"https", "h", "/@evil.com/x", "https://h/@evil.com/x"},
		"userinfo-like target":       {"https", "h", "@evil.com/x", ""},
		"relative target":            {"https", "h", "evil.com/x", ""},
		"query only":                 {"https", "h", "?x", ""},
		"empty target":               {"https", "h", "", ""},
		"no host":                    {"https", "", "/a", ""},
		"another scheme":             {"javascript", "h", "/a", ""},
		"host spelled with userinfo": {"https", "evil.com@h", "/a", ""},
		"bad percent-encoding":       {"https", "h", "/a%zz", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := callbackURL(tc.scheme, tc.authority, tc.target)
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("callbackURL(%q, %q, %q) = %q, %v; want %q", tc.scheme, tc.authority, tc.target, got, ok, tc.want)
			}
			if ok {
				u, err := url.Parse(got)
				if err != nil || u.Host != tc.authority {
					t.Fatalf("%q reads as host %q, want %q (%v)", got, u.Host, tc.authority, err)
				}
			}
		})
	}
}

// A rule's credentials say which kinds of credential open its route; another kind is refused
// before it is verified or looked up.
func TestRulesChooseTheCredentials(t *testing.T) {
	l := sessionsLive(t, nil)
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "browser", Paths: []string{"/app/**"}, Credentials: []string{"session"}},
		{Name: "api", Paths: []string{"/api/**"}, Credentials: []string{"jwt"}},
	}, "only", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	l.Config.Routes = policy.NewRoutes(rules, policy.Authenticated)
	counted := fakeLookup{"better-auth.session_token=tok-down": session.ErrUnavailable}
	l.Sessions = counted
	cases := []struct {
		path, header, value string
		want                Reason
	}{
		{"/app/x", "cookie", "better-auth.session_data=cookie-alice", ReasonAllowed},
		{"/app/x", "authorization", "Bearer good", ReasonNotAccepted},
		{"/api/x", "authorization", "Bearer good", ReasonAllowed},
		{"/api/x", "cookie", "better-auth.session_data=cookie-alice", ReasonNotAccepted},
		// Refused unlooked-up: a lookup would have answered 503.
		{"/api/x", "cookie", "better-auth.session_token=tok-down", ReasonNotAccepted},
		{"/other", "authorization", "Bearer good", ReasonAllowed},
		{"/other", "cookie", "better-auth.session_data=cookie-alice", ReasonAllowed},
	}
	for _, tc := range cases {
		r := httpCheck("GET", "api.example.com", tc.path, map[string]string{tc.header: tc.value})
		d := Decide(context.Background(), l, r)
		if d.Reason != tc.want {
			t.Errorf("%s with %s: %s (%s), want %s", tc.path, tc.header, d.Reason, d.Description, tc.want)
		}
		if d.Reason == ReasonNotAccepted && (d.HTTPStatus() != 401 || !strings.Contains(d.Challenge(), `error="invalid_token"`)) {
			t.Errorf("%s: %d %q", tc.path, d.HTTPStatus(), d.Challenge())
		}
	}
}

func TestCredentialsParse(t *testing.T) {
	for _, bad := range [][]string{{"cookie"}, {"jwt", "jwt"}, {"jwt", "session", "apiKey", "accessToken", "jwt"}, {""}} {
		if _, errs := policy.CompileRule(policy.RuleSpec{Credentials: bad}, "r", policy.SourceConfig, true, nil); len(errs) == 0 {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, errs := policy.CompileRule(policy.RuleSpec{Policy: "public", Credentials: []string{"jwt"}}, "r", policy.SourceConfig, true, nil); len(errs) == 0 {
		t.Error("credentials on a public rule accepted")
	}
	r, errs := policy.CompileRule(policy.RuleSpec{Credentials: []string{"apiKey", "session"}}, "r", policy.SourceConfig, true, nil)
	if len(errs) > 0 || r.Credentials() != policy.CredentialAPIKey|policy.CredentialSession || r.Credentials().String() != "session, apiKey" {
		t.Errorf("%v %v", r.Accepts, errs)
	}
}
