package httpcheck

import (
	"errors"
	"net/http"
	"strings"
)

// The headers proxies describe the original request with, in two families.
const (
	hForwardedMethod = "X-Forwarded-Method" // Traefik forwardAuth, Caddy forward_auth
	hForwardedHost   = "X-Forwarded-Host"
	hForwardedURI    = "X-Forwarded-Uri"
	hForwardedProto  = "X-Forwarded-Proto"
	hOriginalMethod  = "X-Original-Method" // nginx auth_request (as configured), ingress-nginx
	hOriginalURI     = "X-Original-Uri"
	hOriginalURL     = "X-Original-Url" // ingress-nginx: scheme://host/path?query
)

var (
	errNoPath      = errors.New("no original request path: send X-Forwarded-Uri (with X-Forwarded-Method and X-Forwarded-Host) or X-Original-URI / X-Original-URL (with X-Original-Method)")
	errRepeated    = errors.New("a header describing the original request was sent more than once")
	errDisagree    = errors.New("X-Forwarded-* and X-Original-* describe different requests: a proxy passes a client's own headers of the family it does not set, so the configuration must set or clear both")
	errOriginalURL = errors.New("X-Original-URL is not an absolute http(s) URL")
	errURLAndURI   = errors.New("X-Original-URL and X-Original-URI name different targets")
)

// original is the request a proxy asks about; scheme is "" when no header says.
type original struct {
	method, host, target, scheme string
}

// family is what one family of headers says; "" where it says nothing.
type family struct {
	method, host, target, scheme string
}

// forwardAuth reads the original request of a forward-auth call from its headers: the
// X-Forwarded-* family (Traefik, Caddy) or the X-Original-* family (nginx, ingress-nginx),
// falling back to the call's own method and Host. Proxies forward a client's own headers of the
// family they do not set themselves, so when both families are present every field they both
// give must agree: a disagreement is refused, never settled by picking one.
func forwardAuth(h http.Header, method, host string) (original, error) {
	for _, name := range []string{hForwardedMethod, hForwardedHost, hForwardedURI, hForwardedProto, hOriginalMethod, hOriginalURI, hOriginalURL} {
		if len(h.Values(name)) > 1 {
			return original{}, errRepeated
		}
	}
	fwd := family{method: h.Get(hForwardedMethod), host: h.Get(hForwardedHost), target: h.Get(hForwardedURI), scheme: h.Get(hForwardedProto)}
	orig, err := originalFamily(h)
	if err != nil {
		return original{}, err
	}
	if !agree(fwd.method, orig.method, true) || !agree(fwd.host, orig.host, true) || !agree(fwd.target, orig.target, false) || !agree(fwd.scheme, orig.scheme, true) {
		return original{}, errDisagree
	}
	o := original{
		method: strings.ToUpper(first(fwd.method, orig.method, method)),
		host:   first(fwd.host, orig.host, host),
		target: first(fwd.target, orig.target),
		scheme: strings.ToLower(first(fwd.scheme, orig.scheme)),
	}
	if o.target == "" {
		return original{}, errNoPath
	}
	return o, nil
}

// originalFamily reads X-Original-Method, -URI and -URL; a full URL gives the host too.
func originalFamily(h http.Header) (family, error) {
	f := family{method: h.Get(hOriginalMethod), target: h.Get(hOriginalURI)}
	raw := h.Get(hOriginalURL)
	if raw == "" {
		return f, nil
	}
	scheme, host, target, ok := splitAbsoluteURL(raw)
	if !ok {
		return family{}, errOriginalURL
	}
	if f.target != "" && f.target != target {
		return family{}, errURLAndURI
	}
	f.scheme, f.host, f.target = scheme, host, target
	return f, nil
}

// splitAbsoluteURL splits http(s)://authority/target, keeping the target exactly as sent (a
// re-encoded path could read differently from what the backend gets). The authority is checked
// later, as every host is.
func splitAbsoluteURL(raw string) (scheme, host, target string, ok bool) {
	scheme, rest, found := strings.Cut(raw, "://")
	if !found || (!strings.EqualFold(scheme, "http") && !strings.EqualFold(scheme, "https")) {
		return "", "", "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, target = rest[:end], rest[end:]
	if i := strings.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	return scheme, host, target, host != ""
}

// agree reports whether two families' values for one field are compatible: equal, or one of
// them silent. Methods and hosts compare case-insensitively.
func agree(a, b string, fold bool) bool {
	if a == "" || b == "" {
		return true
	}
	if fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
