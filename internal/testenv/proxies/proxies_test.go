package proxies

import (
	"net/http"
	"strings"
	"testing"
)

// Minimal forward-auth configs, one per proxy: the harness proven without betterauthz.
var minimal = map[Kind]Config{
	Nginx: {Main: `
server {
	listen LISTEN_ADDR;
	location / {
		auth_request /_auth;
		auth_request_set $uid $upstream_http_x_user_id;
		proxy_set_header X-User-Id $uid;
		proxy_pass http://UPSTREAM_ADDR;
	}
	location = /_auth {
		internal;
		proxy_pass http://BETTERAUTHZ_CHECK_ADDR/auth;
		proxy_pass_request_body off;
		proxy_set_header Content-Length "";
	}
}
`},
	Caddy: {Main: `
http://LISTEN_ADDR {
	forward_auth BETTERAUTHZ_CHECK_ADDR {
		uri /auth
		copy_headers X-User-Id
	}
	reverse_proxy UPSTREAM_ADDR
}
`},
	Traefik: {Main: `
entryPoints:
  web:
    address: LISTEN_ADDR
providers:
  file:
    filename: dynamic.yml
log:
  level: INFO
`, Files: map[string]string{"dynamic.yml": `
http:
  routers:
    app:
      rule: PathPrefix(` + "`/`" + `)
      service: app
      middlewares: [auth]
  middlewares:
    auth:
      forwardAuth:
        address: http://BETTERAUTHZ_CHECK_ADDR/auth
        trustForwardHeader: false
        authResponseHeaders: [X-User-Id]
  services:
    app:
      loadBalancer:
        servers: [{url: "http://UPSTREAM_ADDR"}]
`}},
}

func TestEachProxyRunsAForwardAuthConfig(t *testing.T) {
	for kind, cfg := range minimal {
		t.Run(string(kind), func(t *testing.T) {
			auth := NewStubAuth(t)
			up := NewUpstream(t)
			p := Start(t, kind, cfg, Addrs{Check: auth.Addr, Upstream: up.Addr})
			up.Reset()
			auth.Reset()

			resp := Send(t, p.Addr, "GET", "/things?page=2", http.Header{"Authorization": {"Bearer good"}, "X-User-Id": {"mallory"}})
			if resp.Status != 200 || resp.Body != "upstream" {
				t.Fatalf("allowed request: %d %q", resp.Status, resp.Body)
			}
			reqs := up.Requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream got %d requests, want 1", len(reqs))
			}
			got := reqs[0]
			if got.URI != "/things?page=2" || got.Header.Get("X-User-Id") != "alice" || len(got.Header["X-User-Id"]) != 1 {
				t.Errorf("upstream got %s with x-user-id %q", got.URI, got.Header["X-User-Id"])
			}
			if n := len(auth.Requests()); n != 1 {
				t.Errorf("auth service got %d requests, want 1", n)
			}

			resp = Send(t, p.Addr, "GET", "/things", nil)
			if resp.Status != 401 || resp.Header.Get("Www-Authenticate") != `Bearer realm="stub"` {
				t.Errorf("denied request: %d %v", resp.Status, resp.Header)
			}
			if len(up.Requests()) != 1 {
				t.Error("a denied request reached the upstream")
			}
			if p.Output() == "" {
				t.Error("no output captured")
			}
			if err := p.Stop(); err != nil {
				t.Errorf("Stop: %v", err)
			}
			if _, err := send(p.Addr, "GET", "/", nil, ""); err == nil {
				t.Error("still answering after Stop")
			}
		})
	}
}

func TestStartReportsABrokenConfigWithTheProxysOwnWords(t *testing.T) {
	broken := map[Kind]Config{
		Nginx: {Main: "server { listen LISTEN_ADDR; no_such_directive on; }"},
		Caddy: {Main: "http://LISTEN_ADDR {\n\tno_such_directive\n}\n"},
		// Traefik ignores unknown keys of its static config; it refuses bad values.
		Traefik: {Main: "entryPoints:\n  web:\n    address: LISTEN_ADDR\n    http:\n      aliasHeadersStrategy: bogus\n"},
	}
	words := map[Kind]string{Nginx: "no_such_directive", Caddy: "no_such_directive", Traefik: `invalid aliasHeadersStrategy value \"bogus\"`}
	for kind, cfg := range broken {
		t.Run(string(kind), func(t *testing.T) {
			p, err := start(t.TempDir(), kind, cfg, Addrs{})
			if p != nil {
				p.Stop() //nolint:errcheck
			}
			if err == nil || !strings.Contains(err.Error(), words[kind]) {
				t.Fatalf("start: %v", err)
			}
		})
	}
}

func TestRender(t *testing.T) {
	got := Render("listen LISTEN_ADDR; pass BETTERAUTHZ_CHECK_ADDR and UPSTREAM_ADDR; UPSTREAM_ADDR", Addrs{Listen: "a:1", Check: "b:2", Upstream: "c:3"})
	if want := "listen a:1; pass b:2 and c:3; c:3"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if got := Render("UPSTREAM_ADDR", Addrs{}); got != "UPSTREAM_ADDR" {
		t.Errorf("an empty address replaced its placeholder: %q", got)
	}
}
