package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// noRedirects is a client that hands a redirect back, as a proxy asking an auth service does.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// runHTTP starts betterauthz with its HTTP check endpoint on.
func runHTTP(t *testing.T, configYAML string) *running {
	t.Helper()
	r := run(t, configYAML, func(o *server.Options) { o.CheckHTTPAddr = "127.0.0.1:0" })
	if r.checkHTTPAddr == "" {
		t.Fatal("no HTTP check listener")
	}
	return r
}

// ask calls the HTTP check endpoint as a proxy would.
func (r *running) ask(t *testing.T, method, path string, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.checkHTTPAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestHTTPCheckEndToEnd(t *testing.T) {
	t.Parallel()
	r := runHTTP(t, baseConfig(ba)+`routes:
  - name: docs
    paths: ["/docs/**"]
    policy: public
  - name: admin
    paths: ["/admin/**"]
    claims: {role: admin}
`)
	r.waitReady(t, 10*time.Second)
	m, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fwd := func(uri string, extra map[string]string) map[string]string {
		h := map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Host": "app.example.com", "X-Forwarded-Uri": uri}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	bearerH := map[string]string{"Authorization": "Bearer " + m.Token}

	t.Run("allowed with the token's identity", func(t *testing.T) {
		resp, _ := r.ask(t, "GET", "/check", fwd("/api/orders?page=2", bearerH))
		if resp.StatusCode != 200 || resp.Header.Get("X-User-Id") != m.UserID || resp.Header.Get("X-User-Email") != m.Email {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		// A claim the token lacks: the header is there, empty, so a proxy copying it overwrites
		// a client's own.
		if v, present := resp.Header["X-User-Org"]; !present || len(v) != 1 || v[0] != "" {
			t.Errorf("X-User-Org %q (present %v), want present and empty", v, present)
		}
	})
	t.Run("nginx style, same answer", func(t *testing.T) {
		resp, _ := r.ask(t, "GET", "/check", map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "/api", "Host": "app.example.com", "Authorization": "Bearer " + m.Token})
		if resp.StatusCode != 200 || resp.Header.Get("X-User-Id") != m.UserID {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("Envoy http_service", func(t *testing.T) {
		resp, _ := r.ask(t, "POST", "/envoy/api/orders", map[string]string{"Host": "app.example.com", "Authorization": "Bearer " + m.Token})
		if resp.StatusCode != 200 || resp.Header.Get("X-User-Id") != m.UserID {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("401 with the challenge and body", func(t *testing.T) {
		resp, body := r.ask(t, "GET", "/check", fwd("/api", nil))
		var b struct{ Error string }
		if resp.StatusCode != 401 || resp.Header.Get("Www-Authenticate") != `Bearer realm="`+ba.URL+`"` || json.Unmarshal([]byte(body), &b) != nil || b.Error != "missing_token" {
			t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
		}
	})
	t.Run("403 for claims", func(t *testing.T) {
		resp, body := r.ask(t, "GET", "/check", fwd("/admin/x", bearerH))
		if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("Www-Authenticate"), `error="insufficient_scope"`) {
			t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
		}
	})
	t.Run("dot segments and encodings", func(t *testing.T) {
		for _, uri := range []string{"/docs/../admin/x", "/docs/%2e%2e/admin/x", "//evil/admin/x", "/docs%2F..%2Fadmin/x"} {
			if resp, _ := r.ask(t, "GET", "/check", fwd(uri, bearerH)); resp.StatusCode != 403 {
				t.Errorf("%s: %d, want 403 (the admin rule)", uri, resp.StatusCode)
			}
		}
	})
	t.Run("public paths strip identity", func(t *testing.T) {
		resp, _ := r.ask(t, "GET", "/check", fwd("/docs/a", map[string]string{"X-User-Id": "spoofed"}))
		if v, present := resp.Header["X-User-Id"]; resp.StatusCode != 200 || !present || v[0] != "" {
			t.Fatalf("%d X-User-Id %q", resp.StatusCode, v)
		}
	})
	t.Run("disagreeing families are 400", func(t *testing.T) {
		resp, _ := r.ask(t, "GET", "/check", fwd("/docs/a", map[string]string{"X-Original-Uri": "/admin/x"}))
		if resp.StatusCode != 400 {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("oversize headers are refused, not a 500", func(t *testing.T) {
		resp, _ := r.ask(t, "GET", "/check", fwd("/api", map[string]string{"X-Big": strings.Repeat("a", 128<<10)}))
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%d, want 431", resp.StatusCode)
		}
	})
	t.Run("logs and metrics name the transport, never the credential", func(t *testing.T) {
		r.ask(t, "GET", "/check", fwd("/api", map[string]string{"Authorization": "Bearer " + m.Token, "Cookie": "better-auth.session_token=SECRET"}))
		logs := r.logs.String()
		if !strings.Contains(logs, `"transport":"http"`) {
			t.Error(`decision log lacks "transport":"http"`)
		}
		for _, secret := range []string{m.Token, "SECRET", "Bearer "} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain %.20q", secret)
			}
		}
		_, metrics := r.get(t, "/metrics")
		if !strings.Contains(metrics, `betterauthz_checks_total{decision="allow",reason="allowed",route="default",transport="http"}`) {
			t.Error("/metrics lacks the http transport's checks")
		}
	})
}

// Before keys load, HTTP mode answers 503 with Retry-After, as gRPC mode does.
func TestHTTPCheckNotReady(t *testing.T) {
	t.Parallel()
	port, err := betterauth.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := runHTTP(t, fmt.Sprintf("betterAuthURL: http://127.0.0.1:%d\n", port))
	resp, body := r.ask(t, "GET", "/check", map[string]string{"X-Original-Uri": "/api", "Authorization": "Bearer " + forgedKid(t, fmt.Sprintf("http://127.0.0.1:%d", port))})
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// HTTP carries no deadline: a check waiting for a key refresh answers 503 timeout within the
// endpoint's own bound instead of hanging the proxy.
func TestHTTPCheckBoundsTheWait(t *testing.T) {
	t.Parallel()
	s, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := s.Mint(betterauth.MintOptions{}); err != nil {
		t.Fatal(err)
	}
	r := runHTTP(t, baseConfig(s))
	r.waitReady(t, 10*time.Second)
	if err := s.SetJWKSMode(betterauth.JWKSSlow); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body := r.ask(t, "GET", "/check", map[string]string{"X-Original-Uri": "/api", "Authorization": "Bearer " + forgedKid(t, s.URL)})
	if resp.StatusCode != 503 || !strings.Contains(body, "timed out") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("answered after %s", took)
	}
}
