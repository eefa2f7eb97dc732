package policy

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
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
}

// ServedRoute is a set of hosts and the paths the object routes on them.
type ServedRoute struct {
	// Hosts: exact names or "*.example.com" wildcards. Objects that serve no explicit host
	// (they take whatever their gateway gives them) are not indexed: they would claim every
	// host in the mesh.
	Hosts []string
	// Paths routed on those hosts; "/" as a prefix for every path.
	Paths []RoutedPath
	// Bound: the hosts belong to the object's namespace whatever other namespaces' objects
	// claim, and however old those are — a Service's names that spell its namespace
	// (name.ns, name.ns.svc, name.ns.svc.<cluster domain>).
	Bound bool
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
//
// An object decides only for traffic of its own namespace's hosts. When objects of several
// namespaces name one host, the namespace of the oldest of them owns it (Gateway API's rule
// for conflicting claims), and objects of the other namespaces never decide for it — neither
// to open nor to close: where one of them serves a request, the config decides. A wildcard
// host never decides for a host an object of another namespace names more precisely (an exact
// host, or a longer wildcard). When the check names the namespace of the workload that
// receives the request (an Istio sidecar's identity, or --workload-namespace), only that
// namespace's objects count, whoever owns the host.
type ObjectIndex struct {
	// Objects that carry rules, sorted by Ref.
	Objects []*Object
	// Conflicts are hosts and paths that more than one object claims.
	Conflicts []Conflict

	exact    map[string]*hostClaims // host -> its claims
	wildcard []wildcardHost         // "*.suffix" hosts, longest suffix first
}

// hostClaims are the objects that name one host (exact, or one wildcard).
type hostClaims struct {
	// owner is the namespace whose objects decide for the host when the check does not say
	// which namespace receives the request.
	owner string
	// cands are the paths routed on the host, most specific first.
	cands []candidate
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

type wildcardHost struct {
	suffix string // ".example.com"
	claims *hostClaims
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
		return fmt.Sprintf("host %s is named by objects of several namespaces (%s); namespace %s owns it (the oldest claim): only its objects decide for that host, the others' requests fall back to the config",
			c.Host, strings.Join(c.Objects, ", "), c.Owner)
	}
	return fmt.Sprintf("host %s path %s is claimed by %s; the policies of all of them apply", c.Host, c.Path, strings.Join(c.Objects, ", "))
}

// claim is one object's claim to one host, for ownership.
type claim struct {
	obj   *Object
	bound bool
}

// NewObjectIndex indexes objects (see ObjectIndex); conflicts are listed in Conflicts.
func NewObjectIndex(objects []*Object) *ObjectIndex {
	m := &ObjectIndex{exact: map[string]*hostClaims{}}
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
	claims := map[string][]claim{} // host or "*.suffix" -> claims, one per object
	all := map[string]*hostClaims{}
	at := func(h string) *hostClaims {
		hc := all[h]
		if hc == nil {
			hc = &hostClaims{}
			all[h] = hc
		}
		return hc
	}
	for _, o := range sorted {
		for _, route := range o.Routes {
			for _, h := range route.Hosts {
				h = strings.ToLower(strings.TrimSuffix(h, "."))
				if h == "*" || h == "" || (strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*.")) {
					continue // never indexed: see ServedRoute.Hosts
				}
				hc := at(h)
				if o.TightenOnly {
					if !slices.Contains(hc.tighten, o) {
						hc.tighten = append(hc.tighten, o)
					}
					hc.cands = append(hc.cands, candidate{obj: o, path: RoutedPath{Value: "/"}, standIn: true})
				} else {
					for _, p := range route.Paths {
						hc.cands = append(hc.cands, candidate{obj: o, path: p})
					}
				}
				cl := claims[h]
				if i := slices.IndexFunc(cl, func(c claim) bool { return c.obj == o }); i >= 0 {
					cl[i].bound = cl[i].bound || route.Bound
				} else {
					claims[h] = append(cl, claim{obj: o, bound: route.Bound})
				}
			}
		}
	}
	for h, hc := range all {
		hc.owner = m.own(h, claims[h])
		hc.cands = m.order(h, hc.cands)
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			m.wildcard = append(m.wildcard, wildcardHost{suffix: suffix, claims: hc})
		} else {
			m.exact[h] = hc
		}
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
		a, b := m.Conflicts[i], m.Conflicts[j]
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Path, b.Path)) < 0
	})
	return m
}

// own picks the namespace that owns a host: a namespace the host is bound to (a Service's
// namespaced name), else the one with the oldest object naming it (creation time, then
// namespace and name). A host named from several namespaces is recorded as a conflict.
func (m *ObjectIndex) own(host string, cl []claim) string {
	if len(cl) == 0 {
		return ""
	}
	best := slices.MinFunc(cl, func(a, b claim) int {
		if a.bound != b.bound {
			if a.bound {
				return -1
			}
			return 1
		}
		return cmp.Or(a.obj.Created.Compare(b.obj.Created), cmp.Compare(a.obj.Namespace, b.obj.Namespace), cmp.Compare(a.obj.Name, b.obj.Name))
	})
	var namespaces []string
	for _, c := range cl {
		if !slices.Contains(namespaces, c.obj.Namespace) {
			namespaces = append(namespaces, c.obj.Namespace)
		}
	}
	if len(namespaces) > 1 {
		var refs []string
		for _, c := range cl {
			refs = append(refs, c.obj.Ref())
		}
		slices.Sort(refs)
		m.Conflicts = append(m.Conflicts, Conflict{Host: host, Objects: slices.Compact(refs), Owner: best.obj.Namespace})
	}
	return best.obj.Namespace
}

// order sorts one host's candidates, most specific path first (stable, so the object order
// breaks ties), and records ties between objects of one namespace (those of several are
// reported once per host, by own).
func (m *ObjectIndex) order(host string, c []candidate) []candidate {
	sort.SliceStable(c, func(i, j int) bool { return c[i].path.specificity() > c[j].path.specificity() })
	for i := 0; i < len(c); {
		j := i + 1
		for j < len(c) && c[j].path == c[i].path {
			j++
		}
		byNS := map[string][]string{}
		for _, x := range c[i:j] {
			if refs := byNS[x.obj.Namespace]; !slices.Contains(refs, x.obj.Ref()) {
				byNS[x.obj.Namespace] = append(refs, x.obj.Ref())
			}
		}
		for _, refs := range byNS {
			if len(refs) > 1 {
				m.Conflicts = append(m.Conflicts, Conflict{Host: host, Path: c[i].path.String(), Objects: refs})
			}
		}
		i = j
	}
	return c
}

// levels calls f with the claims on host, most precise first: the exact host, then the
// wildcards that match it, longest first. f returns false to stop.
func (m *ObjectIndex) levels(host string, f func(*hostClaims) bool) {
	if hc := m.exact[host]; hc != nil && !f(hc) {
		return
	}
	for _, w := range m.wildcard {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) && !f(w.claims) {
			return
		}
	}
}

// serving appends the candidates that serve a request (host normalized, path one reading):
// those with the most specific routed path among objects for the exact host, else for a
// wildcard host. Several come back only on a tie. ns is the namespace whose objects decide:
// destNS when the check names the receiving workload's namespace (then only its objects are
// considered at all), else the owner of the most precise host claimed.
func (m *ObjectIndex) serving(dst []candidate, host, path, destNS string) (_ []candidate, ns string) {
	ns = destNS
	m.levels(host, func(hc *hostClaims) bool {
		if ns == "" {
			ns = hc.owner
		}
		best := -1
		for _, c := range hc.cands {
			if best >= 0 && c.path.specificity() < best {
				break
			}
			if !c.path.covers(path) || (destNS != "" && c.obj.Namespace != destNS) {
				continue
			}
			best = c.path.specificity()
			if !slices.ContainsFunc(dst, func(d candidate) bool { return d.obj == c.obj && d.standIn == c.standIn }) {
				dst = append(dst, c)
			}
		}
		return len(dst) == 0
	})
	return dst, ns
}

// Lookup appends the rules the serving objects give a request (host normalized, path one
// reading). configToo is true when the config must decide as well: no object serves the
// request, or one of those that do has no rules or none for it, or belongs to a namespace
// that does not own the host.
func (m *ObjectIndex) Lookup(dst []*Rule, host string, path Path, method, destNS string) (rules []*Rule, configToo bool) {
	var buf [4]candidate
	serving, ns := m.serving(buf[:0], host, path.path, destNS)
	configToo = len(serving) == 0
	// On a tie, an object of the owner routes the request: another namespace's claim to the
	// same path does not add the config (that would let it close what the owner opens).
	owned := slices.ContainsFunc(serving, func(c candidate) bool { return c.obj.Namespace == ns })
	for _, c := range serving {
		if c.obj.Namespace != ns {
			configToo = configToo || !owned
			continue
		}
		if c.standIn || c.obj.Rules == nil {
			configToo = true
			continue
		}
		if r, ok := c.obj.Rules.Match(host, path, method); ok {
			dst = AppendRule(dst, r)
		} else {
			configToo = true
		}
	}
	if ns == "" {
		return dst, configToo
	}
	// Objects whose paths cannot be read tighten every path of their hosts.
	m.levels(host, func(hc *hostClaims) bool {
		for _, o := range hc.tighten {
			if o.Namespace != ns || o.Rules == nil {
				continue
			}
			if r, ok := o.Rules.Match(host, path, method); ok && r.Action != Public {
				dst = AppendRule(dst, r)
			}
		}
		return true
	})
	return dst, configToo
}
