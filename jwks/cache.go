package jwks

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// cacheShards spreads the verified-token cache over independent locks, so that concurrent
// checks do not queue behind one mutex.
const cacheShards = 64

// negativeTTL is how long a refused token is answered from the cache. Short: it only makes a
// replayed bad token cheap.
const negativeTTL = 10 * time.Second

// tokenKey is a token's SHA-256: the cache never holds the token itself.
type tokenKey [32]byte

func keyOf(token string) tokenKey {
	// sha256 only reads the bytes: hashing the string's memory in place avoids copying a token
	// of up to 16 KiB on every check.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// tokenCache maps tokens that verified to their claims, and tokens that were refused to the
// error, for a while. A positive entry lives until the token's exp and no longer (clock skew
// widens acceptance at verification, it never extends a cached one), and is ignored once its
// kid has left the key set. Bounded in entries and bytes; refused tokens may fill at most an
// eighth of it, so a flood of garbage cannot push out the users' tokens.
type tokenCache struct {
	shards         [cacheShards]cacheShard
	maxEntries     int // per shard
	maxBytes       int // per shard
	maxNegEntries  int // per shard
	entryOverhead  int
	negativeExpiry time.Duration
}

type cacheShard struct {
	shardState
	// Shards sit side by side in an array: padding each to a whole number of cache lines keeps
	// two shards' locks from sharing one, so checks on different shards do not contend.
	_ [cacheLine - unsafe.Sizeof(shardState{})%cacheLine]byte
}

// cacheLine is the cache line size of the CPUs betterauthz runs on (x86-64, arm64: 64 bytes).
const cacheLine = 64

type shardState struct {
	mu    sync.RWMutex
	m     map[tokenKey]*cacheEntry
	bytes int
	negs  int
	// Counted per shard, on the cache line the shard's lock already writes, so that counting
	// adds no contention between shards.
	hits, misses, evictions atomic.Uint64
}

type cacheEntry struct {
	claims  ClaimReader
	err     error   // non-nil: a refused token
	keys    *KeySet // of the issuer the token was verified for
	kid     string
	expires int64 // unix nanoseconds
	size    int
}

func newTokenCache(maxEntries, maxBytes int) *tokenCache {
	if maxEntries <= 0 {
		return nil
	}
	per := max(1, (maxEntries+cacheShards-1)/cacheShards)
	c := &tokenCache{
		maxEntries:     per,
		maxBytes:       max(1, maxBytes/cacheShards),
		maxNegEntries:  max(1, per/8),
		entryOverhead:  256,
		negativeExpiry: negativeTTL,
	}
	for i := range c.shards {
		c.shards[i].m = make(map[tokenKey]*cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(k tokenKey) *cacheShard { return &c.shards[k[0]%cacheShards] }

// get returns a live entry.
func (c *tokenCache) get(k tokenKey, now int64) (*cacheEntry, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok {
		s.misses.Add(1)
		return nil, false
	}
	if now >= e.expires {
		s.misses.Add(1)
		c.drop(k, e)
		return nil, false
	}
	s.hits.Add(1)
	return e, true
}

// drop removes k if it still maps to e.
func (c *tokenCache) drop(k tokenKey, e *cacheEntry) {
	s := c.shard(k)
	s.mu.Lock()
	if s.m[k] == e {
		s.remove(k, e)
	}
	s.mu.Unlock()
}

func (s *shardState) remove(k tokenKey, e *cacheEntry) {
	delete(s.m, k)
	s.bytes -= e.size
	if e.err != nil {
		s.negs--
	}
}

// put stores an entry, evicting expired entries first and then arbitrary ones to stay within
// the bounds.
func (c *tokenCache) put(k tokenKey, e *cacheEntry, now int64) {
	if e.expires <= now {
		return
	}
	e.size += c.entryOverhead
	if e.size > c.maxBytes {
		return // could never fit: evicting others for it would only empty the shard
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[k]; ok {
		s.remove(k, old)
	}
	if e.err != nil && s.negs >= c.maxNegEntries {
		for k2, e2 := range s.m { // make room among the refused tokens only
			if e2.err != nil {
				s.remove(k2, e2)
				s.evictions.Add(1)
				break
			}
		}
	}
	for len(s.m) > 0 && (len(s.m) >= c.maxEntries || s.bytes+e.size > c.maxBytes) {
		evicted := false
		scanned := 0
		for k2, e2 := range s.m {
			if now >= e2.expires {
				s.remove(k2, e2)
				evicted = true
			}
			if scanned++; scanned >= 8 {
				break
			}
		}
		if !evicted {
			for k2, e2 := range s.m { // Go's map order is random: a random victim
				s.remove(k2, e2)
				s.evictions.Add(1)
				break
			}
		}
	}
	s.m[k] = e
	s.bytes += e.size
	if e.err != nil {
		s.negs++
	}
}

// CacheStats describe a Verifier's token cache since it was built.
type CacheStats struct {
	// Hits are tokens answered from the cache (verified or refused); Misses had to be verified.
	Hits, Misses uint64
	// Evictions are live entries dropped to make room: many mean the cache is too small.
	Evictions uint64
	// Entries and Bytes are its size now.
	Entries, Bytes int
}

// CacheStats reads the token cache's counters and size; all zero when the cache is off.
func (v *Verifier) CacheStats() CacheStats {
	c := v.cache
	if c == nil {
		return CacheStats{}
	}
	var st CacheStats
	for i := range c.shards {
		s := &c.shards[i]
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
		st.Evictions += s.evictions.Load()
	}
	st.Entries, st.Bytes = c.len()
	return st
}

// len counts entries (tests, CacheStats).
func (c *tokenCache) len() (entries, bytes int) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		entries += len(s.m)
		bytes += s.bytes
		s.mu.RUnlock()
	}
	return entries, bytes
}
