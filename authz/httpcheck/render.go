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
	new(call).render(w, d)
}

// render is render with the header values in c's memory.
func (c *call) render(w http.ResponseWriter, d *authz.Decision) {
	h := w.Header()
	if !d.Allowed() {
		h.Set("Cache-Control", "no-store")
		deny(w, d)
		return
	}
	v := &c.values
	h["Cache-Control"] = v.one("no-store")
	for _, s := range d.Set {
		h[canonicalKey(s.Name)] = v.one(s.Value)
	}
	for _, name := range d.Remove {
		h[canonicalKey(name)] = v.one("")
	}
	for _, rh := range d.ResponseHeaders {
		h.Add(rh.Name, rh.Value) // Set-Cookie, for the proxy to hand to the browser
	}
	w.WriteHeader(http.StatusOK)
}

// deny answers a denial.
func deny(w http.ResponseWriter, d *authz.Decision) {
	h := w.Header()
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

// headerValues holds the one-value slices an allowed answer's headers are, as many as Better
// Auth's identity headers and their removals need.
type headerValues struct {
	array [12]string
	used  int
}

// one is []string{value}, in v's memory while it lasts. Its capacity is 1, so that appending
// to it (http.Header.Add) copies it rather than writing over the next header's value.
func (v *headerValues) one(value string) []string {
	if v.used == len(v.array) {
		return []string{value}
	}
	i := v.used
	v.used++
	v.array[i] = value
	return v.array[i : i+1 : i+1]
}
