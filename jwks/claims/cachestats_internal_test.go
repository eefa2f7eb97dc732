package claims

import (
	"testing"
	"time"
)

func TestCacheStatsCountHitsMissesAndEvictions(t *testing.T) {
	c := NewCache(cacheShards, 1<<30) // one entry per shard
	now := time.Now().UnixNano()
	later := now + int64(time.Hour)
	c.Put(key(1), &Entry{Claims: Claims{}, Kid: "k", Expires: later}, now)
	c.Get(key(1), now)   // hit
	c.Get(key(1), now)   // hit
	c.Get(key(2), now)   // miss
	c.Get(key(1), later) // expired: a miss, and not an eviction
	for i := range 10 * cacheShards {
		c.Put(key(100+i), &Entry{Claims: Claims{}, Kid: "k", Expires: later}, now)
	}
	st := c.Stats()
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
	if (*Cache)(nil).Stats() != (Stats{}) {
		t.Error("a verifier without a cache has stats")
	}
}
