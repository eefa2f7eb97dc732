package policy

import "strings"

// The request paths rules are matched against.

// Path is one reading of a request path — normalized (see authz), split once into segments
// for matching against many patterns.
type Path struct {
	path     string
	segs     []string
	trailing bool
	// fold: segs are in lower case and patterns are compared in lower case too — how a
	// case-insensitive backend (Express, ASP.NET, ...) reads the path.
	fold bool
}

// SplitPath splits a normalized path, using buf for the segments when it is long enough.
func SplitPath(path string, buf []string) Path {
	p := Path{path: path, segs: buf[:0]}
	body := strings.TrimPrefix(path, "/")
	if strings.HasSuffix(body, "/") {
		p.trailing = true
		body = body[:len(body)-1]
	}
	for body != "" {
		seg, rest, found := strings.Cut(body, "/")
		p.segs = append(p.segs, seg)
		if !found {
			break
		}
		body = rest
	}
	return p
}

// Readings are a normalized path's two readings: as sent, and case-insensitive (how Express,
// ASP.NET and others read it); segs and folded hold their segments when long enough.
func Readings(path string, segs, folded []string) (asSent, caseInsensitive Path) {
	asSent = SplitPath(path, segs)
	return asSent, asSent.Folded(folded)
}

// Folded is the case-insensitive reading of p; buf holds its segments when long enough.
func (p Path) Folded(buf []string) Path {
	f := Path{path: p.path, segs: buf[:0], trailing: p.trailing, fold: true}
	for _, s := range p.segs {
		f.segs = append(f.segs, strings.ToLower(s)) // allocates only for upper-case segments
	}
	return f
}

// String is the path as read.
func (p Path) String() string { return p.path }
