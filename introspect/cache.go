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
	size    int
}

func newCache(maxEntries, maxBytes int) *cache {
	return &cache{m: map[[32]byte]*entry{}, maxEntries: maxEntries, maxBytes: maxBytes}
}

func (c *cache) get(k [32]byte, now time.Time) (jwks.Claims, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return jwks.Claims{}, nil, false
	}
	if !now.Before(e.expires) {
		c.remove(k, e)
		return jwks.Claims{}, nil, false
	}
	return e.claims, e.err, true
}

func (c *cache) put(k [32]byte, claims jwks.Claims, err error, expires time.Time) {
	e := &entry{claims: claims, err: err, expires: expires, size: 128}
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
