package authz

import (
	"errors"
	"fmt"
	"strings"
)

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
