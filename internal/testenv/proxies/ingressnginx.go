package proxies

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// The ingress-nginx controller cannot run here (it needs its Lua-built nginx and a cluster), so
// IngressNginxSite writes, as plain nginx, what its template generates for one Ingress path with
// external auth: the auth location line by line as rootfs/etc/nginx/template/nginx.tmpl writes it
// (kubernetes/ingress-nginx at dbb11b92, March 2026, with the controller's defaults:
// proxy-buffering off, 4k buffers, HTTP/1.1, use-forwarded-headers false), and the protected
// location's auth_request, auth-response-headers and proxy headers. Left out: the Lua balancer,
// metrics and logging hooks, which do not touch headers. Variables the controller defines
// itself are replaced by nginx's own ($req_id by $request_id, $best_http_host by $http_host,
// $pass_access_scheme by $scheme, $pass_port by $server_port).

// IngressAuth is what ingress-nginx reads from an Ingress's external-auth annotations
// (internal/ingress/annotations/authreq).
type IngressAuth struct {
	URL             string            // nginx.ingress.kubernetes.io/auth-url
	Method          string            // nginx.ingress.kubernetes.io/auth-method
	ResponseHeaders []string          // nginx.ingress.kubernetes.io/auth-response-headers
	ProxySetHeaders map[string]string // the data of the ConfigMap auth-proxy-set-headers names
}

const ingressAnnotation = "nginx.ingress.kubernetes.io/"

var (
	ingressMethod = regexp.MustCompile("^(GET|HEAD|POST|PUT|PATCH|DELETE|CONNECT|OPTIONS|TRACE)$")
	ingressHeader = regexp.MustCompile(`^[a-zA-Z\d\-_]+$`)
)

// ParseIngressAuth reads the annotations as ingress-nginx does, refusing what it refuses;
// configMap returns the data of a ConfigMap named namespace/name.
func ParseIngressAuth(annotations map[string]string, namespace string, configMap func(namespace, name string) (map[string]string, error)) (IngressAuth, error) {
	var a IngressAuth
	a.URL = annotations[ingressAnnotation+"auth-url"]
	u, err := url.Parse(a.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return a, fmt.Errorf("auth-url %q: not an absolute URL", a.URL)
	}
	if m, ok := annotations[ingressAnnotation+"auth-method"]; ok {
		if !ingressMethod.MatchString(m) {
			return a, fmt.Errorf("auth-method %q: invalid HTTP method", m)
		}
		a.Method = m
	}
	for _, h := range strings.Split(annotations[ingressAnnotation+"auth-response-headers"], ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if !ingressHeader.MatchString(h) {
			return a, fmt.Errorf("auth-response-headers: invalid header %q", h)
		}
		a.ResponseHeaders = append(a.ResponseHeaders, h)
	}
	if ref := annotations[ingressAnnotation+"auth-proxy-set-headers"]; ref != "" {
		ns, name, found := strings.Cut(ref, "/")
		if !found {
			ns, name = namespace, ref
		}
		if ns != namespace {
			return a, fmt.Errorf("auth-proxy-set-headers %q: cross namespace usage is not allowed", ref)
		}
		data, err := configMap(ns, name)
		if err != nil {
			return a, fmt.Errorf("auth-proxy-set-headers %q: %w", ref, err)
		}
		for h := range data {
			if !ingressHeader.MatchString(h) {
				return a, fmt.Errorf("auth-proxy-set-headers: invalid header %q", h)
			}
		}
		a.ProxySetHeaders = data
	}
	return a, nil
}

// IngressNginxSite is the server block for one Ingress path (a Prefix path, e.g. "/") with
// external auth a, listening on LISTEN_ADDR and proxying to UPSTREAM_ADDR. authHost is the
// Host the controller sends to the auth service (auth-url's host name; a.URL may have been
// pointed elsewhere since).
func IngressNginxSite(a IngressAuth, path, authHost string) (string, error) {
	if _, err := url.Parse(a.URL); err != nil {
		return "", err
	}
	var b strings.Builder
	authPath := "/_external-auth-" + strings.TrimRight(base64.URLEncoding.EncodeToString([]byte(path)), "=") + "-Prefix"
	line := func(format string, args ...any) { fmt.Fprintf(&b, "\t\t"+format+"\n", args...) }

	b.WriteString("server {\n\tlisten LISTEN_ADDR;\n\n")
	fmt.Fprintf(&b, "\tlocation = %s {\n", authPath)
	line("internal;")
	line("access_log off;")
	line("proxy_intercept_errors off;")
	line("proxy_pass_request_body off;")
	line(`proxy_set_header Content-Length "";`)
	line(`proxy_set_header X-Forwarded-Proto "";`)
	line("proxy_set_header X-Request-ID $request_id;")
	if a.Method != "" {
		line("proxy_method %s;", a.Method)
		line("proxy_set_header X-Original-URI $request_uri;")
		line("proxy_set_header X-Scheme $scheme;")
	}
	line("proxy_set_header Host %s;", authHost)
	line("proxy_set_header X-Original-URL $scheme://$http_host$request_uri;")
	line("proxy_set_header X-Original-Method $request_method;")
	line(`proxy_set_header X-Sent-From "nginx-ingress-controller";`)
	line("proxy_set_header X-Real-IP $remote_addr;")
	line("proxy_set_header X-Forwarded-For $remote_addr;")
	line("proxy_set_header X-Auth-Request-Redirect $request_uri;")
	line("proxy_buffering off;")
	line("proxy_buffer_size 4k;")
	line("proxy_buffers 4 4k;")
	line("proxy_request_buffering on;")
	line("proxy_ssl_server_name on;")
	line("proxy_pass_request_headers on;")
	var set []string
	for name, value := range a.ProxySetHeaders {
		set = append(set, fmt.Sprintf("proxy_set_header %q %q;", name, value))
	}
	sort.Strings(set)
	for _, s := range set {
		line("%s", s)
	}
	line("proxy_http_version 1.1;")
	line("set $target %q;", a.URL)
	line("proxy_pass $target;")
	b.WriteString("\t}\n\n")

	fmt.Fprintf(&b, "\tlocation %s {\n", path)
	line("auth_request %s;", authPath)
	line("auth_request_set $auth_cookie $upstream_http_set_cookie;")
	line("add_header Set-Cookie $auth_cookie;")
	for i, h := range a.ResponseHeaders {
		line("auth_request_set $authHeader%d $upstream_http_%s;", i, strings.ReplaceAll(strings.ToLower(h), "-", "_"))
		line("proxy_set_header '%s' $authHeader%d;", h, i)
	}
	for _, s := range []string{
		"Host $http_host", "Upgrade $http_upgrade", "X-Request-ID $request_id", "X-Real-IP $remote_addr",
		"X-Forwarded-For $remote_addr", "X-Forwarded-Host $http_host", "X-Forwarded-Port $server_port",
		"X-Forwarded-Proto $scheme", "X-Forwarded-Scheme $scheme", "X-Scheme $scheme",
		"X-Original-Forwarded-For $http_x_forwarded_for", `Proxy ""`,
	} {
		line("proxy_set_header %s;", s)
	}
	line("proxy_pass http://UPSTREAM_ADDR;")
	b.WriteString("\t}\n}\n")
	return b.String(), nil
}
