package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Patterns of hosts and of paths.

// pathPattern matches normalized paths: segments are literal, "*" (one whole segment), a
// segment glob such as "*.css" ("*" matches any run of characters within the segment), or "**"
// (any number of segments, including none). A trailing slash in the path is ignored by "**" and
// significant otherwise: "/healthz" does not match "/healthz/".
type pathPattern struct {
	raw      string
	segments []string
	lower    []string // segments in lower case, for case-insensitive readings
	trailing bool     // pattern ends with "/"
}

// MaxPatternSegments bounds a path pattern's depth: far beyond the paths applications route on,
// and what keeps a pattern's compiled form small.
const MaxPatternSegments = 32

func compilePath(p string) (pathPattern, error) {
	switch {
	case p == "":
		return pathPattern{}, errors.New("path pattern is empty")
	case !strings.HasPrefix(p, "/"):
		return pathPattern{}, fmt.Errorf("path pattern %q must start with /", clip(p))
	case strings.ContainsAny(p, "?#\\%;"):
		return pathPattern{}, fmt.Errorf("path pattern %q may not contain ?, #, \\, %% or ; (patterns match decoded, normalized paths)", clip(p))
	}
	pp := pathPattern{raw: p}
	body := strings.TrimPrefix(p, "/")
	if body == "" {
		return pp, nil // "/"
	}
	if strings.HasSuffix(body, "/") {
		pp.trailing = true
		body = strings.TrimSuffix(body, "/")
	}
	if strings.Count(body, "/") >= MaxPatternSegments {
		return pathPattern{}, fmt.Errorf("path pattern %q is deeper than %d segments", clip(p), MaxPatternSegments)
	}
	parts := strings.Split(body, "/")
	pp.segments, pp.lower = make([]string, 0, len(parts)), make([]string, 0, len(parts))
	for _, s := range parts {
		switch {
		case s == "" || s == "." || s == "..":
			return pathPattern{}, fmt.Errorf("path pattern %q has an empty, . or .. segment", clip(p))
		case strings.Contains(s, "**") && s != "**":
			return pathPattern{}, fmt.Errorf("path pattern %q: ** must be a whole segment", clip(p))
		}
		pp.segments = append(pp.segments, s)
		pp.lower = append(pp.lower, strings.ToLower(s))
	}
	return pp, nil
}

// match reports whether a request path matches.
func (pp pathPattern) match(p Path) bool {
	pat := pp.segments
	if p.fold {
		pat = pp.lower
	}
	if !matchSegments(pat, p.segs) {
		return false
	}
	if n := len(pp.segments); n > 0 && pp.segments[n-1] == "**" {
		return true
	}
	return p.trailing == pp.trailing
}

// matchSegments matches request segments against pattern segments, where "**" stands for any
// number of segments. It is the classic wildcard match with backtracking to the last "**" only,
// so it takes at most len(pat)·len(segs) steps however many "**" a pattern has: a pattern like
// /**/a/**/b/**/c cannot be made to backtrack exponentially by a long request path.
func matchSegments(pat, segs []string) bool {
	pi, si := 0, 0
	star, mark := -1, 0 // the last "**" seen, and where its match currently ends
	for si < len(segs) {
		switch {
		case pi < len(pat) && pat[pi] == "**":
			star, mark = pi, si
			pi++
		case pi < len(pat) && globMatch(pat[pi], segs[si]):
			pi++
			si++
		case star >= 0:
			// Let the last "**" take one more segment and try again after it.
			mark++
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == "**" {
		pi++
	}
	return pi == len(pat)
}

// globMatch matches s against a pattern whose only wildcard is "*" (any run of characters).
func globMatch(pattern, s string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// hostPattern matches request hosts (as authz normalizes them: lower case, no port, no trailing
// dot): "*" matches any host, "*.example.com" any subdomain (at any depth) of example.com,
// anything else exactly.
type hostPattern string

func compileHost(h string) (hostPattern, error) {
	h = strings.ToLower(strings.TrimSpace(h))
	switch {
	case h == "":
		return "", errors.New("host pattern is empty")
	case strings.ContainsAny(h, "/ ?#@"):
		return "", fmt.Errorf("host pattern %q must be a host name (no scheme, path or port)", clip(h))
	case strings.Contains(h, ":") && !strings.HasPrefix(h, "["):
		return "", fmt.Errorf("host pattern %q must not have a port: ports are ignored", clip(h))
	}
	h = strings.TrimSuffix(h, ".")
	if strings.HasPrefix(h, "[") {
		// An IPv6 literal matches in the canonical form requests are read in.
		addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
		if err != nil || !strings.HasSuffix(h, "]") || !addr.Is6() || addr.Zone() != "" {
			return "", fmt.Errorf("host pattern %q is not an IPv6 address in brackets", clip(h))
		}
		h = "[" + addr.String() + "]"
	}
	return hostPattern(h), nil
}

func (hp hostPattern) match(host string) bool {
	return globMatch(string(hp), host)
}
