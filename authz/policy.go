package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/betterauthz/betterauthz/jwks"
)

// Action is what a route asks of a request.
type Action int

const (
	// Authenticated needs a valid token (and the route's claims, if any).
	Authenticated Action = iota
	// Public lets everything through; a valid token still yields identity headers.
	Public
	// Deny refuses everything with 403.
	Deny
)

var actionNames = map[Action]string{Authenticated: "authenticated", Public: "public", Deny: "deny"}

func (a Action) String() string { return actionNames[a] }

// ParseAction reads "public", "authenticated" or "deny".
func ParseAction(s string) (Action, error) {
	for a, name := range actionNames {
		if s == name {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%q is not a policy (public, authenticated, deny)", s)
}

// IdentityHeader sets header Name from claim Claim on allowed requests.
type IdentityHeader struct {
	Name  string // lower case
	Claim string // a claim name or a dotted path into nested claims
}

// Policy is the compiled, immutable request policy. A new config builds a new Policy.
//
// The rule for a request comes from, most specific first: the Envoy route's
// context_extensions, the config's Routes (first match wins), then Default.
type Policy struct {
	// Routes from the config, in order.
	Routes []*Rule
	// Default applies when no route matches.
	Default Action
	// IdentityHeaders, sorted by Name: set on allow when the claim is present, stripped
	// otherwise.
	IdentityHeaders []IdentityHeader
	// AllowCORSPreflight lets browser preflights through without a token.
	AllowCORSPreflight bool
	// Realm for WWW-Authenticate.
	Realm string
	// MaxTokenBytes bounds the Authorization header read.
	MaxTokenBytes int
	// AnnotationsOnlyTighten (config annotations.allowPublic: false) makes Kubernetes objects'
	// rules add to the config's instead of replacing them: a request must satisfy both, so
	// annotations can tighten a route but never open it.
	AnnotationsOnlyTighten bool

	extCache sync.Map // canonical context_extensions -> *cachedExtension
	extCount atomic.Int64

	indexOnce sync.Once
	index     *routeIndex
}

// defaultRules stand for the default policy in decisions, logs and metrics.
var defaultRules = map[Action]*Rule{
	Authenticated: {Name: "default", Source: "defaultPolicy", Action: Authenticated},
	Public:        {Name: "default", Source: "defaultPolicy", Action: Public},
	Deny:          {Name: "default", Source: "defaultPolicy", Action: Deny},
}

// TokenVerifier checks a token; errors follow package jwks's sentinels.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (jwks.Claims, error)
}

// Snapshot is everything one decision reads, swapped whole on reload so that a request never
// sees half of an old config and half of a new one. A nil Policy means no config has been
// loaded yet: every check answers 503.
type Snapshot struct {
	Policy   *Policy
	Verifier TokenVerifier
	// Mesh holds policies from Kubernetes objects' annotations; nil when off.
	Mesh *MeshRoutes
}

func (s *Snapshot) realm() string {
	if s.Policy == nil {
		return ""
	}
	return s.Policy.Realm
}

// maxCachedExtensions bounds the cache of parsed context_extensions. Envoy sends one set per
// route, so a mesh has few; past the bound they are parsed per request.
const maxCachedExtensions = 4096

// extensionPolicy parses (once per distinct value) the betterauthz.io/ keys of a route's
// context_extensions.
func (p *Policy) extensionPolicy(ext map[string]string) (*ObjectPolicy, error) {
	key := canonicalExtensionKey(ext)
	if key == "" {
		return nil, nil
	}
	if e, ok := p.extCache.Load(key); ok {
		c := e.(*cachedExtension)
		return c.op, c.err
	}
	op, err := ParseObjectPolicy(ext, "context_extensions")
	if p.extCount.Load() < maxCachedExtensions {
		if _, loaded := p.extCache.LoadOrStore(key, &cachedExtension{op, err}); !loaded {
			p.extCount.Add(1)
		}
	}
	return op, err
}

type cachedExtension struct {
	op  *ObjectPolicy
	err error
}

// canonicalExtensionKey is the betterauthz.io/ entries of ext in key order ("" if none).
func canonicalExtensionKey(ext map[string]string) string {
	var keys []string
	for k := range ext {
		if strings.HasPrefix(k, keyPrefix) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(ext[k])
		b.WriteByte(0)
	}
	return b.String()
}

// rulesFor appends the rules a request must satisfy for one path reading, most specific source
// first: the route's context_extensions, then the serving Kubernetes object's annotations, then
// the config's routes, then the default. Normally the first source with an opinion decides
// alone; with annotations.allowPublic off, objects' rules are added to the config's instead.
func (s *Snapshot) rulesFor(dst []*Rule, op *ObjectPolicy, host string, path reqPath, method, destNS string) []*Rule {
	if op != nil {
		if r, ok := op.match(host, path, method); ok {
			return appendRule(dst, r)
		}
	}
	if s.Mesh != nil {
		var configToo bool
		dst, configToo = s.Mesh.lookup(dst, host, path, method, destNS)
		if !configToo && !s.Policy.AnnotationsOnlyTighten {
			return dst
		}
	}
	p := s.Policy
	if r := p.routeIndex().first(host, path, method); r != nil {
		return appendRule(dst, r)
	}
	return appendRule(dst, defaultRules[p.Default])
}

// routeIndex narrows the config routes a request is tried against to those whose paths could
// match it, keeping their order: with 1,000 rules a request is matched against the few that
// could apply, not all of them. It is a trie on the literal segments a rule's path patterns
// start with (the segments before the first wildcard); a request collects the rules on its way
// down, plus those with no literal prefix at the root.
type routeIndex struct {
	rules []*Rule
	root  *routeNode
}

type routeNode struct {
	children map[string]*routeNode
	rules    []int // indexes into routeIndex.rules, ascending
}

func (p *Policy) routeIndex() *routeIndex {
	p.indexOnce.Do(func() { p.index = buildRouteIndex(p.Routes) })
	return p.index
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
func (idx *routeIndex) first(host string, p reqPath, method string) *Rule {
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

func appendRule(dst []*Rule, r *Rule) []*Rule {
	for _, x := range dst {
		if x == r {
			return dst
		}
	}
	return append(dst, r)
}
