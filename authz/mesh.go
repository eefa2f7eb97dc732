package authz

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// MeshObject is one Kubernetes object's own policy (from its betterauthz.io/ annotations) and
// the requests it serves.
type MeshObject struct {
	// Kind, Namespace, Name identify it: "Service", "Ingress" or "HTTPRoute".
	Kind, Namespace, Name string
	// Routes are the hosts and paths it serves.
	Routes []MeshRoute
	// Policy from its annotations.
	Policy *ObjectPolicy
}

// MeshRoute is a set of hosts and the paths the object routes on them.
type MeshRoute struct {
	// Hosts: exact names, "*.example.com" wildcards, or "*" for any host.
	Hosts []string
	// Paths routed on those hosts; "/" as a prefix for every path.
	Paths []RoutedPath
}

// Ref names the object, e.g. "Service shop/orders".
func (o *MeshObject) Ref() string { return o.Kind + " " + o.Namespace + "/" + o.Name }

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

// MeshRoutes finds the Kubernetes object that serves a request and lets its policy decide.
// Built whole from a snapshot of objects; immutable after.
type MeshRoutes struct {
	// Tighten (config annotations.allowPublic: false) makes object rules add to the config's
	// instead of replacing them: a request must satisfy both, so annotations can only tighten.
	Tighten bool
	// Objects that carry a policy, sorted by Ref.
	Objects []*MeshObject
	// Conflicts are hosts and paths that more than one object claims, resolved by order.
	Conflicts []Conflict

	exact    map[string][]candidate // host -> candidates, best first
	wildcard []wildcardHost         // "*.suffix" hosts, longest suffix first
	anyHost  []candidate            // objects for every host
}

type candidate struct {
	obj  *MeshObject
	path RoutedPath
}

type wildcardHost struct {
	suffix     string // ".example.com"
	candidates []candidate
}

// Conflict records objects claiming the same host and path; the first one wins.
type Conflict struct {
	Host, Path string
	Objects    []string
}

func (c Conflict) String() string {
	return fmt.Sprintf("host %s path %s is claimed by %s; %s wins", c.Host, c.Path, strings.Join(c.Objects, ", "), c.Objects[0])
}

// NewMeshRoutes indexes objects. Ties (same host and same routed path) resolve by kind
// (HTTPRoute, Ingress, Service) then namespace/name, and are listed in Conflicts.
func NewMeshRoutes(objects []*MeshObject, tighten bool) *MeshRoutes {
	m := &MeshRoutes{Tighten: tighten, exact: map[string][]candidate{}}
	sorted := append([]*MeshObject(nil), objects...)
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
					m.anyHost = append(m.anyHost, cands...)
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
	m.anyHost = m.order("*", m.anyHost)
	objs := map[*MeshObject]bool{}
	for _, o := range sorted {
		if !objs[o] {
			objs[o] = true
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
func (m *MeshRoutes) order(host string, c []candidate) []candidate {
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

// serving returns the object that serves a request (host normalized, path one reading): the
// most specific path among objects for the exact host, else for a wildcard host, else for
// every host.
func (m *MeshRoutes) serving(host, path string) *MeshObject {
	pick := func(cs []candidate) *MeshObject {
		for _, c := range cs {
			if c.path.covers(path) {
				return c.obj
			}
		}
		return nil
	}
	if o := pick(m.exact[host]); o != nil {
		return o
	}
	for _, w := range m.wildcard {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			if o := pick(w.candidates); o != nil {
				return o
			}
		}
	}
	return pick(m.anyHost)
}

// lookup returns the rule the serving object's policy gives a request, if it gives one.
func (m *MeshRoutes) lookup(host string, path reqPath, method string) (*Rule, bool) {
	o := m.serving(host, path.path)
	if o == nil || o.Policy == nil {
		return nil, false
	}
	return o.Policy.match(host, path, method)
}
