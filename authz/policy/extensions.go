package policy

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// maxCachedExtensions bounds the cache of parsed context_extensions. Envoy sends one set per
// route, so a mesh has few; past the bound they are parsed per request.
const maxCachedExtensions = 4096

// Extensions parses the betterauthz.io/ keys of Envoy routes' check_settings.
// context_extensions, once per distinct set: Envoy sends a route's set with every request.
type Extensions struct {
	cache sync.Map // canonical key -> *parsedExtensions
	count atomic.Int64
}

type parsedExtensions struct {
	rules *ObjectRules
	err   error
}

// Rules returns the rules a set of context_extensions sets (nil when it has no betterauthz.io/
// key), or why they are invalid, lim included (see ObjectRules.Check); one Extensions must
// always be asked with the same lim.
func (e *Extensions) Rules(ext map[string]string, lim Limits) (*ObjectRules, error) {
	key := canonicalExtensionKey(ext)
	if key == "" {
		return nil, nil
	}
	if p, ok := e.cache.Load(key); ok {
		c := p.(*parsedExtensions)
		return c.rules, c.err
	}
	rules, err := ParseObjectRules(ext, SourceContextExtensions)
	if err == nil && rules != nil {
		if err = rules.Check(lim); err != nil {
			rules = nil
		}
	}
	if e.count.Load() < maxCachedExtensions {
		if _, loaded := e.cache.LoadOrStore(key, &parsedExtensions{rules, err}); !loaded {
			e.count.Add(1)
		}
	}
	return rules, err
}

// canonicalExtensionKey is the betterauthz.io/ entries of ext in key order ("" if none).
func canonicalExtensionKey(ext map[string]string) string {
	var keys []string
	for k := range ext {
		if strings.HasPrefix(k, KeyPrefix) {
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
