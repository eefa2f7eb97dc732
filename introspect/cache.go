package introspect

import (
	"sync"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

// cache holds answers — an active token's claims, or why a token is refused — until they
// expire, bounded in entries and estimated bytes; when full, arbitrary entries make room (Go's
// map order is random), as the session lookup's cache does. Keys are SHA-256 sums: the cache
// never holds a token.
type cache struct {
	mu         sync.Mutex
	m          map[[32]byte]*entry
	bytes      int
	maxEntries int
	maxBytes   int
}

type entry struct {
	claims  jwks.Claims
	err     error
	expires time.Time
	// stale, when after expires, ends the grace in which the entry may still be served while
	// Better Auth cannot be asked (see Introspector.Introspect); until then a miss keeps it.
	stale time.Time
	size  int
}

func newCache(maxEntries, maxBytes int) *cache {
	return &cache{m: map[[32]byte]*entry{}, maxEntries: maxEntries, maxBytes: maxBytes}
}

// get is the entry of k until it expires; with stale, also until its grace ends.
func (c *cache) get(k [32]byte, now time.Time, stale bool) (jwks.Claims, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return jwks.Claims{}, nil, false
	}
	switch {
	case now.Before(e.expires), stale && now.Before(e.stale):
		return e.claims, e.err, true
	case !now.Before(e.stale):
		c.remove(k, e)
	}
	return jwks.Claims{}, nil, false
}

// put caches an entry until expires, servable stale until stale (none when not after expires).
func (c *cache) put(k [32]byte, claims jwks.Claims, err error, expires, stale time.Time) {
	e := &entry{claims: claims, err: err, expires: expires, stale: stale, size: 128}
	if !claims.IsZero() {
		e.size += claims.Size()
	}
	if e.size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		c.remove(k, old)
	}
	for k2, e2 := range c.m {
		if len(c.m) < c.maxEntries && c.bytes+e.size <= c.maxBytes {
			break
		}
		c.remove(k2, e2)
	}
	c.m[k] = e
	c.bytes += e.size
}

// drop forgets k.
func (c *cache) drop(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.remove(k, e)
	}
}

func (c *cache) remove(k [32]byte, e *entry) {
	delete(c.m, k)
	c.bytes -= e.size
}

// len is the number of entries, for tests.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
