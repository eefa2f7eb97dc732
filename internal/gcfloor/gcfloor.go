// Package gcfloor keeps the garbage collector's heap target from falling below a floor.
//
// The Go runtime starts a collection when the heap has grown by GOGC percent (100) of what the
// last one had to scan — the live heap, the goroutine stacks and the globals — and at 4 MiB at
// the least. betterauthz's live heap is a few MiB while
// it answers tens of thousands of checks a second, each leaving a few KiB of garbage (gRPC's
// stream and frames, the request's bytes): with that target the runtime collects dozens of
// times a second, and each collection has a fixed cost (the binary's globals, every
// goroutine's stack) that the checks pay for.
//
// A floor of F bytes raises GOGC while the heap target would be under F, so that the next
// collection starts near F; once the live heap is large enough for the target to reach F at
// GOGC 100, GOGC is back at 100 and the floor changes nothing. The heap then reaches at most
// max(F, the runtime's own target) — a few MiB more than the runtime alone would let it, and
// only under load.
package gcfloor

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// runtimeHeapMinimum is the Go runtime's smallest heap target at GOGC=100 (defaultHeapMinimum,
// 4 MiB), which it scales by GOGC/100.
const runtimeHeapMinimum = 4 << 20

// maxPercent bounds the GOGC the floor sets.
const maxPercent = 1000

var (
	once    sync.Once
	floor   atomic.Uint64
	percent atomic.Int64 // the GOGC last set (0: none yet)
)

// Start keeps the heap target at bytes or more, for the life of the process: after each
// collection it sets GOGC from what the collection left. A second call changes the floor; 0
// turns it off (GOGC 100). It does nothing when the process's environment sets GOGC (which
// the runtime read): the operator's choice wins. A memory limit (GOMEMLIMIT) still holds, and
// the floor stays under a quarter of it.
func Start(bytes uint64) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		bytes = min(bytes, uint64(limit)/4)
	}
	floor.Store(bytes)
	once.Do(arm)
	adjust()
}

// sentinel is garbage from its birth: its finalizer runs after the collection that finds it,
// which adjusts GOGC and makes the next sentinel. (Large enough not to share a tiny block.)
type sentinel struct{ _ [16]uintptr }

func arm() {
	runtime.SetFinalizer(new(sentinel), func(*sentinel) {
		adjust()
		arm()
	})
}

var (
	sampleMu sync.Mutex
	samples  = []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}
)

// adjust sets GOGC for what the last collection left. One at a time: the GOGC remembered is
// always the runtime's.
func adjust() {
	sampleMu.Lock()
	defer sampleMu.Unlock()
	metrics.Read(samples)
	var v [3]uint64
	for i, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	p := Percent(floor.Load(), v[0], v[1]+v[2])
	if percent.Swap(int64(p)) != int64(p) {
		debug.SetGCPercent(p)
	}
}

// Percent is the GOGC that puts the heap target at floor, for a live heap of live bytes and
// roots (stacks and globals) of roots bytes: 100 when the target at 100 reaches the floor
// already, or nothing is known yet. The runtime's target is
//
//	max(live + (live + roots) × GOGC/100, 4 MiB × GOGC/100)
//
// so GOGC is also held to floor / 4 MiB × 100, else the second term would overshoot the floor.
func Percent(floor, live, roots uint64) int {
	scanned := live + roots
	if live == 0 || floor <= live+scanned {
		return 100
	}
	p := min((floor-live)*100/scanned, floor*100/runtimeHeapMinimum, maxPercent)
	return max(int(p), 100)
}
