package httpcheck

import (
	"errors"
	"net/http"
	"strings"

	"github.com/betterauthz/betterauthz/authz"
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

// familyHeaders are every header of the two families. Their names are canonical
// (TestFamilyHeadersAreCanonical), so that they index a call's headers as they are.
var familyHeaders = [...]string{hForwardedMethod, hForwardedHost, hForwardedURI, hForwardedProto, hOriginalMethod, hOriginalURI, hOriginalURL}

// get is h.Get(name) for a canonical name: without canonicalizing it again on every call.
func get(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

var (
	errNoPath      = errors.New("no original request path: send X-Forwarded-Uri (with X-Forwarded-Method and X-Forwarded-Host) or X-Original-URI / X-Original-URL (with X-Original-Method)")
	errRepeated    = errors.New("a header describing the original request was sent more than once")
	errDisagree    = errors.New("X-Forwarded-* and X-Original-* describe different requests: a proxy passes a client's own headers of the family it does not set, so the configuration must set or clear both")
	errOriginalURL = errors.New("X-Original-URL is not an absolute http(s) URL")
	errURLAndURI   = errors.New("X-Original-URL and X-Original-URI name different targets")
	errMethod      = errors.New("X-Forwarded-Method or X-Original-Method is not an HTTP method")
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
// X-Forwarded-* family (Traefik, Caddy) or the X-Original-* family (nginx, ingress-nginx).
//
// A family describes the request when it gives a target (X-Forwarded-Uri; X-Original-URI or
// -URL). Only a describing family is read: the method, host or scheme of a family that gives
// no target are a client's own headers passed through by a proxy that sets the other family
// (nginx as its docs configure it passes a client's X-Forwarded-Host), and are ignored
// entirely. A describing family that does not give the method or the host stands for the
// call's own (nginx's auth_request keeps the request's Host unless told otherwise).
//
// When both families describe the request, one of them may be a client's, so every field must
// agree — hosts as rules read them (case, a trailing dot and the port aside; two different
// ports named are a disagreement too) — and a disagreement is refused, never settled by
// picking one. A host with a port wins over the same host without one: the port is part of
// the request's origin, which cookie CSRF and the sign-in callbackURL use.
func forwardAuth(h http.Header, method, host string) (original, error) {
	for _, name := range familyHeaders {
		if len(h[name]) > 1 {
			return original{}, errRepeated
		}
	}
	fwd := family{method: get(h, hForwardedMethod), host: get(h, hForwardedHost), target: get(h, hForwardedURI), scheme: get(h, hForwardedProto)}
	orig, err := originalFamily(h)
	if err != nil {
		return original{}, err
	}
	described := make([]family, 0, 2)
	for _, f := range [2]family{fwd, orig} {
		if f.target != "" {
			f.method = first(f.method, method)
			f.host = first(f.host, host)
			if !isToken(f.method) {
				// Upper-casing or case-folding anything else could turn it into a method
				// ("poſt" is POST to strings.ToUpper) that the backend never saw.
				return original{}, errMethod
			}
			described = append(described, f)
		}
	}
	if len(described) == 0 {
		return original{}, errNoPath
	}
	o := described[0]
	if len(described) == 2 {
		if o, err = merge(o, described[1]); err != nil {
			return original{}, err
		}
	}
	return original{method: strings.ToUpper(o.method), host: o.host, target: o.target, scheme: strings.ToLower(o.scheme)}, nil
}

// isToken reports whether s is an HTTP token (RFC 9110 §5.6.2), which a method is.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// merge reads two families describing one request: every field they both give must agree.
func merge(a, b family) (family, error) {
	if a.target != b.target || !strings.EqualFold(a.method, b.method) || !agree(a.scheme, b.scheme) || !sameHost(a.host, b.host) {
		return family{}, errDisagree
	}
	if port(a.host) == "" && port(b.host) != "" {
		a.host = b.host
	}
	a.scheme = first(a.scheme, b.scheme)
	return a, nil
}

// sameHost compares two families' hosts as rules read them; when both name a port, the ports
// must be the same too.
func sameHost(a, b string) bool {
	if a == b {
		return true
	}
	pa, pb := port(a), port(b)
	return authz.SameHost(a, b) && (pa == "" || pb == "" || pa == pb)
}

// port is a host's port, "" when it names none.
func port(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || i < strings.LastIndexByte(host, ']') {
		return ""
	}
	return host[i+1:]
}

// originalFamily reads X-Original-Method, -URI and -URL; a full URL gives the host too.
func originalFamily(h http.Header) (family, error) {
	f := family{method: get(h, hOriginalMethod), target: get(h, hOriginalURI)}
	raw := get(h, hOriginalURL)
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

// agree reports whether two families' values for one field are compatible: equal but for
// case, or one of them silent.
func agree(a, b string) bool {
	return a == "" || b == "" || strings.EqualFold(a, b)
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
