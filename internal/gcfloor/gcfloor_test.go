package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for name, c := range map[string]struct {
		floor, live, roots uint64
		want               int
	}{
		"off":                          {0, 2 * mib, 4 * mib, 100},
		"nothing known yet":            {16 * mib, 0, 0, 100},
		"2 MiB live, 4 MiB roots":      {16 * mib, 2 * mib, 4 * mib, 233},
		"small roots: the 4 MiB term":  {8 * mib, 1 * mib, 0, 200},
		"the target at 100 reaches it": {16 * mib, 6 * mib, 4 * mib, 100},
		"large live heap":              {16 * mib, 30 * mib, 4 * mib, 100},
		"bounded":                      {1 << 40, 1, 0, maxPercent},
		"just under the floor at 100":  {16 * mib, 5 * mib, 5*mib + 1, 109},
	} {
		t.Run(name, func(t *testing.T) {
			if got := Percent(c.floor, c.live, c.roots); got != c.want {
				t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.floor, c.live, c.roots, got, c.want)
			}
			if c.live == 0 || c.want == 100 || c.want == maxPercent {
				return
			}
			// The runtime's target for that GOGC is the floor or under it.
			p := uint64(c.want)
			if target := max(c.live+(c.live+c.roots)*p/100, runtimeHeapMinimum*p/100); target > c.floor {
				t.Errorf("target %d over the floor %d", target, c.floor)
			}
		})
	}
}

// TestStart: after collections GOGC is the floor's for the live heap; back at 100 with the
// floor off; the environment's GOGC leaves everything as it is; a memory limit bounds the
// floor.
func TestStart(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	Start(64 << 20)
	for range 100 {
		runtime.GC() // each collection's finalizer sets GOGC from the live heap it left
		if percent.Load() > 100 {
			break
		}
	}
	if p := percent.Load(); p <= 100 {
		t.Fatalf("GOGC %d with a 64 MiB floor and a small live heap, want more than 100", p)
	}
	Start(0)
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GOGC %d with the floor off, want 100", p)
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(100 << 20))
	Start(64 << 20)
	if f := floor.Load(); f != 25<<20 {
		t.Fatalf("floor %d MiB under a 100 MiB memory limit, want 25", f>>20)
	}
	Start(0)
	t.Setenv("GOGC", "50")
	Start(64 << 20)
	if floor.Load() != 0 {
		t.Fatal("the floor was set although GOGC is")
	}
}
