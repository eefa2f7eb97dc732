// Package httpcheck is betterauthz's HTTP check transport, for proxies that ask an HTTP auth
// service about each request: nginx auth_request and ingress-nginx (auth-url), Traefik
// forwardAuth, Caddy forward_auth (all on /check), and Envoy's ext_authz http_service (on
// /envoy/<path>). It reads the original request out of the call (original.go), has the
// authz.Authorizer decide — the same decision, token cache and reason codes as gRPC mode — and
// renders the Decision as a response the proxy acts on (render.go). It decides nothing itself.
package httpcheck

import (
	"net/http"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/authz"
)

// Transport names this door in decision logs and metrics.
const Transport = "http"

// DefaultTimeout bounds one check when the proxy sets no deadline of its own (HTTP carries
// none): a check waiting for a key refresh answers 503 timeout within it (see
// jwks.WaitContext).
const DefaultTimeout = 2 * time.Second

// EnvoyPrefix is the path prefix Envoy's http_service is configured with (path_prefix).
const EnvoyPrefix = "/envoy"

// Handler serves the HTTP check endpoint.
type Handler struct {
	authorizer *authz.Authorizer
	timeout    time.Duration
}

// NewHandler serves a's decisions; timeout bounds each check (0: DefaultTimeout).
func NewHandler(a *authz.Authorizer, timeout time.Duration) *Handler {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Handler{authorizer: a, timeout: timeout}
}

// ServeHTTP answers one check: read the original request, decide, render. Every outcome,
// including a malformed call and a bug, is an answer the proxy can act on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	defer func() {
		if p := recover(); p != nil {
			d := h.authorizer.Panicked(ctx, Transport)
			render(w, &d)
		}
	}()
	if r.URL.Path == authz.WellKnownResourcePath || strings.HasPrefix(r.URL.Path, authz.WellKnownResourcePath+"/") {
		h.resourceMetadata(w, r)
		return
	}
	o, found, err := h.original(r)
	switch {
	case !found:
		http.NotFound(w, r)
		return
	case err != nil:
		d := h.authorizer.Refuse(ctx, Transport, authz.ReasonBadRequest, err.Error(), "")
		render(w, &d)
		return
	}
	c := new(call)
	c.ctx.set(ctx, time.Now().Add(h.timeout))
	defer c.ctx.stop()
	c.req = authz.Request{
		Transport: Transport,
		ID:        get(r.Header, "X-Request-Id"),
		Method:    o.method,
		Scheme:    o.scheme,
		Host:      o.host,
		Path:      o.target,
		Headers:   headers(r.Header),
		Scratch:   &c.scratch,
	}
	d := h.authorizer.Authorize(&c.ctx, &c.req)
	c.render(w, &d)
}

// call is the memory one check needs, allocated at once: the request as authz reads it, its
// context with the check's deadline, the decision's scratch memory, and the answer's header
// values. A cache hit allocates nothing else but net/http's own.
type call struct {
	ctx     deadline
	req     authz.Request
	scratch authz.Scratch
	values  headerValues
}

// original reads the request the proxy asks about; found is false for a path this endpoint
// does not serve.
func (h *Handler) original(r *http.Request) (_ original, found bool, _ error) {
	switch {
	case r.URL.Path == "/check":
		o, err := forwardAuth(r.Header, r.Method, r.Host)
		return o, true, err
	case strings.HasPrefix(r.RequestURI, EnvoyPrefix+"/") || r.RequestURI == EnvoyPrefix:
		// Envoy sends the original method and Host, and path_prefix + the original :path,
		// which is read as sent: RequestURI, not the decoded URL.Path.
		target := strings.TrimPrefix(r.RequestURI, EnvoyPrefix)
		if target == "" {
			target = "/"
		}
		return original{method: r.Method, host: r.Host, target: target}, true, nil
	}
	return original{}, false, nil
}

// headers reads a call's headers, which the proxy passes on from the original request.
type headers http.Header

func (hs headers) Header(name string) (value string, n int) {
	v := hs[canonicalKey(name)]
	if len(v) == 0 {
		return "", 0
	}
	return v[0], len(v)
}

// Values implements authz.ValuesHeaders.
func (hs headers) Values(name string) []string { return hs[canonicalKey(name)] }

// resourceMetadata serves a configured resource's metadata (RFC 9728 §3), which an OAuth
// client fetches from the URL in a 401's WWW-Authenticate: the proxy routes
// /.well-known/oauth-protected-resource/… here, as it is, unauthenticated.
func (h *Handler) resourceMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	res := h.authorizer.ResourceMetadata(r.URL.EscapedPath())
	if res == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(res.Document())
}
