package policy

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// The cache of parsed context_extensions is bounded by entries and by bytes. Envoy sends one set
// per route, so a mesh has few; past the bounds, sets are parsed per request (each bounded by
// MaxPolicyBytes).
const (
	maxCachedExtensions     = 4096
	maxCachedExtensionBytes = 16 << 20
)

// Extensions parses the betterauthz.io/ keys of Envoy routes' check_settings.
// context_extensions, once per distinct set: Envoy sends a route's set with every request.
type Extensions struct {
	cache sync.Map // canonical key -> *parsedExtensions
	count atomic.Int64
	bytes atomic.Int64
}

type parsedExtensions struct {
	rules *ObjectRules
	err   error
}

// settingsError is why a set of settings is invalid, with its message built once: Envoy sends the
// set with every request, and each is answered (and logged) with the message.
type settingsError struct {
	err error
	msg string
}

func (e *settingsError) Error() string { return e.msg }
func (e *settingsError) Unwrap() error { return e.err }

// Rules returns the rules a set of context_extensions sets (nil when it has no betterauthz.io/
// key), or why they are invalid, lim included (see ObjectRules.Check); one Extensions must
// always be asked with the same lim.
func (e *Extensions) Rules(ext map[string]string, lim Limits) (*ObjectRules, error) {
	n := PolicyBytes(ext)
	if n == 0 {
		return nil, nil
	}
	if n > MaxPolicyBytes {
		// Refused before anything is copied: a flood of large sets costs no memory.
		return nil, Errorf(KeyPrefix, 0, "its betterauthz.io/ keys and values are %d bytes, more than %d", n, MaxPolicyBytes)
	}
	key := CanonicalKey(ext)
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
	if err != nil {
		err = &settingsError{err: err, msg: err.Error()}
	}
	size := int64(2*len(key) + rules.footprint()) // the key, the decoded text, the compiled rules
	if e.count.Load() < maxCachedExtensions && e.bytes.Load()+size <= maxCachedExtensionBytes {
		if _, loaded := e.cache.LoadOrStore(key, &parsedExtensions{rules, err}); !loaded {
			e.count.Add(1)
			e.bytes.Add(size)
		}
	}
	return rules, err
}

// CanonicalKey is the betterauthz.io/ entries of kv in key order ("" if none): equal for equal
// policies, whatever else kv holds.
func CanonicalKey(kv map[string]string) string {
	var keys []string
	for k := range kv {
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
		b.WriteString(kv[k])
		b.WriteByte(0)
	}
	return b.String()
}
