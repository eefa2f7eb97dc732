package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Object is a Kubernetes object that serves requests (a Service, an Ingress, an HTTPRoute) and
// the rules its betterauthz.io/ annotations set. Objects without rules are indexed too: when
// one of them serves a request, the config decides, not some broader annotated object.
type Object struct {
	// Kind, Namespace, Name identify it: "Service", "Ingress" or "HTTPRoute".
	Kind, Namespace, Name string
	// Routes are the hosts and paths it serves.
	Routes []ServedRoute
	// Rules from its annotations; nil when it has none (or they are invalid).
	Rules *ObjectRules
}

// ServedRoute is a set of hosts and the paths the object routes on them.
type ServedRoute struct {
	// Hosts: exact names or "*.example.com" wildcards. Objects that serve no explicit host
	// (they take whatever their gateway gives them) are not indexed: they would claim every
	// host in the mesh.
	Hosts []string
	// Paths routed on those hosts; "/" as a prefix for every path.
	Paths []RoutedPath
}

// Ref names the object, e.g. "Service shop/orders".
func (o *Object) Ref() string { return o.Kind + " " + o.Namespace + "/" + o.Name }

// RoutedPath is a path an Ingress or HTTPRoute routes: exact, or an element-wise prefix
// ("/api" covers /api and /api/x, not /apix).
type RoutedPath struct {
	Value string
	Exact bool
}

func (rp RoutedPath) String() string {
	if rp.Exact {
		return rp.Value + " (exact)"
	}
	return rp.Value + " (prefix)"
}

// covers reports whether the routed path serves the normalized request path.
func (rp RoutedPath) covers(path string) bool {
	if rp.Exact {
		return path == rp.Value
	}
	prefix := strings.TrimSuffix(rp.Value, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// specificity orders routed paths: longer wins, exact beats prefix of the same length.
func (rp RoutedPath) specificity() int {
	n := 2 * len(strings.TrimSuffix(rp.Value, "/"))
	if rp.Exact {
		n++
	}
	return n
}

// kindRank breaks ties between objects: the more specific kind of route wins.
var kindRank = map[string]int{"HTTPRoute": 0, "Ingress": 1, "Service": 2}

// ObjectIndex finds the Kubernetes objects that serve a request — by host and routed path —
// and lets their rules decide. Built whole from a snapshot of objects; immutable after.
type ObjectIndex struct {
	// Objects that carry rules, sorted by Ref.
	Objects []*Object
	// Conflicts are hosts and paths that more than one object claims: all their policies apply.
	Conflicts []Conflict

	exact    map[string][]candidate // host -> candidates, best first
	wildcard []wildcardHost         // "*.suffix" hosts, longest suffix first
}

type candidate struct {
	obj  *Object
	path RoutedPath
}

type wildcardHost struct {
	suffix     string // ".example.com"
	candidates []candidate
}

// Conflict records objects claiming the same host and path. None of them wins alone: a request
// must satisfy every one's policy (an object without one stands for the config), so a second
// object can never open what the first closes.
type Conflict struct {
	Host, Path string
	Objects    []string
}

func (c Conflict) String() string {
	return fmt.Sprintf("host %s path %s is claimed by %s; the policies of all of them apply", c.Host, c.Path, strings.Join(c.Objects, ", "))
}

// NewObjectIndex indexes objects; ties (same host and routed path) are listed in Conflicts.
func NewObjectIndex(objects []*Object) *ObjectIndex {
	m := &ObjectIndex{exact: map[string][]candidate{}}
	sorted := append([]*Object(nil), objects...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if kindRank[a.Kind] != kindRank[b.Kind] {
			return kindRank[a.Kind] < kindRank[b.Kind]
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	wild := map[string][]candidate{}
	for _, o := range sorted {
		for _, route := range o.Routes {
			var cands []candidate
			for _, p := range route.Paths {
				cands = append(cands, candidate{obj: o, path: p})
			}
			for _, h := range route.Hosts {
				h = strings.ToLower(strings.TrimSuffix(h, "."))
				switch {
				case h == "*" || h == "":
					// Never indexed: see ServedRoute.Hosts.
				case strings.HasPrefix(h, "*."):
					wild[h[1:]] = append(wild[h[1:]], cands...)
				default:
					m.exact[h] = append(m.exact[h], cands...)
				}
			}
		}
	}
	for h, c := range m.exact {
		m.exact[h] = m.order(h, c)
	}
	for suffix, c := range wild {
		m.wildcard = append(m.wildcard, wildcardHost{suffix: suffix, candidates: m.order("*"+suffix, c)})
	}
	sort.Slice(m.wildcard, func(i, j int) bool {
		if len(m.wildcard[i].suffix) != len(m.wildcard[j].suffix) {
			return len(m.wildcard[i].suffix) > len(m.wildcard[j].suffix)
		}
		return m.wildcard[i].suffix < m.wildcard[j].suffix
	})
	for _, o := range sorted {
		if o.Rules != nil {
			m.Objects = append(m.Objects, o)
		}
	}
	sort.Slice(m.Objects, func(i, j int) bool { return m.Objects[i].Ref() < m.Objects[j].Ref() })
	sort.Slice(m.Conflicts, func(i, j int) bool {
		if m.Conflicts[i].Host != m.Conflicts[j].Host {
			return m.Conflicts[i].Host < m.Conflicts[j].Host
		}
		return m.Conflicts[i].Path < m.Conflicts[j].Path
	})
	return m
}

// order sorts one host's candidates, most specific path first (stable, so the object order
// breaks ties), and records ties.
func (m *ObjectIndex) order(host string, c []candidate) []candidate {
	sort.SliceStable(c, func(i, j int) bool { return c[i].path.specificity() > c[j].path.specificity() })
	for i := 0; i < len(c); {
		j := i + 1
		refs := []string{c[i].obj.Ref()}
		for j < len(c) && c[j].path == c[i].path {
			if !slices.Contains(refs, c[j].obj.Ref()) {
				refs = append(refs, c[j].obj.Ref())
			}
			j++
		}
		if len(refs) > 1 {
			m.Conflicts = append(m.Conflicts, Conflict{Host: host, Path: c[i].path.String(), Objects: refs})
		}
		i = j
	}
	return c
}

// serving returns the objects that serve a request (host normalized, path one reading): those
// with the most specific routed path among objects for the exact host, else for a wildcard
// host. Several come back only on a tie. Services from another namespace than the request's
// destination (when Envoy names it) are left out: a client picks the Host header, not which
// workload receives the request.
func (m *ObjectIndex) serving(dst []*Object, host, path, destNS string) []*Object {
	pick := func(cs []candidate) []*Object {
		best := -1
		for _, c := range cs {
			if best >= 0 && c.path.specificity() < best {
				break
			}
			if !c.path.covers(path) || (destNS != "" && c.obj.Kind == "Service" && c.obj.Namespace != destNS) {
				continue
			}
			best = c.path.specificity()
			if !slices.Contains(dst, c.obj) {
				dst = append(dst, c.obj)
			}
		}
		return dst
	}
	if dst = pick(m.exact[host]); len(dst) > 0 {
		return dst
	}
	for _, w := range m.wildcard {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			if dst = pick(w.candidates); len(dst) > 0 {
				return dst
			}
		}
	}
	return dst
}

// Lookup appends the rules the serving objects give a request (host normalized, path one
// reading). configToo is true when the config must decide as well: no object serves the
// request, or one of those that do has no rules or none for it.
func (m *ObjectIndex) Lookup(dst []*Rule, host string, path Path, method, destNS string) (rules []*Rule, configToo bool) {
	var buf [4]*Object
	objs := m.serving(buf[:0], host, path.path, destNS)
	if len(objs) == 0 {
		return dst, true
	}
	for _, o := range objs {
		if o.Rules == nil {
			configToo = true
			continue
		}
		if r, ok := o.Rules.Match(host, path, method); ok {
			dst = AppendRule(dst, r)
		} else {
			configToo = true
		}
	}
	return dst, configToo
}
