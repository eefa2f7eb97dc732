package claims

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func key(i int) Key { return KeyOf(fmt.Sprintf("token-%d", i)) }

func TestCacheBounds(t *testing.T) {
	c := NewCache(1000, 1<<20)
	now := time.Now().UnixNano()
	later := now + int64(time.Hour)
	for i := range 20000 {
		c.Put(key(i), &Entry{Claims: Claims{}, Kid: "k", Expires: later, Size: 100}, now)
	}
	n, b := c.len()
	if n > 1000+cacheShards || b > 1<<20 {
		t.Fatalf("%d entries, %d bytes: bounds 1000 entries, 1 MiB", n, b)
	}
	if n < 500 {
		t.Fatalf("only %d entries kept", n)
	}

	small := NewCache(100000, 64*1024)
	for i := range 5000 {
		small.Put(key(i), &Entry{Expires: later, Size: 1000}, now)
	}
	if _, b := small.len(); b > 64*1024 {
		t.Fatalf("%d bytes, bound 64 KiB", b)
	}
}

func TestCacheRefusalsCannotCrowdOutTokens(t *testing.T) {
	c := NewCache(6400, 1<<30)
	now := time.Now().UnixNano()
	later := now + int64(time.Hour)
	for i := range 3000 {
		c.Put(key(i), &Entry{Claims: Claims{}, Kid: "k", Expires: later}, now)
	}
	refused := errors.New("invalid token")
	for i := range 100000 {
		c.Put(key(-i-1), &Entry{Err: refused, Expires: later}, now)
	}
	kept := 0
	for i := range 3000 {
		if _, ok := c.Get(key(i), now); ok {
			kept++
		}
	}
	if kept != 3000 {
		t.Fatalf("a flood of refused tokens evicted %d of 3000 valid ones", 3000-kept)
	}
}

func TestCacheExpiry(t *testing.T) {
	c := NewCache(10, 1<<20)
	now := time.Now().UnixNano()
	c.Put(key(1), &Entry{Expires: now + 10}, now)
	if _, ok := c.Get(key(1), now+9); !ok {
		t.Fatal("live entry missing")
	}
	if _, ok := c.Get(key(1), now+10); ok {
		t.Fatal("entry served at its expiry")
	}
	c.Put(key(2), &Entry{Expires: now}, now)
	if n, _ := c.len(); n != 0 {
		t.Fatalf("an already expired entry was stored (%d entries)", n)
	}
	if NewCache(0, 1) != nil {
		t.Fatal("maxEntries 0 must turn the cache off")
	}
}

func TestCacheConcurrency(t *testing.T) {
	c := NewCache(500, 1<<20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				now := time.Now().UnixNano()
				k := key((g * 7919 * i) % 2000)
				if e, ok := c.Get(k, now); ok && e.Kid != "k" {
					t.Error("wrong entry")
				}
				c.Put(k, &Entry{Kid: "k", Expires: now + int64(time.Millisecond*time.Duration(i%5)), Size: 10}, now)
			}
		}()
	}
	wg.Wait()
}

// An entry larger than a shard's byte bound is not stored, and costs the shard nothing: it
// used to empty the shard before finding it could not fit.
func TestCacheOversizeEntryEvictsNothing(t *testing.T) {
	c := NewCache(1000, 64*cacheShards*1024) // 64 KiB per shard
	now := time.Now().UnixNano()
	later := now + int64(time.Hour)
	k := key(1)
	c.Put(k, &Entry{Claims: Claims{}, Kid: "k", Expires: later, Size: 100}, now)
	var sameShard Key
	for i := 2; ; i++ {
		if sameShard = key(i); sameShard[0]%cacheShards == k[0]%cacheShards {
			break
		}
	}
	c.Put(sameShard, &Entry{Claims: Claims{}, Kid: "k", Expires: later, Size: 128 * 1024}, now)
	if _, ok := c.Get(k, now); !ok {
		t.Fatal("an entry that could not fit evicted one that did")
	}
	if _, ok := c.Get(sameShard, now); ok {
		t.Fatal("an entry over the shard's bound was stored")
	}
}

func TestCacheShardsFillWholeCacheLines(t *testing.T) {
	if size := unsafe.Sizeof(cacheShard{}); size%cacheLine != 0 {
		t.Fatalf("a shard is %d bytes: not a whole number of %d-byte cache lines", size, cacheLine)
	}
}
