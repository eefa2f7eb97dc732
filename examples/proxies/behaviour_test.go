// Package proxies_test runs each shipped proxy config in front of a stub auth service with
// betterauthz's HTTP answers (proxies.StubAuth): what each proxy sends to the auth service and
// what it carries of the answer, the facts docs/proxies/compared.md tabulates. The same files run in
// front of the real betterauthz in internal/server/proxies_e2e_test.go.
package proxies_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/proxies"
)

// expect is what a proxy does with the stub's answers, where proxies differ.
type expect struct {
	family string // the header family the auth service gets: "X-Original", "X-Forwarded" or "both"
	// The headers naming the original host the auth service gets for an absolute-form request
	// line (GET http://admin.example.com/things with Host: status.example.com:8080), and for a
	// Host with a port (app.example.com:8080): the host the proxy routes by, and the port.
	absoluteForm, withPort map[string]string
	emptyIdentity          bool // an identity header the answer has empty reaches the app empty (else: absent)
	jsonBody               bool // denials keep the auth service's JSON body
	www403                 bool // a 403 keeps its WWW-Authenticate
	status503              int  // what the client gets for the auth service's 503
	retryAfter             bool // ... with its Retry-After
	status400              int  // what the client gets for the auth service's 400
	authDownStatus         int  // what the client gets when the auth service does not answer
	underscoreAlias        bool // a client's X_User_Id reaches the app
	dotAlias               bool // a client's X.User.Id reaches the app
}

var expects = map[proxies.Kind]expect{
	proxies.Nginx: {
		family:       "X-Original",
		absoluteForm: map[string]string{"X-Original-Url": "http://admin.example.com:8080/things?page=2"},
		withPort:     map[string]string{"X-Original-Url": "http://app.example.com:8080/things?page=2"},
		status503:    503, retryAfter: true, status400: 400, authDownStatus: 500,
	},
	proxies.IngressNginx: {
		family: "both",
		// X-Original-URL has the client's Host whatever the config says; X-Forwarded-Host,
		// set by the ConfigMap, the routed host: betterauthz refuses the two hosts.
		absoluteForm: map[string]string{"X-Forwarded-Host": "admin.example.com", "X-Original-Url": "http://status.example.com:8080/things?page=2"},
		withPort:     map[string]string{"X-Forwarded-Host": "app.example.com", "X-Original-Url": "http://app.example.com:8080/things?page=2"},
		status503:    500, status400: 500, authDownStatus: 500,
	},
	proxies.Caddy: {
		family:       "X-Forwarded",
		absoluteForm: map[string]string{"X-Forwarded-Host": "admin.example.com"},
		withPort:     map[string]string{"X-Forwarded-Host": "app.example.com:8080"},
		jsonBody:     true, www403: true, status503: 503, retryAfter: true, status400: 400, authDownStatus: 502, dotAlias: true,
	},
	proxies.Traefik: {
		family:        "X-Forwarded",
		absoluteForm:  map[string]string{"X-Forwarded-Host": "admin.example.com"},
		withPort:      map[string]string{"X-Forwarded-Host": "app.example.com:8080"},
		emptyIdentity: true, jsonBody: true, www403: true, status503: 503, retryAfter: true, status400: 400, authDownStatus: 500,
	},
}

var spoofed = http.Header{
	"X-User-Id": {"mallory"}, "X-User-Email": {"mallory@evil.example"}, "X-User-Name": {"Mallory"},
	"X_User_Id": {"mallory-underscore"}, "X.User.Id": {"mallory-dot"},
	// Both families of original-request headers, as a client could send them.
	"X-Original-Uri": {"/evil"}, "X-Original-Url": {"http://evil.example/evil"}, "X-Original-Method": {"DELETE"},
	"X-Forwarded-Uri": {"/evil"}, "X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Method": {"DELETE"},
}

func with(h http.Header, kv ...string) http.Header {
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	for i := 0; i < len(kv); i += 2 {
		h[kv[i]] = []string{kv[i+1]}
	}
	return h
}

func TestWhatEachProxySendsAndCarries(t *testing.T) {
	for _, kind := range proxies.ExampleKinds {
		t.Run(string(kind), func(t *testing.T) {
			want := expects[kind]
			cfg, err := proxies.Example(kind)
			if err != nil {
				t.Fatal(err)
			}
			auth := proxies.NewStubAuth(t)
			up := proxies.NewUpstream(t)
			p := proxies.Start(t, kind, cfg, proxies.Addrs{Check: auth.Addr, Upstream: up.Addr})

			t.Run("the check request", func(t *testing.T) {
				auth.Reset()
				up.Reset()
				proxies.SendBody(t, p.Addr, "POST", "/things?page=2", with(spoofed, "Authorization", "Bearer good", "Cookie", "a=b"), "hello")
				reqs := auth.Requests()
				if len(reqs) != 1 {
					t.Fatalf("auth service got %d requests", len(reqs))
				}
				checkRequest(t, reqs[0], want.family)
			})
			t.Run("the host the proxy routes by, with the client's port", func(t *testing.T) {
				for name, tc := range map[string]struct {
					target, host string
					want         map[string]string
				}{
					"absolute-form request line": {"http://admin.example.com/things?page=2", "status.example.com:8080", want.absoluteForm},
					"a port in Host":             {"/things?page=2", "app.example.com:8080", want.withPort},
				} {
					t.Run(name, func(t *testing.T) {
						auth.Reset()
						proxies.Send(t, p.Addr, "GET", tc.target, with(spoofed, "Host", tc.host, "Authorization", "Bearer good"))
						reqs := auth.Requests()
						if len(reqs) != 1 {
							t.Fatalf("auth service got %d requests", len(reqs))
						}
						for h, v := range tc.want {
							if got := reqs[0].Header.Values(h); len(got) != 1 || got[0] != v {
								t.Errorf("auth service got %s: %q, want %q", h, got, v)
							}
						}
					})
				}
			})
			t.Run("allow", func(t *testing.T) {
				up.Reset()
				resp := proxies.Send(t, p.Addr, "GET", "/things?page=2", with(spoofed, "Authorization", "Bearer good"))
				if resp.Status != 200 || len(up.Requests()) != 1 {
					t.Fatalf("%d %q, %d upstream requests", resp.Status, resp.Body, len(up.Requests()))
				}
				got := up.Requests()[0]
				if got.URI != "/things?page=2" || got.Method != "GET" {
					t.Errorf("app got %s %s", got.Method, got.URI)
				}
				identity(t, got, want)
			})
			t.Run("deny", func(t *testing.T) { denials(t, p, up, want) })
		})
	}
}

func checkRequest(t *testing.T, r proxies.AuthRequest, family string) {
	t.Helper()
	if r.Method != "GET" || r.URI != "/check" || r.BodyLen != 0 {
		t.Errorf("auth service got %s %s with a %d-byte body, want GET /check without one", r.Method, r.URI, r.BodyLen)
	}
	if r.Header.Get("Authorization") != "Bearer good" || r.Header.Get("Cookie") != "a=b" {
		t.Errorf("credentials not passed: %s", r.Names())
	}
	wantHeaders := map[string]string{
		"X-Original-Method": "POST", "X-Original-Uri": "/things?page=2", "X-Original-Url": "http://app.example.com/things?page=2",
		"X-Forwarded-Method": "", "X-Forwarded-Uri": "", "X-Forwarded-Host": "",
	}
	switch family {
	case "X-Forwarded":
		wantHeaders = map[string]string{
			"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/things?page=2", "X-Forwarded-Host": "app.example.com",
			"X-Original-Method": "", "X-Original-Uri": "", "X-Original-Url": "",
		}
	case "both":
		wantHeaders = map[string]string{
			"X-Original-Method": "POST", "X-Original-Uri": "/things?page=2", "X-Original-Url": "http://app.example.com/things?page=2",
			"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/things?page=2", "X-Forwarded-Host": "app.example.com",
		}
	}
	for name, value := range wantHeaders {
		if got := r.Header.Values(name); value == "" && len(got) > 0 || value != "" && (len(got) != 1 || got[0] != value) {
			t.Errorf("auth service got %s: %q, want %q", name, got, value)
		}
	}
}

func identity(t *testing.T, got proxies.Received, want expect) {
	t.Helper()
	for name, value := range map[string]string{"X-User-Id": "alice", "X-User-Name": "Alice", "X-User-Email": ""} {
		v, present := got.Header[name]
		switch {
		case value != "" && (len(v) != 1 || v[0] != value):
			t.Errorf("app got %s %q, want %q", name, v, value)
		case value == "" && want.emptyIdentity && (len(v) != 1 || v[0] != ""):
			t.Errorf("app got %s %q, want it empty", name, v)
		case value == "" && !want.emptyIdentity && present:
			t.Errorf("app got %s %q, want none", name, v)
		}
	}
	if _, ok := got.Header["X_user_id"]; ok != want.underscoreAlias {
		t.Errorf("app got X_User_Id: %v, want %v", ok, want.underscoreAlias)
	}
	if _, ok := got.Header["X.user.id"]; ok != want.dotAlias {
		t.Errorf("app got X.User.Id: %v, want %v", ok, want.dotAlias)
	}
}

func denials(t *testing.T, p *proxies.Proxy, up *proxies.Upstream, want expect) {
	up.Reset()
	resp := proxies.Send(t, p.Addr, "GET", "/things", nil)
	if resp.Status != 401 || resp.Header.Get("Www-Authenticate") != `Bearer realm="stub"` {
		t.Errorf("401: %d, WWW-Authenticate %q", resp.Status, resp.Header.Values("Www-Authenticate"))
	}
	if isJSON := strings.HasPrefix(resp.Body, `{"error":"missing_token"`); isJSON != want.jsonBody {
		t.Errorf("401 body %q (%s), JSON kept: %v, want %v", resp.Body, resp.Header.Get("Content-Type"), isJSON, want.jsonBody)
	}
	resp = proxies.Send(t, p.Addr, "GET", "/things", http.Header{"Authorization": {"Bearer forbid"}})
	if resp.Status != 403 || (resp.Header.Get("Www-Authenticate") != "") != want.www403 {
		t.Errorf("403: %d, WWW-Authenticate %q", resp.Status, resp.Header.Values("Www-Authenticate"))
	}
	resp = proxies.Send(t, p.Addr, "GET", "/things", http.Header{"Authorization": {"Bearer down"}})
	if resp.Status != want.status503 || (resp.Header.Get("Retry-After") == "5") != want.retryAfter {
		t.Errorf("auth 503: client got %d, Retry-After %q", resp.Status, resp.Header.Values("Retry-After"))
	}
	resp = proxies.Send(t, p.Addr, "GET", "/things", http.Header{"Authorization": {"Bearer bad"}})
	if resp.Status != want.status400 {
		t.Errorf("auth 400: client got %d", resp.Status)
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d denied requests reached the app", n)
	}
}

func TestEachProxyFailsClosedWhenTheAuthServiceIsDown(t *testing.T) {
	port, err := betterauth.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range proxies.ExampleKinds {
		t.Run(string(kind), func(t *testing.T) {
			cfg, err := proxies.Example(kind)
			if err != nil {
				t.Fatal(err)
			}
			up := proxies.NewUpstream(t)
			cfg.ReadyPath = "/ready"
			p := proxies.Start(t, kind, cfg, proxies.Addrs{Check: "127.0.0.1:" + strconv.Itoa(port), Upstream: up.Addr})
			resp := proxies.Send(t, p.Addr, "GET", "/things", http.Header{"Authorization": {"Bearer good"}})
			if resp.Status != expects[kind].authDownStatus || len(up.Requests()) != 0 {
				t.Errorf("auth service down: %d, %d requests reached the app", resp.Status, len(up.Requests()))
			}
		})
	}
}

// TestPinnedCaddyKeepsAClientsHeaderWithCopyHeadersAlone: the Caddy the tests run is inside the
// range of GHSA-7r4p-vjf4-gxv4, so the tests of the Caddyfile prove it safe where copy_headers
// alone is not. If this fails, the pin has left that range: pin a vulnerable version again.
func TestPinnedCaddyKeepsAClientsHeaderWithCopyHeadersAlone(t *testing.T) {
	auth := proxies.NewStubAuth(t)
	up := proxies.NewUpstream(t)
	bare := "LISTEN_ADDR {\n\tforward_auth BETTERAUTHZ_CHECK_ADDR {\n\t\turi /check?\n\t\tcopy_headers X-User-Id X-User-Email X-Missing\n\t}\n\treverse_proxy UPSTREAM_ADDR\n}\n"
	p := proxies.Start(t, proxies.Caddy, proxies.Config{Main: bare}, proxies.Addrs{Check: auth.Addr, Upstream: up.Addr})
	up.Reset()
	proxies.Send(t, p.Addr, "GET", "/x", http.Header{"Authorization": {"Bearer good"}, "X-User-Email": {"mallory"}, "X-Missing": {"mallory"}})
	got := up.Requests()[0].Header
	// The stub answers x-user-email empty and no x-missing at all.
	if got.Get("X-User-Id") != "alice" || got.Get("X-User-Email") != "mallory" || got.Get("X-Missing") != "mallory" {
		t.Errorf("copy_headers alone: x-user-id %q, x-user-email %q, x-missing %q; a vulnerable Caddy keeps the client's two", got["X-User-Id"], got["X-User-Email"], got["X-Missing"])
	}
}
