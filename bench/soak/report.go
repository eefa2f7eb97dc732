package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

// The soak's section of docs/benchmarks.md lies between these markers; the rest of the file is
// make bench's.
const (
	beginMark = "<!-- soak:begin -->"
	endMark   = "<!-- soak:end -->"
)

// result is everything the report says.
type result struct {
	opts      options
	date      time.Time
	machine   string
	elapsed   time.Duration
	tally     *tally
	windows   map[faultjwks.Mode]int
	served    map[faultjwks.Mode]int
	followed  int
	jwksHits  int
	reloads   int
	applied   int
	rotations int
	retired   int
	fetchOK   float64
	fetchErr  float64
	leaks     leakVerdict
	logs      logSummary
	attacker  string // the attacker's kid
	problems  []string
}

func (r *result) wrongTotal() int {
	n := 0
	for _, c := range r.tally.wrong {
		n += c
	}
	for _, c := range r.tally.failures {
		n += c
	}
	return n
}

func (r *result) passed() bool {
	return r.wrongTotal() == 0 && len(r.leaks.problems) == 0 && len(r.problems) == 0 && len(r.logs.leaks) == 0
}

// markdown is the report, markers included.
func (r *result) markdown() string {
	var b strings.Builder
	t := r.tally
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("%s\n## Soak\n\n", beginMark)
	transport := "HTTP"
	if r.opts.tls {
		transport = "HTTPS with its own CA"
	}
	w("Measured by `make soak SOAK=%s` on %s, %s: the `make build` binary behind a fault JWKS server (`internal/testenv/faultjwks`, %s) in front of the repository's Better Auth, with `jwksRefreshInterval: 10s`. Load: %d gRPC connections; %d workers pacing tokens of real keys at %.0f checks/s in all, %d pacing tokens of kids betterauthz must not hold at %.0f/s, and %d sending never-seen kids back to back (so betterauthz fetches the JWKS about once a second). Chaos: phases of %d faults (%s each, Hang and SlowDrip %s; Normal for %s between, %s after those two), then %s of calm; config reloads and key rotations in both. Answers are judged strictly once no fault has been active for %s.\n\n",
		r.opts.duration, r.date.UTC().Format("2006-01-02"), r.machine, transport,
		r.opts.conns, r.opts.workers, r.opts.rate, r.opts.probeWorkers, r.opts.probeRate, r.opts.bogusWorkers,
		faultsPerPhase, faultFor, slowFaultFor, faultGap, slowFaultGap, calmFor, settle)
	verdict := "**passed**"
	if !r.passed() {
		verdict = "**FAILED**"
	}
	w("Result: %s — %d wrong decisions, %d leak findings.\n\n", verdict, r.wrongTotal(), len(r.leaks.problems))

	faults, modes := 0, 0
	for _, n := range r.windows {
		faults += n
		if n > 0 {
			modes++
		}
	}
	w("| | |\n|---|---|\n")
	w("| duration | %s |\n", r.elapsed.Round(time.Second))
	w("| checks | %d (%.0f/s) |\n", t.total, float64(t.total)/r.elapsed.Seconds())
	w("| wrong decisions | %d |\n", r.wrongTotal())
	var relaxed []string
	var longest time.Duration
	for k := range numKinds {
		if t.relaxed[k] > 0 {
			relaxed = append(relaxed, fmt.Sprintf("%s %d (up to %.1fs after)", k, t.relaxed[k], t.outlast[k].Seconds()))
			longest = max(longest, t.outlast[k])
		}
	}
	w("| answers right only because of a fault (a 503 while the JWKS was unusable, a 401 unknown_key after an empty set) | %s |\n", strings.Join(relaxed, " · "))
	w("| longest a fault's effect outlasted it (strict judging starts %s after a fault) | %.1fs |\n", settle, longest.Seconds())
	w("| JWKS fault windows | %d (%d of %d modes) |\n", faults, modes, len(faultjwks.Faults()))
	w("| config reloads | %d applied of %d |\n", r.applied, r.reloads)
	w("| key rotations | %d (%d keys retired) |\n", r.rotations, r.retired)
	w("| JWKS fetches by betterauthz | %.0f succeeded, %.0f failed; the fault server answered %d, %d of them at the redirect target |\n", r.fetchOK, r.fetchErr, r.jwksHits, r.followed)
	w("| goroutines (first calm sample → last, limit) | %d → %d (%d) |\n", r.leaks.goroutinesFirst, r.leaks.goroutinesLast, r.leaks.goroutineLimit)
	w("| heap in use after GC, median of first → last third (limit) | %s → %s (%s) |\n", mib(r.leaks.heapFirstMed), mib(r.leaks.heapLastMed), mib(r.leaks.heapLimit))
	w("| RSS (first sample → last) | %s → %s |\n", mib(r.leaks.rssFirst), mib(r.leaks.rssLast))
	w("| leak samples | %d, every %s after the warm-up |\n", r.leaks.n, sampleEvery)

	w("\n### Answers by token kind\n\n| kind | checks | answers |\n|---|---:|---|\n")
	for k := range numKinds {
		by := t.byKind[k]
		outcomes := slices.SortedFunc(maps.Keys(by), func(a, b string) int { return by[b] - by[a] })
		parts := make([]string, len(outcomes))
		for i, o := range outcomes {
			parts[i] = fmt.Sprintf("%s: %d", o, by[o])
		}
		w("| %s | %d | %s |\n", k, sum(by), strings.Join(parts, " · "))
	}

	w("\n### Slowest answer in quiet\n\n")
	var slow []string
	for k := range numKinds {
		slow = append(slow, fmt.Sprintf("%s %s", k, dur(t.slowest[k])))
	}
	w("The longest check judged in a quiet stretch took, per kind (the deadline is %s; a token of a kid betterauthz does not hold waits for the next JWKS fetch, at most a second apart): %s.\n", checkDeadline, strings.Join(slow, " · "))

	w("\n### Fault modes\n\n| mode | windows | JWKS requests answered in it |\n|---|---:|---:|\n")
	for _, m := range faultjwks.Faults() {
		note := ""
		if r.windows[m] > 0 && r.served[m] == 0 {
			note = " (no fetch met it)"
		}
		w("| %s | %d | %d%s |\n", m, r.windows[m], r.served[m], note)
	}

	w("\n### Wrong decisions\n\n")
	if r.wrongTotal() == 0 {
		w("None.\n")
	} else {
		w("| category | count |\n|---|---:|\n")
		for _, c := range slices.Sorted(maps.Keys(t.wrong)) {
			w("| %s | %d |\n", c, t.wrong[c])
		}
		for _, c := range slices.Sorted(maps.Keys(t.failures)) {
			w("| %s | %d |\n", c, t.failures[c])
		}
		w("\nFirst ones:\n\n")
		for _, e := range t.examples {
			w("- %s\n", e)
		}
	}
	for _, p := range append(slices.Clone(r.leaks.problems), r.problems...) {
		w("\n**%s**\n", p)
	}

	w("\n### From betterauthz's log\n\n")
	for _, msg := range []string{"jwks refresh failed; keeping the last good keys", "jwks key skipped", "jwks changed", "config file changed"} {
		w("- %q: %d lines\n", msg, r.logs.byMsg[msg])
	}
	w("- key-set loads or changes listing the attacker's kid: %d; the 1024-bit RSA kid: %d\n", r.logs.kids[r.attacker], r.logs.kids[faultjwks.KidWeakRSA])
	w("- ERROR lines: %d; lines with anything token-shaped: %d\n", len(r.logs.errors), len(r.logs.leaks))
	for _, l := range r.logs.leaks {
		w("  - token in the log: `%.200s`\n", l)
	}

	w("\nRerun: `make soak` (2 minutes), `make soak SOAK=1h` by hand; `SOAK_OUT=1` rewrites this section.\n%s\n", endMark)
	return b.String()
}

func dur(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// replaceSection puts section (markers included) in place of doc's marked section, or
// appends it when doc has none.
func replaceSection(doc, section string) string {
	section = strings.TrimSuffix(section, "\n")
	i := strings.Index(doc, beginMark)
	j := strings.Index(doc, endMark)
	if i >= 0 && j > i {
		return doc[:i] + section + doc[j+len(endMark):]
	}
	if doc == "" {
		return section + "\n"
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + section + "\n"
}
