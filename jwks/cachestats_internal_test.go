package jwks

import (
	"testing"
	"time"
)

func TestCacheStatsCountHitsMissesAndEvictions(t *testing.T) {
	v := &Verifier{cache: newTokenCache(cacheShards, 1<<30)} // one entry per shard
	c := v.cache
	now := time.Now().UnixNano()
	later := now + int64(time.Hour)
	c.put(key(1), &cacheEntry{claims: Claims{}, kid: "k", expires: later}, now)
	c.get(key(1), now)   // hit
	c.get(key(1), now)   // hit
	c.get(key(2), now)   // miss
	c.get(key(1), later) // expired: a miss, and not an eviction
	for i := range 10 * cacheShards {
		c.put(key(100+i), &cacheEntry{claims: Claims{}, kid: "k", expires: later}, now)
	}
	st := v.CacheStats()
	if st.Hits != 2 || st.Misses != 2 {
		t.Errorf("hits %d misses %d, want 2 and 2", st.Hits, st.Misses)
	}
	if st.Entries > cacheShards || st.Entries == 0 {
		t.Errorf("%d entries, want at most %d", st.Entries, cacheShards)
	}
	if want := uint64(10*cacheShards - st.Entries); st.Evictions != want {
		t.Errorf("%d evictions, want %d (every put beyond the bound)", st.Evictions, want)
	}
	if st.Bytes <= 0 {
		t.Errorf("bytes %d", st.Bytes)
	}
	if (&Verifier{}).CacheStats() != (CacheStats{}) {
		t.Error("a verifier without a cache has stats")
	}
}
