// Command soak is betterauthz's soak test (`make soak`, not run in CI): the real binary, run as
// a subprocess, takes a steady mix of checks for a set time — valid, expired, tampered and
// forged tokens, tokens of unknown and of freshly rotated keys — while its JWKS misbehaves in
// every way internal/testenv/faultjwks knows, its config file is rewritten and Better Auth
// rotates and retires keys. Every answer is judged; any wrong decision fails the run, and so
// does growth in goroutines or live heap after the warm-up. It prints a markdown summary and,
// with -out, puts it in that file between <!-- soak:begin --> and <!-- soak:end -->.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

type options struct {
	duration     time.Duration
	warmup       time.Duration
	out          string
	bin          string
	conns        int
	workers      int
	probeWorkers int
	bogusWorkers int
	rate         float64
	probeRate    float64
	tls          bool
	keep         bool
}

// chaosTail is how long before the end the chaos stops, so that the last answers and the last
// leak sample come from a quiet betterauthz.
const chaosTail = settle + 5*time.Second

func run(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	var o options
	fs.DurationVar(&o.duration, "duration", 2*time.Minute, "how long to run")
	fs.DurationVar(&o.warmup, "warmup", 0, "time before the first leak sample (default: 20s or a tenth of -duration, whichever is longer)")
	fs.StringVar(&o.out, "out", "", "markdown file whose soak section to replace, e.g. docs/benchmarks.md (empty: stdout only)")
	fs.StringVar(&o.bin, "betterauthz", "bin/betterauthz", "betterauthz binary (make build)")
	fs.IntVar(&o.conns, "conns", 3, "gRPC connections (as from this many Envoys)")
	fs.IntVar(&o.workers, "workers", 6, "workers sending tokens of real keys: valid, rotated, expired, tampered, kid collisions")
	fs.Float64Var(&o.rate, "rate", 1000, "checks per second from those workers, in all")
	fs.IntVar(&o.probeWorkers, "probe-workers", 2, "workers sending tokens of kids betterauthz must not hold: reused bogus kids, the attacker's, the 1024-bit RSA key's")
	fs.Float64Var(&o.probeRate, "probe-rate", 100, "checks per second from those workers, in all")
	fs.IntVar(&o.bogusWorkers, "bogus-workers", 2, "workers sending never-seen kids back to back")
	fs.BoolVar(&o.tls, "tls", true, "serve the JWKS over HTTPS (betterauthz trusts the fault server's CA through SSL_CERT_FILE)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (config, betterauthz log) even when the run passes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.warmup == 0 {
		o.warmup = max(20*time.Second, o.duration/10)
	}
	if o.duration < o.warmup+3*sampleEvery || o.duration < chaosTail+30*time.Second {
		return fmt.Errorf("-duration %s is too short: it needs the warm-up (%s) and three leak samples %s apart", o.duration, o.warmup, sampleEvery)
	}
	if o.conns < 1 || o.workers < 1 || o.probeWorkers < 1 || o.bogusWorkers < 1 || o.rate <= 0 || o.probeRate <= 0 {
		return errors.New("-conns, -workers, -probe-workers, -bogus-workers, -rate and -probe-rate must be positive")
	}
	dir, err := os.MkdirTemp("", "soak-")
	if err != nil {
		return err
	}
	r, err := soak(o, dir)
	if err != nil {
		logf("work directory kept: %s", dir)
		return err
	}
	report := r.markdown()
	fmt.Print(report)
	if o.out != "" {
		if err := writeSection(o.out, report); err != nil {
			return err
		}
		logf("wrote the soak section of %s", o.out)
	}
	if !r.passed() {
		logf("work directory kept: %s (betterauthz.log, config.yaml)", dir)
		return fmt.Errorf("failed: %d wrong decisions, %d leak findings, %d other problems", r.wrongTotal(), len(r.leaks.problems), len(r.problems)+len(r.logs.leaks))
	}
	if o.keep {
		logf("work directory kept: %s", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	return nil
}

var runStart = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: +%s "+format+"\n", append([]any{time.Since(runStart).Round(100 * time.Millisecond)}, args...)...)
}

// soak sets everything up, runs it for o.duration and collects the result.
func soak(o options, dir string) (*result, error) {
	logf("starting the Better Auth server")
	ba, err := betterauth.Start()
	if err != nil {
		return nil, err
	}
	defer ba.Stop()
	var fj *faultjwks.Server
	if o.tls {
		fj, err = faultjwks.StartTLS(ba.JWKSURL(), dir)
	} else {
		fj, err = faultjwks.Start(ba.JWKSURL())
	}
	if err != nil {
		return nil, err
	}
	defer fj.Close()
	pool, err := newPool(ba, fj)
	if err != nil {
		return nil, err
	}

	cfgPath := filepath.Join(dir, "config.yaml")
	rl := &reloader{path: cfgPath, cfg: settings{betterAuthURL: ba.URL, jwksURL: fj.URL, skew: 30 * time.Second}, log: logf}
	if err := rl.write(); err != nil {
		return nil, err
	}
	attackerKid, _ := fj.AttackerKey()
	logf("starting %s (JWKS at %s)", o.bin, fj.URL)
	b, err := startBetterauthz(o.bin, cfgPath, fj.CAFile, filepath.Join(dir, "betterauthz.log"), attackerKid, faultjwks.KidWeakRSA)
	if err != nil {
		return nil, err
	}
	defer func() {
		if b.running() {
			_ = b.stop()
		}
	}()
	conns, err := dial(b.grpcAddr, o.conns)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	start := time.Now()
	t := newTally(start, logf)
	tl := newTimeline(fj)
	ld := &load{pool: pool, tl: tl, t: t}
	for _, c := range conns {
		ld.stubs = append(ld.stubs, authv3.NewAuthorizationClient(c))
	}
	rl.metrics, rl.fail = b.metrics, t.fail
	ch := &chaos{tl: tl, pool: pool, fj: fj, reload: rl, log: logf, fail: t.fail,
		windows: map[faultjwks.Mode]int{}, served: map[faultjwks.Mode]int{}}
	smp := &sampler{b: b, load: ld, tl: tl, start: start, fail: t.fail}

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	chaosCtx, stopChaos := context.WithTimeout(ctx, o.duration-chaosTail)
	defer stopChaos()
	logf("soaking for %s: %d workers at %.0f checks/s, %d probe workers at %.0f/s and %d bogus-kid workers over %d connections; leak samples from +%s",
		o.duration, o.workers, o.rate, o.probeWorkers, o.probeRate, o.bogusWorkers, o.conns, o.warmup)

	var wg sync.WaitGroup
	for i := range o.workers {
		wg.Go(func() { ld.paced(ctx, uint64(i), o.rate/float64(o.workers), &knownMix) })
	}
	for i := range o.probeWorkers {
		wg.Go(func() { ld.paced(ctx, uint64(50+i), o.probeRate/float64(o.probeWorkers), &unknownMix) })
	}
	for i := range o.bogusWorkers {
		wg.Go(func() { ld.bogus(ctx, uint64(100+i)) })
	}
	var bg sync.WaitGroup
	bg.Go(func() { ch.run(chaosCtx) })
	bg.Go(func() { smp.run(ctx, o.warmup) })
	bg.Go(func() { progress(ctx, t, smp) })
	var died error
	select {
	case <-ctx.Done():
	case <-b.exited:
		died = fmt.Errorf("betterauthz exited during the soak: %v", b.exitErr)
		cancel()
	}
	wg.Wait()
	bg.Wait()
	elapsed := time.Since(start)
	if died != nil {
		return nil, died
	}
	// The last sample, with the load stopped and the JWKS quiet for chaosTail.
	if err := smp.take(); err != nil {
		t.fail("leak sample failed", err.Error())
	}

	r := &result{opts: o, date: time.Now(), machine: machine(), elapsed: elapsed, tally: t,
		windows: ch.windows, served: ch.served, followed: fj.RedirectsFollowed(), jwksHits: fj.Requests(),
		reloads: rl.steps, applied: rl.applied, rotations: ch.rotations, retired: ch.retired,
		leaks: judgeLeaks(smp.taken()), attacker: attackerKid}
	if text, err := b.metrics(); err == nil {
		r.fetchOK = metricSum(text, "betterauthz_jwks_refreshes_total", `result="success"`)
		r.fetchErr = metricSum(text, "betterauthz_jwks_refreshes_total", `result="error"`)
	}
	if err := b.stop(); err != nil {
		r.problems = append(r.problems, err.Error())
	}
	r.logs = b.logs.summary()
	if n := len(r.logs.errors); n > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d ERROR lines in betterauthz's log, the first: %.300s", n, r.logs.errors[0]))
	}
	return r, nil
}

// progress logs a line per leak sample period.
func progress(ctx context.Context, t *tally, s *sampler) {
	for sleep(ctx, sampleEvery) {
		t.mu.Lock()
		total, wrong := t.total, sum(t.wrong)+sum(t.failures)
		t.mu.Unlock()
		line := fmt.Sprintf("%d checks, %d wrong", total, wrong)
		if taken := s.taken(); len(taken) > 0 {
			last := taken[len(taken)-1]
			line += fmt.Sprintf("; last sample: %d goroutines, heap %s, RSS %s", last.goroutines, mib(last.heapInuse), mib(last.rss))
		}
		logf("%s", line)
	}
}

// writeSection replaces the soak section of the file at path (or appends it).
func writeSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(replaceSection(string(old), section)), 0o644)
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s %s/%s", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
