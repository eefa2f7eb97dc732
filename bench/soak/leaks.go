package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sampleEvery is the leak sampling period.
const sampleEvery = 10 * time.Second

// Growth allowed before a leak is declared.
//
// Goroutines: the last sample may exceed the first calm one by goroutineSlack or 10 %,
// whichever is more. Samples are taken with the load paused and no check in flight, so what
// still varies is betterauthz's own transient work — a pending or running JWKS fetch (a
// goroutine or two), the HTTP client's connections to the JWKS (two goroutines each, up to two
// idle) — a handful at most. A goroutine left behind per fetch, per fault or per reload passes
// the slack within minutes of a soak.
//
// Heap: the median of the last third of the samples may exceed the median of the first third
// by 25 % or heapSlackBytes, whichever is more. Each sample follows a forced GC, so it is the
// live heap, not garbage; the medians keep one sample caught mid-reload (two compiled configs
// alive for a moment) from deciding. What may grow legitimately is bounded: the verified-token
// cache (a few hundred tokens here), the refusal cache (an eighth of the entries), the
// negative kid cache (10,000 kids at most, its map never shrinking), buffers sized by the
// largest JWKS seen. 8 MiB is above all of those together at this load; 25 % covers a heap that
// is larger to begin with. The price is sensitivity: a leak per check (a thousand a second)
// passes the limit within a minute, but a leak per JWKS fetch (one a second) must be over about
// 2 KiB a fetch to show within an hour — the reason `make soak SOAK=1h` exists, and why the
// goroutine count, which is exact, is checked too.
const (
	goroutineSlack = 10
	heapSlackBytes = 8 << 20
)

// sample is one measurement of the process.
type sample struct {
	at         time.Duration // since the start
	goroutines int
	heapInuse  int64
	rss        int64
	calm       bool // taken in a quiet stretch (no fault for settle)
}

// sampler measures betterauthz every sampleEvery after the warm-up.
type sampler struct {
	b     *betterauthz
	load  *load
	tl    *timeline
	start time.Time
	fail  func(category, detail string)

	mu      sync.Mutex
	samples []sample
}

func (s *sampler) run(ctx context.Context, warmup time.Duration) {
	if !sleep(ctx, warmup) {
		return
	}
	for {
		if err := s.take(); err != nil {
			s.fail("leak sample failed", err.Error())
		}
		if !sleep(ctx, sampleEvery) {
			return
		}
	}
}

// take pauses the load until no check is in flight, then reads the goroutine count and the
// heap (after a GC) from pprof and the RSS from /proc.
func (s *sampler) take() error {
	s.load.gate.Lock()
	defer s.load.gate.Unlock()
	// The last answers are on their way out of betterauthz's gRPC handlers.
	time.Sleep(100 * time.Millisecond)
	now := time.Now()
	smp := sample{at: now.Sub(s.start), calm: s.tl.now().quietAt(now)}
	text, err := s.b.get("/debug/pprof/goroutine?debug=1")
	if err != nil {
		return err
	}
	if smp.goroutines, err = goroutineTotal(text); err != nil {
		return err
	}
	// gc=1 runs a collection before the profile, so HeapInuse is the live heap.
	if text, err = s.b.get("/debug/pprof/heap?gc=1&debug=1"); err != nil {
		return err
	}
	if smp.heapInuse, err = heapInuse(text); err != nil {
		return err
	}
	smp.rss = s.b.rss()
	s.mu.Lock()
	s.samples = append(s.samples, smp)
	s.mu.Unlock()
	return nil
}

// taken is the samples so far.
func (s *sampler) taken() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

// goroutineTotal reads "goroutine profile: total N", the first line of ?debug=1.
func goroutineTotal(text string) (int, error) {
	first, _, _ := strings.Cut(text, "\n")
	v, ok := strings.CutPrefix(first, "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("goroutine profile starts %q", first)
	}
	return strconv.Atoi(strings.TrimSpace(v))
}

// heapInuse reads "# HeapInuse = N" from the heap profile's ?debug=1 text.
func heapInuse(text string) (int64, error) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapInuse = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no HeapInuse in the heap profile")
}

// leakVerdict compares the samples.
type leakVerdict struct {
	n                         int
	goroutinesFirst           int
	goroutinesLast            int
	goroutineLimit            int
	heapFirstMed, heapLastMed int64
	heapLimit                 int64
	rssFirst, rssLast         int64
	problems                  []string
}

func judgeLeaks(samples []sample) leakVerdict {
	v := leakVerdict{n: len(samples)}
	if len(samples) < 3 {
		v.problems = append(v.problems, fmt.Sprintf("only %d leak samples: run longer (a sample every %s after the warm-up)", len(samples), sampleEvery))
		return v
	}
	base := samples[0]
	for _, s := range samples {
		if s.calm {
			base = s
			break
		}
	}
	last := samples[len(samples)-1]
	v.goroutinesFirst, v.goroutinesLast = base.goroutines, last.goroutines
	v.goroutineLimit = base.goroutines + max(goroutineSlack, base.goroutines/10)
	if last.goroutines > v.goroutineLimit {
		v.problems = append(v.problems, fmt.Sprintf("goroutines grew from %d to %d (limit %d)", base.goroutines, last.goroutines, v.goroutineLimit))
	}
	third := len(samples) / 3
	v.heapFirstMed = median(samples[:third])
	v.heapLastMed = median(samples[len(samples)-third:])
	v.heapLimit = v.heapFirstMed + max(v.heapFirstMed/4, heapSlackBytes)
	if v.heapLastMed > v.heapLimit {
		v.problems = append(v.problems, fmt.Sprintf("heap in use grew from a median of %s to %s (limit %s)", mib(v.heapFirstMed), mib(v.heapLastMed), mib(v.heapLimit)))
	}
	v.rssFirst, v.rssLast = samples[0].rss, last.rss
	return v
}

func median(ss []sample) int64 {
	h := make([]int64, len(ss))
	for i, s := range ss {
		h[i] = s.heapInuse
	}
	slices.Sort(h)
	if len(h)%2 == 1 {
		return h[len(h)/2]
	}
	return (h[len(h)/2-1] + h[len(h)/2]) / 2
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
