package httpcheck

import (
	"net/http"

	"github.com/betterauthz/betterauthz/authz"
)

// render answers the proxy.
//
// Allowed: 200, every identity header as a response header — the ones the token has no claim
// for sent with an empty value, so that a proxy copying the header replaces (or, for nginx,
// drops) a client's own copy instead of leaving it. The underscore spellings (d.Underscored)
// are not sent: these proxies copy only the headers their config names from the answer
// (Traefik authResponseHeaders, Caddy copy_headers, nginx auth_request_set), so an empty
// x_user_id would touch a client's x_user_id only in a config that names it — which could as
// well delete it. The shipped configs do (nginx drops every header with an underscore by
// default, the Caddyfile deletes them, Traefik's entry point drops them: aliasHeadersStrategy).
//
// Denied: the status, body, WWW-Authenticate and Retry-After of the gRPC answer's HTTP side.
func render(w http.ResponseWriter, d *authz.Decision) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if d.Allowed() {
		for _, s := range d.Set {
			h[http.CanonicalHeaderKey(s.Name)] = []string{s.Value}
		}
		for _, name := range d.Remove {
			h[http.CanonicalHeaderKey(name)] = []string{""}
		}
		for _, rh := range d.ResponseHeaders {
			h.Add(rh.Name, rh.Value) // Set-Cookie, for the proxy to hand to the browser
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	h.Set("Content-Type", "application/json")
	if c := d.Challenge(); c != "" {
		h.Set("Www-Authenticate", c)
	}
	if ra := d.RetryAfter(); ra != "" {
		h.Set("Retry-After", ra)
	}
	if d.Location != "" {
		h.Set("Location", d.Location)
	}
	w.WriteHeader(d.HTTPStatus())
	_, _ = w.Write([]byte(d.Body()))
}
