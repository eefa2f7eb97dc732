package claims

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

// NegativeTTL is how long a refused token is answered from the cache. Short: it only makes a
// replayed bad token cheap.
const NegativeTTL = 10 * time.Second

// Key is a token's SHA-256: the cache never holds the token itself.
type Key [32]byte

// KeyOf is the cache key of a token.
func KeyOf(token string) Key {
	// sha256 only reads the bytes: hashing the string's memory in place avoids copying a token
	// of up to 16 KiB on every check.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// Signers says whether the key a token was verified with may still be trusted: a cached token
// is answered from the cache only while its kid is in the issuer's key set and the set is
// fresh (a jwks/keyset.KeySet).
type Signers interface {
	Usable(kid string) bool
}

// Entry is a verified token's claims, or a refused token's error.
type Entry struct {
	Claims Claims
	Err    error   // non-nil: a refused token
	Keys   Signers // of the issuer the token was verified for
	Kid    string
	// Expires is when the entry ends (unix nanoseconds): the token's exp, never later.
	Expires int64
	// Size is the memory the entry holds besides the cache's own overhead.
	Size int
}

// Cache maps tokens that verified to their claims, and tokens that were refused to the error,
// for a while. A positive entry lives until the token's exp and no longer (clock skew widens
// acceptance at verification, it never extends a cached one), and the verifier ignores it once
// its kid has left the key set. Bounded in entries and bytes; refused tokens may fill at most
// an eighth of it, so a flood of garbage cannot push out the users' tokens. A nil *Cache is
// off: it holds nothing.
type Cache struct {
	shards        [cacheShards]cacheShard
	maxEntries    int // per shard
	maxBytes      int // per shard
	maxNegEntries int // per shard
	entryOverhead int
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
	m     map[Key]*Entry
	bytes int
	negs  int
	// Counted per shard, on the cache line the shard's lock already writes, so that counting
	// adds no contention between shards.
	hits, misses, evictions atomic.Uint64
}

// NewCache bounds a cache by entries and bytes; nil (off) for maxEntries 0.
func NewCache(maxEntries, maxBytes int) *Cache {
	if maxEntries <= 0 {
		return nil
	}
	per := max(1, (maxEntries+cacheShards-1)/cacheShards)
	c := &Cache{
		maxEntries:    per,
		maxBytes:      max(1, maxBytes/cacheShards),
		maxNegEntries: max(1, per/8),
		entryOverhead: 256,
	}
	for i := range c.shards {
		c.shards[i].m = make(map[Key]*Entry)
	}
	return c
}

func (c *Cache) shard(k Key) *cacheShard { return &c.shards[k[0]%cacheShards] }

// Get returns a live entry.
func (c *Cache) Get(k Key, now int64) (*Entry, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.m[k]
	s.mu.RUnlock()
	if !ok {
		s.misses.Add(1)
		return nil, false
	}
	if now >= e.Expires {
		s.misses.Add(1)
		c.Drop(k, e)
		return nil, false
	}
	s.hits.Add(1)
	return e, true
}

// Drop removes k if it still maps to e.
func (c *Cache) Drop(k Key, e *Entry) {
	s := c.shard(k)
	s.mu.Lock()
	if s.m[k] == e {
		s.remove(k, e)
	}
	s.mu.Unlock()
}

func (s *shardState) remove(k Key, e *Entry) {
	delete(s.m, k)
	s.bytes -= e.Size
	if e.Err != nil {
		s.negs--
	}
}

// Put stores an entry, evicting expired entries first and then arbitrary ones to stay within
// the bounds.
func (c *Cache) Put(k Key, e *Entry, now int64) {
	if e.Expires <= now {
		return
	}
	e.Size += c.entryOverhead
	if e.Size > c.maxBytes {
		return // could never fit: evicting others for it would only empty the shard
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[k]; ok {
		s.remove(k, old)
	}
	if e.Err != nil && s.negs >= c.maxNegEntries {
		for k2, e2 := range s.m { // make room among the refused tokens only
			if e2.Err != nil {
				s.remove(k2, e2)
				s.evictions.Add(1)
				break
			}
		}
	}
	for len(s.m) > 0 && (len(s.m) >= c.maxEntries || s.bytes+e.Size > c.maxBytes) {
		evicted := false
		scanned := 0
		for k2, e2 := range s.m {
			if now >= e2.Expires {
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
	s.bytes += e.Size
	if e.Err != nil {
		s.negs++
	}
}

// Stats describe a token cache since it was built.
type Stats struct {
	// Hits are tokens answered from the cache (verified or refused); Misses had to be verified.
	Hits, Misses uint64
	// Evictions are live entries dropped to make room: many mean the cache is too small.
	Evictions uint64
	// Entries and Bytes are its size now.
	Entries, Bytes int
}

// Stats reads the cache's counters and size; all zero when the cache is off.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	var st Stats
	for i := range c.shards {
		s := &c.shards[i]
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
		st.Evictions += s.evictions.Load()
	}
	st.Entries, st.Bytes = c.len()
	return st
}

// len counts entries (tests, Stats).
func (c *Cache) len() (entries, bytes int) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		entries += len(s.m)
		bytes += s.bytes
		s.mu.RUnlock()
	}
	return entries, bytes
}
