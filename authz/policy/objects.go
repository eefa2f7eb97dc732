package policy

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"
)

// Object is a Kubernetes object that serves requests (a Service, an Ingress, an HTTPRoute) and
// the rules its betterauthz.io/ annotations set. Objects without rules are indexed too: when
// one of them serves a request, the config decides, not some broader annotated object.
type Object struct {
	// Kind, Namespace, Name identify it: "Service", "Ingress" or "HTTPRoute".
	Kind, Namespace, Name string
	// Created is its creationTimestamp: of the namespaces whose objects name one host, the one
	// with the oldest object owns the host (see ObjectIndex).
	Created time.Time
	// Routes are the hosts and paths it serves.
	Routes []ServedRoute
	// Rules from its annotations; nil when it has none (or they are invalid).
	Rules *ObjectRules
	// TightenOnly: which paths the object routes cannot be read (regular expressions), so its
	// rules apply to every path of its hosts, on top of whatever else decides there, and never
	// open anything: a public rule of its is no opinion. For the paths it may route it stands
	// for the config, as an object without rules does.
	TightenOnly bool
	// ClaimOnly: the object routes nothing right now (an HTTPRoute whose latest spec its Gateway
	// has not accepted yet) but did: it keeps its namespace's claim to its hosts, so that the
	// owner's edit does not hand them to another namespace for a moment. It decides nothing.
	ClaimOnly bool
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

// key is where the index files the routed path: an exact path as it is, a prefix without its
// trailing "/" ("" for "/"), in lower case (the case-insensitive reading looks it up too).
func (rp RoutedPath) key() string {
	if rp.Exact {
		return strings.ToLower(rp.Value)
	}
	return strings.ToLower(strings.TrimSuffix(rp.Value, "/"))
}

// Bounds on one host's entries of one namespace, checked on each request to the host: the
// objects that claim the same path (all apply), the paths filed under one case-insensitive key
// ("/Admin", "/ADMIN", ...), and the objects whose paths cannot be read (each tightens every
// request). Past them, the others are left out and reported.
const (
	MaxTiedObjects   = 16
	maxKeyCandidates = 64
)

// kindRank breaks ties between objects: the more specific kind of route wins.
var kindRank = map[string]int{"HTTPRoute": 0, "Ingress": 1, "Service": 2}

// ObjectIndex finds the Kubernetes objects that serve a request — by host and routed path —
// and lets their rules decide. Built whole from a snapshot of objects; immutable after.
//
// An object decides only for traffic of its own namespace's hosts. When objects of several
// namespaces name one host, the namespace of the oldest of them owns it (Gateway API's rule
// for conflicting claims), and objects of the other namespaces never decide for it — neither
// to open nor to close: where one of them serves a request, the config decides, on top of the
// owner's objects. A wildcard host never decides for a host an object of another namespace
// names more precisely (an exact host, or a longer wildcard). A Service name,
// NAME.NS.svc[.DOMAIN], belongs to namespace NS whoever names it. When the check names the
// namespace of the workload that receives the request (an Istio sidecar's identity, or
// --workload-namespace), only that namespace's objects count, whoever owns the host.
//
// A lookup costs a few map reads per path segment and host label, whatever the number of
// objects.
type ObjectIndex struct {
	// Objects that carry rules, sorted by Ref.
	Objects []*Object
	// Conflicts are hosts and paths that more than one object claims.
	Conflicts []Conflict
	// Dropped are objects left out of the index, and why.
	Dropped []string

	exact    map[string]*hostClaims // host -> its claims
	wildcard map[string]*hostClaims // ".example.com" for "*.example.com" -> its claims
}

// hostClaims are the objects that name one host (exact, or one wildcard).
type hostClaims struct {
	// owner is the namespace whose objects decide for the host when the check does not say
	// which namespace receives the request.
	owner string
	// paths files the routed paths by RoutedPath.key, each list most specific first.
	paths map[string][]candidate
	// tighten are the TightenOnly objects that name the host.
	tighten []*Object
}

type candidate struct {
	obj  *Object
	path RoutedPath
	// standIn: the object's paths cannot be read; here it stands for the config, its rules
	// apply through hostClaims.tighten.
	standIn bool
}

// Conflict records objects claiming the same host (and path). Objects of one namespace that
// claim the same path all apply — a second object can never open what the first closes; of
// several namespaces that claim one host, the owner's objects alone decide for it.
type Conflict struct {
	Host, Path string
	Objects    []string
	// Owner is set for a host that objects of several namespaces name: the namespace that owns
	// it. Path is empty then.
	Owner string
}

func (c Conflict) String() string {
	if c.Owner != "" {
		return fmt.Sprintf("host %s is named by objects of several namespaces (%s); namespace %s owns it: only its objects decide for that host, the others' requests fall back to the config",
			c.Host, strings.Join(c.Objects, ", "), c.Owner)
	}
	return fmt.Sprintf("host %s path %s is claimed by %s; the policies of all of them apply", c.Host, c.Path, strings.Join(c.Objects, ", "))
}

// NewObjectIndex indexes objects (see ObjectIndex); conflicts are listed in Conflicts.
func NewObjectIndex(objects []*Object) *ObjectIndex {
	m := &ObjectIndex{exact: map[string]*hostClaims{}, wildcard: map[string]*hostClaims{}}
	sorted := append([]*Object(nil), objects...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		return cmp.Or(cmp.Compare(kindRank[a.Kind], kindRank[b.Kind]), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name)) < 0
	})
	claims := map[string][]*Object{} // host or "*.suffix" -> the objects naming it
	all := map[string]*hostClaims{}
	for _, o := range sorted {
		for _, route := range o.Routes {
			for _, h := range route.Hosts {
				h = strings.ToLower(strings.TrimSuffix(h, "."))
				if reason := unindexable(h); reason != "" {
					m.Dropped = append(m.Dropped, fmt.Sprintf("%s: host %q %s", o.Ref(), h, reason))
					continue
				}
				hc := all[h]
				if hc == nil {
					hc = &hostClaims{paths: map[string][]candidate{}}
					all[h] = hc
				}
				if !slices.Contains(claims[h], o) {
					claims[h] = append(claims[h], o)
				}
				switch {
				case o.ClaimOnly:
				case o.TightenOnly:
					if slices.Contains(hc.tighten, o) {
						continue
					}
					if countNS(hc.tighten, o.Namespace) == MaxTiedObjects {
						m.Dropped = append(m.Dropped, fmt.Sprintf("%s: more than %d objects of namespace %s whose paths cannot be read name host %s", o.Ref(), MaxTiedObjects, o.Namespace, h))
						continue
					}
					hc.tighten = append(hc.tighten, o)
					hc.add(candidate{obj: o, path: RoutedPath{Value: "/"}, standIn: true})
				default:
					for _, p := range route.Paths {
						hc.add(candidate{obj: o, path: p})
					}
				}
			}
		}
	}
	for h, hc := range all {
		hc.owner = m.own(h, claims[h])
		for key, c := range hc.paths {
			hc.paths[key] = m.order(h, c)
		}
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			m.wildcard[suffix] = hc
		} else {
			m.exact[h] = hc
		}
	}
	for _, o := range sorted {
		if o.Rules != nil && !o.ClaimOnly {
			m.Objects = append(m.Objects, o)
		}
	}
	sort.Slice(m.Objects, func(i, j int) bool { return m.Objects[i].Ref() < m.Objects[j].Ref() })
	sort.Slice(m.Conflicts, func(i, j int) bool {
		a, b := m.Conflicts[i], m.Conflicts[j]
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Path, b.Path)) < 0
	})
	slices.Sort(m.Dropped)
	m.Dropped = slices.Compact(m.Dropped)
	return m
}

func countNS(objs []*Object, ns string) int {
	n := 0
	for _, o := range objs {
		if o.Namespace == ns {
			n++
		}
	}
	return n
}

func (hc *hostClaims) add(c candidate) {
	k := c.path.key()
	if !slices.ContainsFunc(hc.paths[k], func(x candidate) bool { return x == c }) {
		hc.paths[k] = append(hc.paths[k], c)
	}
}

// unindexable says why a host is never indexed: "" when it is indexed.
func unindexable(h string) string {
	switch {
	case h == "" || h == "*":
		return "names every host"
	case strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*."):
		return "is not a host name"
	case net.ParseIP(strings.Trim(h, "[]")) != nil:
		return "is an IP address: whatever reaches it by address would be decided by this object"
	}
	if suffix, ok := strings.CutPrefix(h, "*."); ok {
		if ps, _ := publicsuffix.PublicSuffix(suffix); ps == suffix {
			return "covers a whole public suffix"
		}
		if labels := strings.Split(suffix, "."); len(labels) >= 1 && labels[0] == "svc" {
			return "covers the Services of every namespace"
		}
	}
	return ""
}

// serviceNamespace is the namespace a Service name (NAME.NS.svc, NAME.NS.svc.DOMAIN, and
// wildcards among them) belongs to, whoever names it; "" for other hosts.
func serviceNamespace(h string) string {
	first := strings.IndexByte(h, '.')
	if first < 0 {
		return ""
	}
	rest := h[first+1:]
	ns, after, ok := strings.Cut(rest, ".")
	if !ok || ns == "" || (after != "svc" && !strings.HasPrefix(after, "svc.")) {
		return ""
	}
	return ns
}

// own picks the namespace that owns a host: for a Service name, its namespace; else the one
// with the oldest object naming it (creation time, then namespace and name). A host named from
// several namespaces is recorded as a conflict.
func (m *ObjectIndex) own(host string, objs []*Object) string {
	owner := serviceNamespace(strings.TrimPrefix(host, "*"))
	if owner == "" {
		owner = slices.MinFunc(objs, func(a, b *Object) int {
			return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		}).Namespace
	}
	var refs []string
	several := false
	for _, o := range objs {
		refs = append(refs, o.Ref())
		several = several || o.Namespace != owner
	}
	if several {
		slices.Sort(refs)
		m.Conflicts = append(m.Conflicts, Conflict{Host: host, Objects: slices.Compact(refs), Owner: owner})
	}
	return owner
}

// order sorts the candidates of one host and path key, most specific first (exact before
// prefix; stable, so the object order breaks ties), records ties between objects of one
// namespace (those of several are reported once per host, by own), and keeps at most
// MaxTiedObjects objects of a namespace in a tie.
func (m *ObjectIndex) order(host string, c []candidate) []candidate {
	sort.SliceStable(c, func(i, j int) bool {
		if c[i].path.Exact != c[j].path.Exact {
			return c[i].path.Exact
		}
		return c[i].path.Value < c[j].path.Value
	})
	out := c[:0]
	perNS := map[string]int{}
	for i := 0; i < len(c); {
		j := i + 1
		for j < len(c) && c[j].path == c[i].path {
			j++
		}
		byNS := map[string][]string{}
		for _, x := range c[i:j] {
			refs := byNS[x.obj.Namespace]
			if slices.Contains(refs, x.obj.Ref()) {
				continue
			}
			if len(refs) == MaxTiedObjects || perNS[x.obj.Namespace] == maxKeyCandidates {
				m.Dropped = append(m.Dropped, fmt.Sprintf("%s: more than %d objects (or %d paths differing in case) of namespace %s claim one path of host %s", x.obj.Ref(), MaxTiedObjects, maxKeyCandidates, x.obj.Namespace, host))
				continue
			}
			byNS[x.obj.Namespace] = append(refs, x.obj.Ref())
			perNS[x.obj.Namespace]++
			out = append(out, x)
		}
		for _, ns := range slices.Sorted(maps.Keys(byNS)) {
			if refs := byNS[ns]; len(refs) > 1 {
				m.Conflicts = append(m.Conflicts, Conflict{Host: host, Path: c[i].path.String(), Objects: refs})
			}
		}
		i = j
	}
	return out
}
