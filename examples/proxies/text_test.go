package proxies_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The lines each example's safety rests on, checked in the text (the behaviour tests prove
// them; these name the line that went missing).

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ordered fails unless each of lines occurs in text, in this order.
func ordered(t *testing.T, name, text string, lines ...string) {
	t.Helper()
	at := 0
	for _, l := range lines {
		i := strings.Index(text[at:], l)
		if i < 0 {
			t.Errorf("%s: %q missing, or not after %q", name, l, text[:at][max(0, at-60):])
			return
		}
		at += i + len(l)
	}
}

func TestCaddyfileDeletesIdentityHeadersBeforeForwardAuthInOneRoute(t *testing.T) {
	c := read(t, "Caddyfile")
	ordered(t, "Caddyfile", c, "route {",
		"request_header -X-User-Id", "request_header -X-User-Email", "request_header -X-User-Name", "request_header -*_*",
		"forward_auth BETTERAUTHZ_CHECK_ADDR {", "uri /check?",
		"header_up -X-Original-Method", "header_up -X-Original-Uri", "header_up -X-Original-Url",
		"copy_headers X-User-Id X-User-Email X-User-Name", "}",
		"reverse_proxy UPSTREAM_ADDR", "}")
}

func TestNginxSetsOneFamilyAndClearsTheOther(t *testing.T) {
	c := read(t, "nginx.conf")
	// The host nginx routes by ($host) is what betterauthz decides for, with the client's port.
	ordered(t, "nginx.conf", c, "map $http_host $betterauthz_port {", `"~(:[0-9]+)$" $1;`, `default       "";`, "}", "server {")
	ordered(t, "nginx.conf", c, "location = /_betterauthz {", "internal;", "proxy_pass http://BETTERAUTHZ_CHECK_ADDR/check;",
		"proxy_pass_request_body off;", `proxy_set_header Content-Length "";`,
		"proxy_set_header Host              $host$betterauthz_port;",
		"proxy_set_header X-Original-Method $request_method;", "proxy_set_header X-Original-URI    $request_uri;",
		"proxy_set_header X-Original-URL    $scheme://$host$betterauthz_port$request_uri;",
		`proxy_set_header X-Forwarded-Method "";`, `proxy_set_header X-Forwarded-Host   "";`, `proxy_set_header X-Forwarded-Uri    "";`,
		`proxy_set_header X-Forwarded-Proto  "";`)
	// Browser sessions: the refreshed session-cache cookie to the browser, the sign-in redirect
	// back from the 500 auth_request makes of it.
	ordered(t, "nginx.conf", c, "location / {", "auth_request_set $betterauthz_set_cookie $upstream_http_set_cookie;",
		"add_header Set-Cookie $betterauthz_set_cookie;", "auth_request_set $betterauthz_location    $upstream_http_location;",
		"error_page 500 = @betterauthz_error;", "location @betterauthz_error {", "if ($betterauthz_status = 302) {",
		"return 302 $betterauthz_location;")
	for _, h := range []string{"id", "email", "name"} {
		v := "$betterauthz_user_" + h
		if !regexp.MustCompile(`auth_request_set \`+v+` +\$upstream_http_x_user_`+h+`;`).MatchString(c) ||
			!regexp.MustCompile(`proxy_set_header X-User-\w+ +\`+v+`;`).MatchString(c) {
			t.Errorf("nginx.conf: x-user-%s is not copied from the answer", h)
		}
	}
}

func TestTraefikTrustsNoClientForwardedHeadersAndDropsAliases(t *testing.T) {
	ordered(t, "traefik.yml", read(t, "traefik.yml"), "entryPoints:", "web:", "address: LISTEN_ADDR", "aliasHeadersStrategy: delete",
		"filename: traefik-dynamic.yml")
	ordered(t, "traefik-dynamic.yml", read(t, "traefik-dynamic.yml"), "middlewares: [betterauthz]", "forwardAuth:",
		"address: http://BETTERAUTHZ_CHECK_ADDR/check", "trustForwardHeader: false", "authRequestHeaders:", "- Authorization", "- Cookie",
		"authResponseHeaders:", "- X-User-Id", "- X-User-Email", "- X-User-Name")
}

func TestIngressNginxSetsTheForwardedFamilyToTheRoutedHost(t *testing.T) {
	ordered(t, "ingress-nginx.yaml", read(t, "ingress-nginx.yaml"), "kind: ConfigMap", "name: betterauthz-auth-headers",
		"X-Forwarded-Method: $request_method", "X-Forwarded-Host: $host", "X-Forwarded-Uri: $request_uri", "kind: Ingress",
		"nginx.ingress.kubernetes.io/auth-url: http://", "nginx.ingress.kubernetes.io/auth-method: GET",
		"nginx.ingress.kubernetes.io/auth-response-headers: X-User-Id, X-User-Email, X-User-Name",
		"nginx.ingress.kubernetes.io/auth-proxy-set-headers: shop/betterauthz-auth-headers")
}

// TestOnlyKnownPlaceholders: a misspelt placeholder would be left in the file a test runs.
func TestOnlyKnownPlaceholders(t *testing.T) {
	known := map[string]bool{"LISTEN_ADDR": true, "BETTERAUTHZ_CHECK_ADDR": true, "UPSTREAM_ADDR": true}
	for _, name := range []string{"nginx.conf", "Caddyfile", "traefik.yml", "traefik-dynamic.yml"} {
		for _, p := range regexp.MustCompile(`\b[A-Z][A-Z_]*_ADDR\b`).FindAllString(read(t, name), -1) {
			if !known[p] {
				t.Errorf("%s: unknown placeholder %s", name, p)
			}
		}
	}
}
