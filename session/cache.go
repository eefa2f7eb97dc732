package session

import (
	"sync"
	"time"
)

// cache holds lookup answers — a session, or ErrNoSession — until they expire, bounded in
// entries and estimated bytes; when full, arbitrary entries make room (Go's map order is
// random). Keys are SHA-256 sums: the cache never holds a session token.
type cache struct {
	mu         sync.Mutex
	m          map[[32]byte]*entry
	bytes      int
	maxEntries int
	maxBytes   int
}

type entry struct {
	s       *Session
	err     error
	expires time.Time
	size    int
}

func newCache(maxEntries, maxBytes int) *cache {
	return &cache{m: map[[32]byte]*entry{}, maxEntries: maxEntries, maxBytes: maxBytes}
}

func (c *cache) get(k [32]byte, now time.Time) (*Session, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return nil, nil, false
	}
	if !now.Before(e.expires) {
		c.remove(k, e)
		return nil, nil, false
	}
	return e.s, e.err, true
}

func (c *cache) put(k [32]byte, s *Session, err error, expires time.Time) {
	e := &entry{s: s, err: err, expires: expires, size: 128 + estimate(s)}
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

// estimate is a session's size: its claims and its cookies.
func estimate(s *Session) int {
	if s == nil {
		return 0
	}
	n := s.Claims.Size()
	for _, c := range s.SetCookie {
		n += len(c)
	}
	return n
}
