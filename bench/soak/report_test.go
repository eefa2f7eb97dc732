package main

import (
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

func TestReplaceSection(t *testing.T) {
	section := beginMark + "\n## Soak\nnew\n" + endMark + "\n"
	tests := map[string]struct{ doc, want string }{
		"empty file":       {"", beginMark + "\n## Soak\nnew\n" + endMark + "\n"},
		"no markers":       {"# Benchmarks\n\ntable\n", "# Benchmarks\n\ntable\n\n" + beginMark + "\n## Soak\nnew\n" + endMark + "\n"},
		"replaced":         {"# B\n\n" + beginMark + "\nold\n" + endMark + "\n\n## After\n", "# B\n\n" + beginMark + "\n## Soak\nnew\n" + endMark + "\n\n## After\n"},
		"end before begin": {endMark + "\n" + beginMark + "\n", endMark + "\n" + beginMark + "\n\n" + beginMark + "\n## Soak\nnew\n" + endMark + "\n"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := replaceSection(tt.doc, section); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestJudgeLeaks(t *testing.T) {
	const mb = 1 << 20
	series := func(goroutines []int, heapMiB []float64) []sample {
		var out []sample
		for i := range goroutines {
			out = append(out, sample{at: time.Duration(i) * sampleEvery, goroutines: goroutines[i], heapInuse: int64(heapMiB[i] * mb), calm: true})
		}
		return out
	}
	tests := map[string]struct {
		samples  []sample
		problems int
	}{
		"flat":                    {series([]int{30, 31, 29, 30, 32, 30}, []float64{10, 11, 10, 10, 11, 10}), 0},
		"goroutines within slack": {series([]int{30, 35, 38, 40, 39, 40}, []float64{10, 10, 10, 10, 10, 10}), 0},
		"goroutines leak":         {series([]int{30, 35, 38, 40, 41, 41}, []float64{10, 10, 10, 10, 10, 10}), 1},
		"heap within 8 MiB":       {series([]int{30, 30, 30, 30, 30, 30}, []float64{10, 10, 12, 15, 17, 18}), 0},
		"heap leak":               {series([]int{30, 30, 30, 30, 30, 30}, []float64{10, 10, 14, 18, 19, 20}), 1},
		"one spike is a median's": {series([]int{30, 30, 30, 30, 30, 30, 30, 30, 30}, []float64{10, 10, 10, 10, 10, 10, 10, 40, 10}), 0},
		"too few samples":         {series([]int{30, 30}, []float64{10, 10}), 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if v := judgeLeaks(tt.samples); len(v.problems) != tt.problems {
				t.Errorf("problems %q, want %d", v.problems, tt.problems)
			}
		})
	}
	// The goroutine baseline is the first sample taken in a quiet stretch.
	s := series([]int{45, 30, 30, 30, 30, 41}, []float64{10, 10, 10, 10, 10, 10})
	s[0].calm = false
	if v := judgeLeaks(s); v.goroutinesFirst != 30 || len(v.problems) != 1 {
		t.Errorf("baseline %d, problems %q: want the first calm sample (30) and a leak", v.goroutinesFirst, v.problems)
	}
}

func TestMarkdownNamesEveryModeAndKind(t *testing.T) {
	r := &result{opts: options{duration: time.Minute, tls: true}, date: time.Now(), elapsed: time.Minute,
		tally: newTally(time.Now(), func(string, ...any) {}), windows: map[faultjwks.Mode]int{}, served: map[faultjwks.Mode]int{}}
	md := r.markdown()
	if !strings.HasPrefix(md, beginMark+"\n") || !strings.HasSuffix(md, endMark+"\n") {
		t.Fatalf("markers missing:\n%s", md)
	}
	for _, m := range faultjwks.Faults() {
		if !strings.Contains(md, "| "+m.String()+" |") {
			t.Errorf("no row for mode %s", m)
		}
	}
	for k := range numKinds {
		if !strings.Contains(md, "| "+k.String()+" |") {
			t.Errorf("no row for kind %s", k)
		}
	}
}
