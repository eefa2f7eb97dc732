package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/proxies"
)

// betterauthz's HTTP check endpoint behind real nginx, Caddy and Traefik, and nginx running
// what ingress-nginx generates, each with the config shipped in examples/proxies, with real
// Better Auth tokens. Where the proxies differ (docs/proxies/compared.md), proxyTraits says how.

// proxyTraits is what a proxy carries of betterauthz's answer, where proxies differ.
type proxyTraits struct {
	emptyIdentity bool // an identity header betterauthz sends empty reaches the app empty (else: absent)
	jsonBody      bool // denials keep betterauthz's JSON body (nginx answers with its own HTML)
	www403        bool // a 403 keeps its WWW-Authenticate (nginx keeps it on 401 only)
	status503     int  // what the client gets for betterauthz's 503: nginx's auth_request makes
	// any status but 2xx/401/403 a 500, which the shipped nginx.conf turns back; ingress-nginx
	// cannot
	// betterauthz is told the host the proxy routes by, even when an absolute-form request line
	// names another host than Host. Else (ingress-nginx, whose X-Original-URL always has the
	// Host header) it is told both, refuses them (400), and the client gets a 500.
	routedHost bool
}

var traits = map[proxies.Kind]proxyTraits{
	proxies.Nginx:        {status503: 503, routedHost: true},
	proxies.IngressNginx: {status503: 500},
	proxies.Caddy:        {jsonBody: true, www403: true, status503: 503, routedHost: true},
	proxies.Traefik:      {emptyIdentity: true, jsonBody: true, www403: true, status503: 503, routedHost: true},
}

// proxiesConfig: x-user-name comes from nickname, a claim Better Auth's default payload lacks,
// so that tokens without it lack one identity claim.
func proxiesConfig(s *betterauth.Server) string {
	return fmt.Sprintf(`betterAuthURL: %s
identityHeaders:
  x-user-id: sub
  x-user-email: email
  x-user-name: nickname
defaultPolicy: authenticated
allowCORSPreflight: true # off by default since issue 18; the proxies must carry it when on
routes:
  - name: public-host
    hosts: ["public.example.com"]
    policy: public
  - name: public
    paths: ["/public/**"]
    policy: public
  - name: docs
    paths: ["/docs/**"]
    methods: [GET]
    policy: public
  - name: admin
    paths: ["/admin/**"]
    claims: {role: [admin]}
  - name: internal
    paths: ["/internal/**"]
    policy: deny
`, s.URL)
}

// runCheckHTTP starts betterauthz with its HTTP check endpoint on a loopback port.
func runCheckHTTP(t *testing.T, configYAML string) (*running, string) {
	t.Helper()
	addr := make(chan string, 1)
	r := run(t, configYAML, func(o *server.Options) {
		o.CheckHTTPAddr = "127.0.0.1:0"
		listening := o.Listening
		o.Listening = func(l server.Listeners) {
			if l.CheckHTTP != nil {
				addr <- l.CheckHTTP.String()
			}
			listening(l)
		}
	})
	select {
	case a := <-addr:
		return r, a
	case <-time.After(10 * time.Second):
		t.Fatal("no check HTTP listener")
		return nil, ""
	}
}

// startProxy runs kind's shipped config between betterauthz and a recording app.
func startProxy(t *testing.T, kind proxies.Kind, checkAddr string) (*proxies.Proxy, *proxies.Upstream) {
	t.Helper()
	cfg, err := proxies.Example(kind)
	if err != nil {
		t.Fatal(err)
	}
	up := proxies.NewUpstream(t)
	// A path every config routes and betterauthz answers at once (public).
	cfg.ReadyPath = "/public/ready"
	p := proxies.Start(t, kind, cfg, proxies.Addrs{Check: checkAddr, Upstream: up.Addr})
	up.Reset()
	return p, up
}

// spoof is what a client adds to claim an identity: the identity headers, an alias that CGI and
// WSGI apps read as the same variable, and both families of original-request headers.
var spoof = http.Header{
	"X-User-Id": {"mallory"}, "X-User-Email": {"mallory@evil.example"}, "X-User-Name": {"Mallory"},
	"X_User_Id": {"mallory"},
}

func headers(kv ...string) http.Header {
	h := spoof.Clone()
	for i := 0; i < len(kv); i += 2 {
		h[kv[i]] = []string{kv[i+1]}
	}
	return h
}

// cgiName is how CGI, FastCGI and WSGI apps name a header: X_User_Id and X-User-Id are both
// HTTP_X_USER_ID.
func cgiName(h string) string {
	return "HTTP_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, h)
}

// noSpoof fails if any header the app got, under any spelling, carries the client's identity.
func noSpoof(t *testing.T, got proxies.Received) {
	t.Helper()
	for name, values := range got.Header {
		switch cgiName(name) {
		case "HTTP_X_USER_ID", "HTTP_X_USER_EMAIL", "HTTP_X_USER_NAME":
			for _, v := range values {
				if strings.Contains(strings.ToLower(v), "mallory") {
					t.Errorf("the client's %s: %q reached the app", name, v)
				}
			}
		}
	}
}

// identity checks the identity headers the app got: want maps each to its value, "" for one
// betterauthz sends empty (absent or empty at the app, by the proxy's traits).
func identity(t *testing.T, kind proxies.Kind, got proxies.Received, want map[string]string) {
	t.Helper()
	noSpoof(t, got)
	for name, value := range want {
		v, present := got.Header[name]
		switch {
		case value != "":
			if len(v) != 1 || v[0] != value {
				t.Errorf("app got %s %q, want %q", name, v, value)
			}
		case traits[kind].emptyIdentity:
			if len(v) > 1 || len(v) == 1 && v[0] != "" {
				t.Errorf("app got %s %q, want it empty", name, v)
			}
		case present:
			t.Errorf("app got %s %q, want none", name, v)
		}
	}
}

// only returns the one request the app got, failing otherwise.
func only(t *testing.T, up *proxies.Upstream) proxies.Received {
	t.Helper()
	reqs := up.Requests()
	if len(reqs) != 1 {
		t.Fatalf("app got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

var noIdentity = map[string]string{"X-User-Id": "", "X-User-Email": "", "X-User-Name": ""}

func TestProxiesCarryBetterauthzDecisions(t *testing.T) {
	r, checkAddr := runCheckHTTP(t, proxiesConfig(ba))
	r.waitReady(t, 10*time.Second)
	neo, err := ba.Mint(betterauth.MintOptions{Claims: map[string]any{"nickname": "Neo"}})
	if err != nil {
		t.Fatal(err)
	}
	user, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := ba.Mint(betterauth.MintOptions{User: map[string]any{"role": "admin,user"}})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := ba.Mint(betterauth.MintOptions{ExpirationTime: "-10m"})
	if err != nil {
		t.Fatal(err)
	}
	tok := func(m *betterauth.Minted) string { return "Bearer " + m.Token }
	realm := `Bearer realm="` + ba.URL + `"`

	for _, kind := range proxies.ExampleKinds {
		t.Run(string(kind), func(t *testing.T) {
			p, up := startProxy(t, kind, checkAddr)
			send := func(t *testing.T, method, target string, h http.Header) proxies.Response {
				t.Helper()
				up.Reset()
				return proxies.Send(t, p.Addr, method, target, h)
			}
			allowed := func(t *testing.T, resp proxies.Response) proxies.Received {
				t.Helper()
				if resp.Status != 200 || resp.Body != "upstream" {
					t.Fatalf("%d %q, want the app's answer", resp.Status, resp.Body)
				}
				return only(t, up)
			}
			denied := func(t *testing.T, resp proxies.Response, status int, www string) {
				t.Helper()
				if resp.Status != status {
					t.Errorf("%d %q, want %d", resp.Status, resp.Body, status)
				}
				if www != "" && !strings.HasPrefix(resp.Header.Get("Www-Authenticate"), www) {
					t.Errorf("WWW-Authenticate %q, want %s…", resp.Header.Values("Www-Authenticate"), www)
				}
				if n := len(up.Requests()); n != 0 {
					t.Errorf("a denied request reached the app (%d)", n)
				}
			}

			t.Run("allowed: the token's identity reaches the app, the client's does not", func(t *testing.T) {
				got := allowed(t, send(t, "GET", "/api/orders", headers("Authorization", tok(neo))))
				identity(t, kind, got, map[string]string{"X-User-Id": neo.UserID, "X-User-Email": neo.Email, "X-User-Name": "Neo"})
			})
			t.Run("a claim the token lacks: the client's copy of that header does not pass", func(t *testing.T) {
				got := allowed(t, send(t, "GET", "/api/orders", headers("Authorization", tok(user))))
				identity(t, kind, got, map[string]string{"X-User-Id": user.UserID, "X-User-Email": user.Email, "X-User-Name": ""})
			})
			t.Run("public path without a token: no identity", func(t *testing.T) {
				identity(t, kind, allowed(t, send(t, "GET", "/public/page", headers())), noIdentity)
			})
			t.Run("public path with a bad token: no identity", func(t *testing.T) {
				got := allowed(t, send(t, "GET", "/public/page", headers("Authorization", tok(neo)+"x")))
				identity(t, kind, got, noIdentity)
			})
			t.Run("public path with a valid token: its identity", func(t *testing.T) {
				got := allowed(t, send(t, "GET", "/public/page", headers("Authorization", tok(neo))))
				identity(t, kind, got, map[string]string{"X-User-Id": neo.UserID, "X-User-Email": neo.Email, "X-User-Name": "Neo"})
			})
			t.Run("missing token: 401 with the challenge", func(t *testing.T) {
				resp := send(t, "GET", "/api/orders", headers())
				denied(t, resp, 401, realm)
				if traits[kind].jsonBody && !strings.Contains(resp.Body, `"error":"missing_token"`) && !strings.Contains(resp.Body, `"error":"invalid_token"`) {
					t.Errorf("body %q, want betterauthz's JSON", resp.Body)
				}
			})
			t.Run("invalid token: 401 invalid_token", func(t *testing.T) {
				denied(t, send(t, "GET", "/api/orders", headers("Authorization", tok(user)+"x")), 401, realm+`, error="invalid_token"`)
			})
			t.Run("expired token: 401", func(t *testing.T) {
				denied(t, send(t, "GET", "/api/orders", headers("Authorization", tok(expired))), 401, realm+`, error="invalid_token", error_description="token expired"`)
			})
			t.Run("claims not met: 403", func(t *testing.T) {
				resp := send(t, "GET", "/admin/users", headers("Authorization", tok(user)))
				www := ""
				if traits[kind].www403 {
					www = realm + `, error="insufficient_scope"`
				}
				denied(t, resp, 403, www)
			})
			t.Run("claims met: allowed", func(t *testing.T) {
				got := allowed(t, send(t, "GET", "/admin/users", headers("Authorization", tok(admin))))
				identity(t, kind, got, map[string]string{"X-User-Id": admin.UserID})
			})
			t.Run("deny route: 403 even for an admin", func(t *testing.T) {
				denied(t, send(t, "GET", "/internal/debug", headers("Authorization", tok(admin))), 403, "")
			})
			t.Run("the original method decides, not the check request's GET", func(t *testing.T) {
				allowed(t, send(t, "GET", "/docs/intro", headers()))
				denied(t, send(t, "POST", "/docs/intro", headers()), 401, realm)
			})
			t.Run("the original host decides", func(t *testing.T) {
				got := allowed(t, send(t, "GET", "/api/orders", headers("Host", "public.example.com")))
				identity(t, kind, got, noIdentity)
				denied(t, send(t, "GET", "/api/orders", headers("Host", "shop.example.com")), 401, realm)
			})
			t.Run("an absolute-form request line is decided for the host the proxy routes to", func(t *testing.T) {
				// The proxy serves the request line's host, not Host's: public.example.com is
				// public (the public-host route), shop.example.com needs a token.
				resp := send(t, "GET", "http://shop.example.com/api/orders", headers("Host", "public.example.com"))
				if traits[kind].routedHost {
					denied(t, resp, 401, realm)
				} else {
					denied(t, resp, 500, "")
				}
				resp = send(t, "GET", "http://public.example.com/api/orders", headers("Host", "shop.example.com"))
				if !traits[kind].routedHost {
					denied(t, resp, 500, "")
					return
				}
				got := allowed(t, resp)
				identity(t, kind, got, noIdentity)
				if got.Host != "public.example.com" {
					t.Errorf("the app got Host %q, decided for public.example.com", got.Host)
				}
			})
			t.Run("a port in Host is no disagreement", func(t *testing.T) {
				got := allowed(t, send(t, "GET", "/api/orders", headers("Host", "shop.example.com:8080", "Authorization", tok(user))))
				identity(t, kind, got, map[string]string{"X-User-Id": user.UserID})
				got = allowed(t, send(t, "GET", "/api/orders", headers("Host", "Public.Example.com.:8080")))
				identity(t, kind, got, noIdentity)
			})
			t.Run("CORS preflight passes without a token", func(t *testing.T) {
				got := allowed(t, send(t, "OPTIONS", "/api/orders", headers("Origin", "https://app.example.com", "Access-Control-Request-Method", "DELETE")))
				identity(t, kind, got, noIdentity)
			})
			t.Run("query strings reach the app unchanged", func(t *testing.T) {
				for _, q := range []string{"?page=2", "?b=2&a=1&a=0", "?enc=%2F%3F%26%20x&empty=&flag", "?next=/admin/users"} {
					got := allowed(t, send(t, "GET", "/api/orders"+q, headers("Authorization", tok(user))))
					if got.URI != "/api/orders"+q {
						t.Errorf("app got %s, want /api/orders%s", got.URI, q)
					}
				}
			})
			t.Run("dot segments and encodings never reach the admin API unauthenticated", func(t *testing.T) {
				dotsAndEncodings(t, kind, p, up, tok(user))
			})
			t.Run("a client's own original-request headers cannot decide", func(t *testing.T) {
				forged := http.Header{
					"X-Forwarded-Uri": {"/public/x"}, "X-Forwarded-Host": {"public.example.com"}, "X-Forwarded-Method": {"GET"},
					"X-Original-Uri": {"/public/x"}, "X-Original-Url": {"http://public.example.com/public/x"}, "X-Original-Method": {"GET"},
				}
				for name, value := range forged {
					h := headers(name, value[0])
					resp := send(t, "POST", "/admin/users", h)
					if resp.Status == 200 || len(up.Requests()) != 0 {
						t.Errorf("with the client's %s: %s, %d, the app got %d requests", name, value[0], resp.Status, len(up.Requests()))
					}
				}
				all := headers()
				for name, value := range forged {
					all[name] = value
				}
				if resp := send(t, "POST", "/admin/users", all); resp.Status == 200 || len(up.Requests()) != 0 {
					t.Errorf("with every forged header: %d, the app got %d requests", resp.Status, len(up.Requests()))
				}
			})
		})
	}
}

// TestNginxAsItsDocsShowCannotBeSteered: behind an nginx configured as nginx's documentation
// shows (only X-Original-URI and -Method describe the request), a client's own X-Forwarded-*
// headers, which nginx passes through, never decide the host.
func TestNginxAsItsDocsShowCannotBeSteered(t *testing.T) {
	r, checkAddr := runCheckHTTP(t, proxiesConfig(ba))
	r.waitReady(t, 10*time.Second)
	user, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join("testdata", "nginx-docs-auth-request.conf"))
	if err != nil {
		t.Fatal(err)
	}
	up := proxies.NewUpstream(t)
	p := proxies.Start(t, proxies.Nginx, proxies.Config{Main: string(conf), ReadyPath: "/public/ready"}, proxies.Addrs{Check: checkAddr, Upstream: up.Addr})
	send := func(target string, h http.Header) proxies.Response {
		up.Reset()
		return proxies.Send(t, p.Addr, "GET", target, h)
	}
	if resp := send("/api/orders", http.Header{"Authorization": {"Bearer " + user.Token}}); resp.Status != 200 || len(up.Requests()) != 1 {
		t.Fatalf("with a token: %d, the app got %d requests", resp.Status, len(up.Requests()))
	}
	for name, h := range map[string]http.Header{
		"X-Forwarded-Host alone":  {"X-Forwarded-Host": {"public.example.com"}},
		"with -Method and -Proto": {"X-Forwarded-Host": {"public.example.com"}, "X-Forwarded-Method": {"GET"}, "X-Forwarded-Proto": {"https"}},
		// A whole family, with the real target: compared with the Host nginx sends, refused.
		"a whole X-Forwarded-* family": {"X-Forwarded-Host": {"public.example.com"}, "X-Forwarded-Uri": {"/api/orders"}, "X-Forwarded-Method": {"GET"}},
	} {
		t.Run(name, func(t *testing.T) {
			resp := send("/api/orders", h)
			if resp.Status == 200 || len(up.Requests()) != 0 {
				t.Fatalf("%d, the app got %d requests: the client's X-Forwarded-Host decided", resp.Status, len(up.Requests()))
			}
			t.Logf("%d", resp.Status)
		})
	}
}

// TestTargetsThatAreNotPathsAreRefused: a request target neither origin-form nor absolute-form
// is a 400 through both doors, and never becomes a sign-in callbackURL. Proxies refuse such a
// request line themselves, so these ask betterauthz directly, as a proxy would.
func TestTargetsThatAreNotPathsAreRefused(t *testing.T) {
	r, _ := runCheckHTTP(t, proxiesConfig(ba)+`sessions:
  cookieCache: true
  signInURL: https://app.example.com/sign-in
`)
	r.waitReady(t, 10*time.Second)
	html := "text/html,application/xhtml+xml"
	for _, target := range []string{"docs/intro", "public/page", "@evil.com/public/x", "?next=/public/x", "*"} {
		t.Run(target, func(t *testing.T) {
			for name, h := range map[string]map[string]string{
				"X-Forwarded-Uri": {"X-Forwarded-Method": "GET", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": target, "Accept": html},
				"X-Original-URI":  {"X-Original-Method": "GET", "Host": "app.example.com", "X-Original-Uri": target, "Accept": html},
			} {
				resp, body := r.ask(t, "GET", "/check", h)
				if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
					t.Errorf("%s: %d, Location %q (%s), want 400 and no redirect", name, resp.StatusCode, resp.Header.Get("Location"), body)
				}
			}
			resp := r.checkRequest(t, "GET", target, map[string]string{"accept": html})
			if got := resp.GetDeniedResponse().GetStatus().GetCode(); got != 400 {
				t.Errorf("gRPC: HTTP %d, want 400", got)
			}
		})
	}
}

// adminPath reports whether a request target is under /admin to some backend: after decoding
// percent-encodings (slashes too), resolving dot segments and merging slashes.
func adminPath(target string) bool {
	p, _, _ := strings.Cut(target, "?")
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	p = path.Clean("/" + strings.ReplaceAll(p, `\`, "/"))
	return p == "/admin" || strings.HasPrefix(strings.ToLower(p), "/admin/")
}

func dotsAndEncodings(t *testing.T, kind proxies.Kind, p *proxies.Proxy, up *proxies.Upstream, userToken string) {
	targets := []string{
		"/public/../admin/users", "/public/%2e%2e/admin/users", "/public/%2E%2E/admin/users", "//admin/users",
		"/public/./../admin/users", "/public%2F..%2Fadmin/users", "/public/..%2Fadmin/users", "/public/%2e%2e%2fadmin/users",
		"/public/..;/admin/users", "/ADMIN/users", "/%61dmin/users",
	}
	for _, auth := range []string{"", userToken} {
		for _, target := range targets {
			up.Reset()
			h := headers()
			if auth != "" {
				h.Set("Authorization", auth)
			}
			resp := proxies.Send(t, p.Addr, "GET", target, h)
			for _, got := range up.Requests() {
				if adminPath(got.URI) {
					t.Errorf("%s (token: %v) reached the app as %s (client got %d)", target, auth != "", got.URI, resp.Status)
				}
			}
			t.Logf("%s %s (token: %v): %d, app got %d", kind, target, auth != "", resp.Status, len(up.Requests()))
		}
	}
}

func TestProxiesBeforeTheKeysLoad(t *testing.T) {
	port, err := betterauth.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	_, checkAddr := runCheckHTTP(t, fmt.Sprintf("betterAuthURL: http://127.0.0.1:%d\n", port))
	forged := "Bearer " + forgedKid(t, fmt.Sprintf("http://127.0.0.1:%d", port)) // names the issuer: 503 until its keys load
	for _, kind := range proxies.ExampleKinds {
		t.Run(string(kind), func(t *testing.T) {
			cfg, err := proxies.Example(kind)
			if err != nil {
				t.Fatal(err)
			}
			up := proxies.NewUpstream(t)
			// Before keys load every check needing a token is 503, and one without a token 401.
			p := proxies.Start(t, kind, cfg, proxies.Addrs{Check: checkAddr, Upstream: up.Addr})
			resp := proxies.Send(t, p.Addr, "GET", "/api/orders", http.Header{"Authorization": {forged}})
			want := traits[kind].status503
			if resp.Status != want || len(up.Requests()) != 0 {
				t.Fatalf("%d %q, want %d; the app got %d requests", resp.Status, resp.Body, want, len(up.Requests()))
			}
			if want == 503 && resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After: %v", resp.Header)
			}
			if traits[kind].jsonBody && !strings.Contains(resp.Body, `"error"`) {
				t.Errorf("body %q, want betterauthz's JSON", resp.Body)
			}
		})
	}
}

// sessionTraits is what a proxy's shipped config does with the answers of browser sessions.
type sessionTraits struct {
	redirect  bool // betterauthz's 302 reaches the browser (ingress-nginx makes it a 500)
	setCookie bool // the refreshed session-cache cookie reaches the browser (not through Caddy)
}

var sessionTraitsOf = map[proxies.Kind]sessionTraits{
	proxies.Nginx:        {redirect: true, setCookie: true},
	proxies.IngressNginx: {setCookie: true},
	proxies.Caddy:        {redirect: true},
	proxies.Traefik:      {redirect: true, setCookie: true},
}

// TestProxiesCarryBrowserSessions: Better Auth's cookies through every shipped proxy config —
// the session-cache cookie, the session token (looked up, its refreshed cookie handed on), the
// sign-in redirect, and the CSRF refusal.
func TestProxiesCarryBrowserSessions(t *testing.T) {
	s, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r, checkAddr := runCheckHTTP(t, fmt.Sprintf(`betterAuthURL: %s
sessions:
  cookieCache: true
  lookup: true
  signInURL: https://app.example.com/sign-in
routes:
  - name: public
    paths: ["/public/**"]
    policy: public
`, s.URL))
	r.waitReady(t, 10*time.Second)
	b := s.NewBrowser()
	email := fmt.Sprintf("proxies-%d@example.com", time.Now().UnixNano())
	if err := b.SignUp(email, "Proxy User"); err != nil {
		t.Fatal(err)
	}
	data, token := "better-auth.session_data="+b.Cookie("better-auth.session_data"), "better-auth.session_token="+b.Cookie("better-auth.session_token")

	for _, kind := range proxies.ExampleKinds {
		t.Run(string(kind), func(t *testing.T) {
			want := sessionTraitsOf[kind]
			p, up := startProxy(t, kind, checkAddr)
			send := func(t *testing.T, method string, h http.Header) proxies.Response {
				t.Helper()
				up.Reset()
				return proxies.Send(t, p.Addr, method, "/orders?page=2", h)
			}
			t.Run("the session-cache cookie", func(t *testing.T) {
				resp := send(t, "GET", headers("Cookie", "theme=dark; "+data))
				if resp.Status != 200 {
					t.Fatalf("%d %q", resp.Status, resp.Body)
				}
				got := only(t, up)
				identity(t, kind, got, map[string]string{"X-User-Email": email})
				if c := got.Header.Get("Cookie"); c != "theme=dark; "+data {
					t.Errorf("the app got Cookie %.60q…, want the browser's unchanged", c)
				}
			})
			t.Run("the session token, looked up, its refreshed cookie to the browser", func(t *testing.T) {
				resp := send(t, "GET", headers("Cookie", token))
				if resp.Status != 200 {
					t.Fatalf("%d %q", resp.Status, resp.Body)
				}
				identity(t, kind, only(t, up), map[string]string{"X-User-Email": email})
				refreshed := strings.HasPrefix(resp.Header.Get("Set-Cookie"), "better-auth.session_data=")
				if refreshed != want.setCookie {
					t.Errorf("Set-Cookie %q: the refreshed cookie handed on = %v, want %v", resp.Header.Values("Set-Cookie"), refreshed, want.setCookie)
				}
			})
			t.Run("a browser without a session: to sign in", func(t *testing.T) {
				resp := send(t, "GET", headers("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"))
				if len(up.Requests()) != 0 {
					t.Fatal("the app was reached without a session")
				}
				if !want.redirect {
					if resp.Status != 500 {
						t.Errorf("%d, want the 500 this proxy makes of a redirect", resp.Status)
					}
					return
				}
				loc, err := url.Parse(resp.Header.Get("Location"))
				if resp.Status != 302 || err != nil || loc.Host != "app.example.com" || loc.Path != "/sign-in" ||
					loc.Query().Get("callbackURL") != "http://app.example.com/orders?page=2" {
					t.Errorf("%d Location %q, want 302 to the sign-in page with callbackURL", resp.Status, resp.Header.Get("Location"))
				}
			})
			t.Run("the callbackURL is the routed host, with the client's port", func(t *testing.T) {
				for name, tc := range map[string]struct{ target, host, callback string }{
					"a port in Host":             {"/orders?page=2", "app.example.com:8080", "http://app.example.com:8080/orders?page=2"},
					"absolute-form request line": {"http://app.example.com/orders?page=2", "other.example.com", "http://app.example.com/orders?page=2"},
				} {
					t.Run(name, func(t *testing.T) {
						up.Reset()
						resp := proxies.Send(t, p.Addr, "GET", tc.target, headers("Host", tc.host, "Accept", "text/html"))
						if len(up.Requests()) != 0 {
							t.Fatal("the app was reached without a session")
						}
						if !want.redirect || (name == "absolute-form request line" && !traits[kind].routedHost) {
							if resp.Status != 500 {
								t.Errorf("%d, want the 500 this proxy makes of it", resp.Status)
							}
							return
						}
						loc, err := url.Parse(resp.Header.Get("Location"))
						if resp.Status != 302 || err != nil || loc.Query().Get("callbackURL") != tc.callback {
							t.Errorf("%d Location %q, want callbackURL %s", resp.Status, resp.Header.Get("Location"), tc.callback)
						}
					})
				}
			})
			t.Run("an API call without a session: 401", func(t *testing.T) {
				if resp := send(t, "GET", headers("Accept", "application/json")); resp.Status != 401 {
					t.Errorf("%d, want 401", resp.Status)
				}
			})
			t.Run("CSRF: a cookie-authenticated POST from another origin", func(t *testing.T) {
				resp := send(t, "POST", headers("Cookie", data, "Origin", "https://evil.example"))
				if resp.Status != 403 || len(up.Requests()) != 0 {
					t.Errorf("%d (app reached %d times), want 403", resp.Status, len(up.Requests()))
				}
				resp = send(t, "POST", headers("Cookie", data, "Origin", "http://app.example.com"))
				if resp.Status != 200 {
					t.Errorf("a POST from the app's own origin: %d %q", resp.Status, resp.Body)
				}
			})
		})
	}
}
