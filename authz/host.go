package authz

import (
	"errors"
	"net/netip"
	"strings"
)

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
