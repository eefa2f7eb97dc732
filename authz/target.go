package authz

import (
	"errors"
	"strings"
)

var (
	errTargetForm     = errors.New("request target is neither a path starting with / nor an absolute http(s) URI")
	errTargetScheme   = errors.New("request target is an absolute URI whose scheme is not http or https")
	errTargetUserinfo = errors.New("request target names a user (user@host)")
	errTargetHost     = errors.New("request target is an absolute URI naming another host than the request's")
)

// requestTarget reads the host and path of a request target (RFC 9112 §3.2), the one rule for
// every transport. Origin-form ("/a/b?q") keeps the request's host. Absolute-form
// ("http://host/a/b") is what a proxy receives and what a backend that accepts it serves: its
// path is the URI's path, and its host must be the request's host (ports aside) — a target
// naming another host is refused, as is userinfo, since either way some component would serve
// another host than the rules saw. Any other scheme is refused too ("http:/x" and "mailto:x"
// are URIs to a URL parser). Every other target is refused: a relative one ("docs/a", "?q",
// "@evil.com/x") names no path a rule could be sure of — a backend may resolve it against a
// base, or join it to a host — and neither do the empty target and the asterisk-form ("*", a
// server-wide OPTIONS). nginx refuses all of these itself.
func requestTarget(host, target string) (string, string, error) {
	if strings.HasPrefix(target, "/") {
		return host, target, nil
	}
	if !hasScheme(target) {
		return "", "", errTargetForm
	}
	scheme, rest, _ := strings.Cut(target, ":")
	scheme = strings.ToLower(scheme)
	if (scheme != "http" && scheme != "https") || !strings.HasPrefix(rest, "//") {
		return "", "", errTargetScheme
	}
	rest = rest[2:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, path := rest[:end], rest[end:]
	if strings.IndexByte(authority, '@') >= 0 {
		return "", "", errTargetUserinfo
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if host != "" {
		a, errA := normalizeHost(authority)
		h, errH := normalizeHost(host)
		if errA != nil || errH != nil || a != h {
			return "", "", errTargetHost
		}
	}
	return authority, path, nil
}

// hasScheme reports whether s starts with a URI scheme and ":" (RFC 3986 §3.1).
func hasScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}
