package policy

import "strings"

// Routes are the config's rules, first match wins, and the default policy for requests none of
// them matches. Immutable once built.
type Routes struct {
	rules []*Rule
	def   *Rule
	index *routeIndex
}

// defaultRules stand for the default policy in decisions, logs and metrics.
var defaultRules = map[Action]*Rule{
	Authenticated: {Name: "default", Source: SourceDefault, Action: Authenticated},
	Public:        {Name: "default", Source: SourceDefault, Action: Public},
	Deny:          {Name: "default", Source: SourceDefault, Action: Deny},
}

// NewRoutes indexes rules (in config order) with def for everything else.
func NewRoutes(rules []*Rule, def Action) *Routes {
	return &Routes{rules: rules, def: defaultRules[def], index: buildRouteIndex(rules)}
}

// Rules are the config's rules, in order.
func (rt *Routes) Rules() []*Rule { return rt.rules }

// Default is the policy for requests no rule matches.
func (rt *Routes) Default() Action { return rt.def.Action }

// Match returns the first rule that matches a request (host normalized, path one reading), or
// the default rule.
func (rt *Routes) Match(host string, p Path, method string) *Rule {
	if r := rt.index.first(host, p, method); r != nil {
		return r
	}
	return rt.def
}

// AppendRule appends r to dst unless it is there already.
func AppendRule(dst []*Rule, r *Rule) []*Rule {
	for _, x := range dst {
		if x == r {
			return dst
		}
	}
	return append(dst, r)
}

// routeIndex narrows the rules a request is tried against to those whose paths could match it,
// keeping their order: with 1,000 rules a request is matched against the few that could apply,
// not all of them. It is a trie on the literal segments a rule's path patterns start with (the
// segments before the first wildcard); a request collects the rules on its way down, plus those
// with no literal prefix at the root.
type routeIndex struct {
	rules []*Rule
	root  *routeNode
}

type routeNode struct {
	children map[string]*routeNode
	rules    []int // indexes into routeIndex.rules, ascending
}

func buildRouteIndex(rules []*Rule) *routeIndex {
	idx := &routeIndex{rules: rules, root: &routeNode{}}
	add := func(n *routeNode, i int) {
		if l := n.rules; len(l) == 0 || l[len(l)-1] != i {
			n.rules = append(n.rules, i)
		}
	}
	for i, r := range rules {
		if len(r.paths) == 0 {
			add(idx.root, i)
			continue
		}
		for _, pp := range r.paths {
			n := idx.root
			for _, seg := range pp.lower { // lower case: one trie serves both readings
				if strings.Contains(seg, "*") {
					break
				}
				if n.children == nil {
					n.children = map[string]*routeNode{}
				}
				c := n.children[seg]
				if c == nil {
					c = &routeNode{}
					n.children[seg] = c
				}
				n = c
			}
			add(n, i)
		}
	}
	return idx
}

// first returns the first rule, in config order, among those the path could match that
// matches the request.
func (idx *routeIndex) first(host string, p Path, method string) *Rule {
	// The candidate lists along the path, each ascending; walk them in merged order.
	var listsBuf [17][]int
	lists := append(listsBuf[:0], idx.root.rules)
	n := idx.root
	for _, seg := range p.segs {
		if n = n.children[strings.ToLower(seg)]; n == nil {
			break
		}
		lists = append(lists, n.rules)
	}
	var posBuf [17]int
	pos := posBuf[:0]
	pos = append(pos, make([]int, len(lists))...) // grows past the buffer for deep paths
	last := -1
	for {
		best := -1
		for li, l := range lists {
			if pos[li] < len(l) && (best < 0 || l[pos[li]] < lists[best][pos[best]]) {
				best = li
			}
		}
		if best < 0 {
			return nil
		}
		i := lists[best][pos[best]]
		pos[best]++
		if i == last {
			continue
		}
		last = i
		if r := idx.rules[i]; r.matches(host, p, method) {
			return r
		}
	}
}
