package jwks_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

// cacheFill verifies n tokens Better Auth signed for distinct signed-in users into a fresh
// verifier's cache, and returns per entry the heap the cache holds (measured after a GC) and
// the bytes the cache accounts for (what cache.maxBytes bounds).
func cacheFill(t testing.TB, n int) (heap, accounted float64) {
	t.Helper()
	tokens, err := ba.UserTokens("EdDSA", n)
	if err != nil {
		t.Fatal(err)
	}
	// Room for every token in every shard, so that nothing is evicted.
	v, ks := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.CacheEntries = 4 * n; o.CacheBytes = 1 << 30 }, nil)
	waitLoaded(t, ks, 10*time.Second)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tokens[0]); err != nil {
		t.Fatal(err)
	}
	before := heapInUse()
	for _, tok := range tokens[1:] {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	after := heapInUse()
	st := v.CacheStats()
	runtime.KeepAlive(tokens)
	if st.Entries != n {
		t.Fatalf("%d entries cached, want %d", st.Entries, n)
	}
	return float64(after-before) / float64(n-1), float64(st.Bytes) / float64(n)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// The cache's byte bound (cache.maxBytes) holds only if what it counts per entry is at least
// what an entry really holds — and not much more, or it would turn tokens away for nothing.
func TestCacheAccountsForWhatEntriesHold(t *testing.T) {
	heap, accounted := cacheFill(t, 1000)
	t.Logf("%.0f bytes of heap per entry, %.0f accounted", heap, accounted)
	if accounted < heap || accounted > 1.5*heap {
		t.Fatalf("the cache accounts %.0f bytes per entry for %.0f held", accounted, heap)
	}
}

// BenchmarkCacheEntryBytes: the heap one cached token holds, with 10,000 real-shaped Better
// Auth tokens in the cache (run it with -benchtime 1x: each run fills the cache once).
func BenchmarkCacheEntryBytes(b *testing.B) {
	var heap, accounted float64
	for b.Loop() {
		heap, accounted = cacheFill(b, 10000)
	}
	b.ReportMetric(heap, "heap-B/entry")
	b.ReportMetric(accounted, "accounted-B/entry")
}
