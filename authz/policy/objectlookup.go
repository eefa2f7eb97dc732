package policy

import (
	"slices"
	"strings"
)

// Looking up the objects that serve a request: a few map reads per path segment and host label,
// whatever the number of objects (see ObjectIndex).

// levels calls f with the claims on host, most precise first: the exact host, then the
// wildcards that match it, longest first. f returns false to stop.
func (m *ObjectIndex) levels(host string, f func(*hostClaims) bool) {
	if hc := m.exact[host]; hc != nil && !f(hc) {
		return
	}
	for i := strings.IndexByte(host, '.'); i >= 0 && i < len(host)-1; {
		if hc := m.wildcard[host[i:]]; hc != nil && !f(hc) {
			return
		}
		next := strings.IndexByte(host[i+1:], '.')
		if next < 0 {
			return
		}
		i += 1 + next
	}
}

// serving appends the candidates that serve a request (host normalized, path one reading):
// those with the most specific routed path among objects for the exact host, else for a
// wildcard host. Several come back only on a tie. ns is the namespace whose objects decide:
// destNS when the check names the receiving workload's namespace (then only its objects are
// considered at all), else the owner of the most precise host claimed.
func (m *ObjectIndex) serving(dst []candidate, host string, path Path, destNS string) (_ []candidate, ns string) {
	ns = destNS
	m.levels(host, func(hc *hostClaims) bool {
		if ns == "" {
			ns = hc.owner
		}
		dst = hc.covering(dst, path, destNS)
		return len(dst) == 0
	})
	return dst, ns
}

// covering appends the most specific candidates of the host that cover the path (of namespace
// ns only, when set): the exact path first, then its element-wise prefixes, longest first.
func (hc *hostClaims) covering(dst []candidate, path Path, ns string) []candidate {
	p := path.path
	take := func(key string, exact bool) bool {
		lower := strings.ToLower(key) // allocates only for upper-case paths
		found := false
		for _, c := range hc.paths[lower] {
			if c.path.Exact != exact || (ns != "" && c.obj.Namespace != ns) {
				continue
			}
			v := c.path.Value
			if !exact {
				v = strings.TrimSuffix(v, "/")
			}
			if v == key || (path.fold && strings.EqualFold(v, key)) {
				found = true
				if !slices.ContainsFunc(dst, func(d candidate) bool { return d.obj == c.obj && d.standIn == c.standIn }) {
					dst = append(dst, c)
				}
			}
		}
		return found
	}
	if take(p, true) {
		return dst
	}
	prefix := strings.TrimSuffix(p, "/")
	for {
		if take(prefix, false) {
			return dst
		}
		i := strings.LastIndexByte(prefix, '/')
		if i < 0 {
			return dst
		}
		prefix = prefix[:i]
	}
}

// Lookup appends the rules the serving objects give a request (host normalized, path one
// reading). configToo is true when the config must decide as well: no object serves the
// request, or one of those that do has no rules or none for it, or another namespace than the
// host's owner routes it — then the owner's own objects apply too: betterauthz cannot see every
// condition of another namespace's route (an HTTPRoute's header matches, say), so that route
// must not take a check off the owner's host.
func (m *ObjectIndex) Lookup(dst []*Rule, host string, path Path, method, destNS string) (rules []*Rule, configToo bool) {
	var buf [4]candidate
	serving, ns := m.serving(buf[:0], host, path, destNS)
	configToo = len(serving) == 0
	if ns != "" && !slices.ContainsFunc(serving, func(c candidate) bool { return c.obj.Namespace == ns }) && len(serving) > 0 {
		configToo = true
		serving, _ = m.serving(serving[:0], host, path, ns)
	}
	for _, c := range serving {
		if c.obj.Namespace != ns {
			continue // a tie with the owner's object: the owner's decides
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
