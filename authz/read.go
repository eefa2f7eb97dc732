package authz

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Step 1 of a decision: read the request's host and target the way rules match them, strictly.
// Every spelling that some component — a proxy, a URL parser, the backend — would read as
// another host or another path is refused or read every way it can be, so that no spelling
// escapes a rule.

// reading is a request's host and target as rules read them.
type reading struct {
	host      string // normalized
	authority string // the host as sent, with its port (of an absolute-form target, its own)
	target    string // the path and query as sent (of an absolute-form target, its path part)
	// paths are the distinct readings of the path, as sent first: paths[:npaths].
	paths  [4]string
	npaths int
}

// readRequest reads r's host and target (see requestTarget, normalizeHost, normalizePath).
func readRequest(r *Request) (reading, error) {
	authority, target, err := requestTarget(r.Host, r.Path)
	if err != nil {
		return reading{}, err
	}
	host, err := normalizeHost(authority)
	if err != nil {
		return reading{}, err
	}
	paths, err := normalizePath(target)
	if err != nil {
		return reading{}, err
	}
	rq := reading{host: host, authority: authority, target: target}
	rq.npaths = len(paths.all(&rq.paths))
	return rq, nil
}

// The target.

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

// The host.

var (
	errHostUserinfo = errors.New("host has userinfo (user@host)")
	errHostChars    = errors.New("host has characters a host name cannot have")
	errHostPort     = errors.New("host has a port that is not a number")
	errHostIP       = errors.New("host is an IP address in a non-canonical form")
	errHostLength   = errors.New("host name too long")
)

// normalizeHost reads a request's host the way rules match it: lower case, without its port
// or a trailing dot, an IPv6 literal in its canonical form. Every spelling that some component
// would read as another host is refused instead of guessed at, so that no spelling escapes a
// host rule:
//   - userinfo ("evil@admin.example.com" is admin.example.com to a URL parser);
//   - characters outside letters, digits, "-", "_" and "." (percent-encodings, spaces, commas,
//     non-ASCII, which IDNA would map onto ASCII);
//   - empty labels ("admin..example.com"), a port that is not digits, an unbracketed IPv6;
//   - an IPv4 address in any form but dotted decimal, and a name whose last label is a number:
//     resolvers and URL parsers read 0x7f.1, 2130706433, 0177.0.0.1 and 127.1 as 127.0.0.1.
//
// An empty host stays empty (it matches only "*" rules).
func normalizeHost(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if strings.IndexByte(h, '@') >= 0 {
		return "", errHostUserinfo
	}
	if len(h) > 262 { // 253 for the name, a port
		return "", errHostLength
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", errHostChars
		}
		name, port = h[:end+1], h[end+1:]
		if port != "" && port[0] != ':' {
			return "", errHostChars
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		if strings.Count(h, ":") > 1 { // an unbracketed IPv6, or two ports
			return "", errHostChars
		}
		name, port = h[:i], h[i:]
	}
	if port != "" {
		for _, c := range []byte(port[1:]) {
			if c < '0' || c > '9' {
				return "", errHostPort
			}
		}
	}
	if strings.HasPrefix(name, "[") {
		addr, err := netip.ParseAddr(name[1 : len(name)-1])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", errHostIP
		}
		return "[" + addr.String() + "]", nil
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 || name[len(name)-1] == '.' {
		return "", errHostChars
	}
	lower := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			if i == 0 || name[i-1] == '.' {
				return "", errHostChars
			}
		case 'A' <= c && c <= 'Z':
			lower = false
		default:
			return "", errHostChars
		}
	}
	if !lower {
		name = strings.ToLower(name)
	}
	last := name[strings.LastIndexByte(name, '.')+1:]
	if isNumericLabel(last) {
		addr, err := netip.ParseAddr(name) // dotted decimal only, no leading zeros
		if err != nil || !addr.Is4() {
			return "", errHostIP
		}
	}
	return name, nil
}

// isNumericLabel reports whether a URL parser would take a host ending in this label for an
// IPv4 address (WHATWG URL "ends in a number"): decimal digits, or 0x and hex digits.
func isNumericLabel(l string) bool {
	if rest, ok := strings.CutPrefix(l, "0x"); ok {
		for i := 0; i < len(rest); i++ {
			if !isHex(rest[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return l != ""
}

// SameHost reports whether two spellings of a host are one host as rules read it: each
// readable, and equal once case, a trailing dot and any port are set aside. Transports that
// are told the host more than once compare the spellings with it.
func SameHost(a, b string) bool {
	na, errA := normalizeHost(a)
	nb, errB := normalizeHost(b)
	return errA == nil && errB == nil && na == nb
}

// The path.

var (
	errBadEscape   = errors.New("path has an invalid percent-encoding")
	errNULInPath   = errors.New("path contains a NUL or control character")
	errPathTooLong = fmt.Errorf("path longer than %d bytes or deeper than %d segments", MaxPathBytes, MaxPathSegments)
)

// Bounds on the path read (without its query): far beyond what applications route on, and
// what keeps the work per request small whatever the rules.
const (
	MaxPathBytes    = 16 << 10
	MaxPathSegments = 1024
)

// Readings of a path, as rules see it. Paths are matched after dropping the query and fragment,
// decoding percent-encoded unreserved characters (RFC 3986 §2.3), resolving "." and "..",
// and collapsing "//".
//
// Some requests can be read two ways, depending on what the backend does with them: an encoded
// slash or backslash (%2F, %5C), a literal backslash, or ";" parameters (/admin;x is /admin to
// Tomcat and Spring). Such a request yields two readings — as sent, and with those decoded or
// stripped — and must satisfy the rules of both, so that no spelling of a path makes it public
// or slips past a deny rule.
//
// A path that starts with two slashes (or backslashes) is a network-path reference to a URL
// parser: WHATWG URL, and so new URL(req.url, base) in a Node backend, reads "//evil/admin" as
// host "evil" and path "/admin". Such a path has the readings of that path as well.
type readings struct {
	asSent  string
	decoded string // == asSent when the path is unambiguous
	// network and networkDecoded read the path after a leading "//authority"; "" when the
	// path does not start that way.
	network, networkDecoded string
}

// all lists the distinct readings, the path as sent first, in buf.
func (r readings) all(buf *[4]string) []string {
	out := append(buf[:0], r.asSent)
	for _, p := range [...]string{r.decoded, r.network, r.networkDecoded} {
		if p != "" && !containsString(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normalizePath computes a path's readings. It fails for malformed percent-encodings and for
// NUL or control characters, which Envoy would refuse too and which no rule should reason about.
func normalizePath(raw string) (readings, error) {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if len(raw) > MaxPathBytes || strings.Count(raw, "/")+strings.Count(raw, "\\") > MaxPathSegments {
		return readings{}, errPathTooLong
	}
	r, err := readPath(raw)
	if err != nil {
		return readings{}, err
	}
	if rest, ok := networkPath(raw); ok {
		nr, err := readPath(rest)
		if err != nil {
			return readings{}, err
		}
		r.network, r.networkDecoded = nr.asSent, nr.decoded
	}
	return r, nil
}

// networkPath returns the path after the authority of a network-path reference
// ("//evil/admin" gives "/admin"); backslashes count as slashes, as WHATWG URL reads them.
func networkPath(raw string) (string, bool) {
	isSlash := func(c byte) bool { return c == '/' || c == '\\' }
	if len(raw) < 2 || !isSlash(raw[0]) || !isSlash(raw[1]) {
		return "", false
	}
	for i := 2; i < len(raw); i++ {
		if isSlash(raw[i]) {
			return raw[i:], true
		}
	}
	return "/", true
}

// readPath computes the as-sent and decoded readings of a path without its query.
func readPath(raw string) (readings, error) {
	if isNormal(raw) {
		return readings{asSent: raw, decoded: raw}, nil
	}
	var sent, dec strings.Builder
	sent.Grow(len(raw) + 1)
	dec.Grow(len(raw) + 1)
	if !strings.HasPrefix(raw, "/") {
		sent.WriteByte('/')
		dec.WriteByte('/')
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return readings{}, errNULInPath
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return readings{}, errBadEscape
			}
			b := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
			switch {
			case b == 0 || b < 0x20 || b == 0x7f:
				return readings{}, errNULInPath
			case isUnreserved(b):
				sent.WriteByte(b)
				dec.WriteByte(b)
			case b == '/' || b == '\\':
				sent.WriteString(upperEscape(b))
				dec.WriteByte('/')
			default:
				sent.WriteString(upperEscape(b))
				dec.WriteString(upperEscape(b))
			}
		case c == '\\':
			sent.WriteByte('\\')
			dec.WriteByte('/')
		default:
			sent.WriteByte(c)
			dec.WriteByte(c)
		}
	}
	r := readings{asSent: resolveDots(sent.String(), false)}
	r.decoded = resolveDots(dec.String(), true)
	return r, nil
}

// isNormal reports whether a path needs no work: it starts with "/", and has no escapes,
// backslashes, ";" parameters, control characters, empty segments or dot segments. Most
// requests' paths are like this, and take no allocation.
func isNormal(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			switch {
			case c == '%' || c == '\\' || c == ';' || c < 0x20 || c == 0x7f:
				return false
			case c != '/':
				continue
			}
		}
		switch p[segStart:i] {
		case "":
			if i != len(p) { // "//", but a single trailing "/" is fine
				return false
			}
		case ".", "..":
			return false
		}
		segStart = i + 1
	}
	return true
}

// resolveDots collapses empty segments, removes "." and resolves ".." (never above the root).
// With stripParams it also drops ";..." from each segment. A trailing slash is kept.
func resolveDots(p string, stripParams bool) string {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	trailing := false
	for _, s := range segs {
		if stripParams {
			if i := strings.IndexByte(s, ';'); i >= 0 {
				s = s[:i]
			}
		}
		switch s {
		case "":
			trailing = true
			continue
		case ".":
			trailing = true
			continue
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = true
			continue
		}
		out = append(out, s)
		trailing = false
	}
	if len(out) == 0 {
		return "/"
	}
	joined := "/" + strings.Join(out, "/")
	if trailing {
		joined += "/"
	}
	return joined
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func upperEscape(b byte) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{'%', hex[b>>4], hex[b&15]})
}
