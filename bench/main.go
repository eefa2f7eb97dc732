// Command bench is betterauthz's end-to-end benchmark (`make bench`): real gRPC CheckRequests
// on loopback, tokens minted by the repository's real Better Auth server, betterauthz run as
// the static binary the image holds, measured against two yardsticks run the same way — a
// no-op ext_authz server (the floor) and one that only calls golang-jwt + keyfunc per request.
// It writes docs/benchmarks.md.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "floor" || os.Args[1] == "jwtonly") {
		if err := serveYardstick(os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "httpfloor" {
		if err := serveHTTPFloor(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		if err := relayOnly(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "load" {
		if err := loadOnly(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration    time.Duration
	concurrency int
	conns       int
	users       int
	cached      int
	sessions    int
	out         string
	bin         string
	self        string
	pin         bool
	sidecars    []int  // the relay scenario's counts of sidecars
	efficiency  bool   // only the efficiency pairs, printed
	profile     string // with efficiency: write CPU profiles of a warm run of each server here
	abEnv       string // with efficiency: also compare betterauthz run with this environment to plain
}

func run(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	var o options
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of each measured run")
	fs.IntVar(&o.concurrency, "concurrency", 64, "checks in flight in the closed-loop runs")
	fs.IntVar(&o.conns, "conns", 4, "gRPC connections (as from this many Envoys)")
	fs.IntVar(&o.users, "users", 1000, "distinct users in the mixed run")
	fs.IntVar(&o.cached, "cached", 10000, "distinct tokens cached before measuring memory")
	fs.IntVar(&o.sessions, "sessions", 50, "browser sessions (signed in over Better Auth's HTTP API) in the session runs")
	fs.StringVar(&o.out, "out", "docs/benchmarks.md", "report file (empty: stdout only)")
	fs.StringVar(&o.bin, "betterauthz", "bin/betterauthz-static", "betterauthz binary (make build-static)")
	sidecars := fs.String("sidecars", "10,100,1000", "counts of simulated sidecars in the JWKS relay scenario (empty: skip it)")
	fs.BoolVar(&o.efficiency, "efficiency", false, "measure only the two efficiency ratios (warm gRPC and HTTP against their no-op servers), print them, write nothing")
	fs.StringVar(&o.profile, "profile", "", "with -efficiency: a directory to write CPU profiles of one more warm run of betterauthz and of each no-op server into")
	fs.StringVar(&o.abEnv, "ab", "", "with -efficiency: also compare, in interleaved pairs, betterauthz run with these environment variables (\"K=V K2=V2\") against betterauthz without them")
	fs.BoolVar(&o.pin, "pin", runtime.NumCPU() >= 2, "run the servers on the last CPU and the load generator on the others (taskset), so they do not preempt each other")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.sidecars, err = parseCounts(*sidecars); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o.self = self
	if o.pin {
		if _, err := exec.LookPath("taskset"); err != nil {
			log("taskset not found: not pinning CPUs")
			o.pin = false
		} else if err := pinSelf(); err != nil {
			return err
		}
	}

	log("starting the Better Auth server and minting tokens")
	// The cookie cache outlives every run: its cookies stay valid throughout.
	ba, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: time.Hour})
	if err != nil {
		return err
	}
	defer ba.Stop()
	tk, err := mintAll(ba, o)
	if err != nil {
		return err
	}

	b := &bench{o: o, ba: ba, tk: tk}
	if o.efficiency {
		return b.efficiencyOnly()
	}
	if err := b.runAll(); err != nil {
		return err
	}
	if b.relayRows, err = relayScenario(o.sidecars); err != nil {
		return err
	}
	report := b.report()
	fmt.Print(report)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(o.out, []byte(withSoakSection(o.out, report)), 0o644)
	}
	return nil
}

// withSoakSection appends to report the soak section (`make soak SOAK_OUT=1`, between its
// markers) that the file at path holds, so that rewriting the benchmarks keeps the soak's.
func withSoakSection(path, report string) string {
	const begin, end = "<!-- soak:begin -->", "<!-- soak:end -->"
	old, err := os.ReadFile(path)
	if err != nil {
		return report
	}
	i, j := strings.Index(string(old), begin), strings.Index(string(old), end)
	if i < 0 || j < i {
		return report
	}
	return strings.TrimRight(report, "\n") + "\n\n" + string(old[i:j+len(end)]) + "\n"
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// tokens are the inputs of every scenario.
type tokens struct {
	one     string            // a valid EdDSA token (warm)
	perAlg  map[string]string // one valid token per algorithm (cold)
	users   []string          // distinct users' valid tokens (mixed)
	invalid []string          // tampered tokens (mixed)
	many    []string          // distinct valid tokens (memory)
	// Browser sessions (cookie credentials, see cookie): each session's session-cache cookie,
	// and its session token cookie alone.
	sessionData, sessionTokens []string
}

// cookiePrefix marks a credential that requests sends as a Cookie header rather than a Bearer.
const cookiePrefix = "cookie:"

func cookie(header string) string { return cookiePrefix + header }

var algorithms = []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"}

func mintAll(ba *betterauth.Server, o options) (*tokens, error) {
	tk := &tokens{perAlg: map[string]string{}}
	for _, alg := range algorithms {
		m, err := ba.Mint(betterauth.MintOptions{Alg: alg})
		if err != nil {
			return nil, err
		}
		tk.perAlg[alg] = m.Token
	}
	tk.one = tk.perAlg["EdDSA"]
	var err error
	if tk.users, err = ba.Tokens("EdDSA", o.users); err != nil {
		return nil, err
	}
	for i, t := range tk.users[:max(1, len(tk.users)/9)] {
		// A flipped signature character: well-formed, known kid, refused after verification.
		sig := t[strings.LastIndexByte(t, '.')+1:]
		flip := byte('A')
		if sig[i%len(sig)] == 'A' {
			flip = 'B'
		}
		tk.invalid = append(tk.invalid, t[:len(t)-len(sig)]+sig[:i%len(sig)]+string(flip)+sig[i%len(sig)+1:])
	}
	if o.cached > 0 {
		if tk.many, err = ba.Tokens("EdDSA", o.cached); err != nil {
			return nil, err
		}
	}
	for i := range o.sessions {
		b := ba.NewBrowser()
		if err := b.SignUp(fmt.Sprintf("bench-%d-%d@example.com", time.Now().UnixNano(), i), "Bench User"); err != nil {
			return nil, err
		}
		data, token := b.Cookie("better-auth.session_data"), b.Cookie("better-auth.session_token")
		if data == "" || token == "" {
			return nil, fmt.Errorf("no session cookies from Better Auth: %q", b.CookieHeader())
		}
		tk.sessionData = append(tk.sessionData, cookie("theme=dark; better-auth.session_data="+data))
		tk.sessionTokens = append(tk.sessionTokens, cookie("theme=dark; better-auth.session_token="+token))
	}
	return tk, nil
}

// process is a server under test.
type process struct {
	name      string
	cmd       *exec.Cmd
	addr      string // gRPC
	checkAddr string // the HTTP check endpoint, when on
	opsAddr   string // the ops port (/debug/pprof with -profile), when on
}

func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// cpuSeconds is the process's user+system CPU time so far.
func (p *process) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// rss is the resident set size in bytes (VmRSS), and the part of it that is anonymous memory
// (RssAnon: the heap, stacks) rather than pages of the executable file.
func (p *process) rss() (total, anon int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	kb := func(v string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n << 10
	}
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			total = kb(v)
		}
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			anon = kb(v)
		}
	}
	return total, anon
}

func freePort() int {
	p, err := betterauth.FreePort()
	if err != nil {
		panic(err)
	}
	return p
}

// sessionsConfig turns browser sessions on: a Bearer request is decided before any cookie is
// looked at, so the token rows are unaffected.
const sessionsConfig = "sessions:\n  cookieCache: true\n  lookup: true\n  lookupTTL: 10m\n"

// startBetterauthz runs the betterauthz binary with a config; cacheEntries 0 turns the cache off.
func (b *bench) startBetterauthz(name string, cacheEntries int) (*process, error) {
	return b.startBetterauthzOn(name, cacheEntries, false)
}

// startBetterauthzOn is startBetterauthz with its gRPC port on a Unix socket when unix is set,
// and env (NAME=value) added to its environment.
func (b *bench) startBetterauthzOn(name string, cacheEntries int, unix bool, env ...string) (*process, error) {
	dir, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "betterAuthURL: %s\ncache:\n  maxEntries: %d\n%s", b.ba.URL, cacheEntries, sessionsConfig), 0o644); err != nil {
		return nil, err
	}
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", freePort())
	if unix {
		grpcAddr = "unix://" + filepath.Join(dir, "grpc.sock")
	}
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort())
	checkAddr := fmt.Sprintf("127.0.0.1:%d", freePort())
	args := []string{"--config", cfg, "--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--check-http-addr", checkAddr, "--log-level", "warn"}
	if b.o.profile != "" {
		args = append(args, "--pprof")
	}
	cmd := b.command(b.o.bin, args...)
	cmd.Stderr = os.Stderr
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (run make build-static): %w", b.o.bin, err)
	}
	p := &process{name: name, cmd: cmd, addr: grpcAddr, checkAddr: checkAddr, opsAddr: httpAddr}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ok := httpOK("http://" + httpAddr + "/readyz"); ok {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s never became ready", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startYardstick runs this binary as the floor or the golang-jwt + keyfunc server.
func (b *bench) startYardstick(kind string) (*process, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	args := []string{kind, "--addr", addr, "--jwks", b.ba.JWKSURL(), "--issuer", b.ba.URL, "--audience", b.ba.URL}
	var opsAddr string
	if b.o.profile != "" {
		opsAddr = fmt.Sprintf("127.0.0.1:%d", freePort())
		args = append(args, "--pprof", opsAddr)
	}
	cmd := b.command(b.o.self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return &process{name: kind, cmd: cmd, addr: strings.TrimSpace(line), opsAddr: opsAddr}, nil
}

// serverCPU is the CPU the servers are pinned to (the last one).
func serverCPU() string { return strconv.Itoa(runtime.NumCPU() - 1) }

// command starts a server, pinned to serverCPU when pinning.
func (b *bench) command(bin string, args ...string) *exec.Cmd {
	if !b.o.pin {
		return exec.Command(bin, args...)
	}
	return exec.Command("taskset", append([]string{"-c", serverCPU(), bin}, args...)...)
}

// pinSelf keeps the load generator (every thread of this process) off the servers' CPU.
func pinSelf() error {
	others := "0"
	if n := runtime.NumCPU(); n > 2 {
		others = "0-" + strconv.Itoa(n-2)
	}
	out, err := exec.Command("taskset", "-a", "-p", "-c", others, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset: %v: %s", err, out)
	}
	runtime.GOMAXPROCS(max(1, runtime.NumCPU()-1))
	return nil
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

// loadOnly ("bench load") drives one running server with one token, for profiling it.
func loadOnly(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9000", "gRPC address")
	token := fs.String("token", "", "bearer token")
	d := fs.Duration("duration", 10*time.Second, "how long")
	concurrency := fs.Int("concurrency", 64, "checks in flight (closed loop)")
	rate := fs.Float64("rate", 0, "checks per second (open loop; 0: closed loop)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := pinSelf(); err != nil {
		return err
	}
	c, err := dial(*addr, 4)
	if err != nil {
		return err
	}
	defer c.close()
	var r loadResult
	if *rate > 0 {
		r = openLoop(c, requests([]string{*token}), *rate, *d)
	} else {
		r = closedLoop(c, requests([]string{*token}), *concurrency, *d)
	}
	fmt.Printf("%.0f req/s, p50 %s, p99 %s, %d errors, %d denied\n", r.rate(), r.percentile(50), r.percentile(99), r.errors, r.denied)
	return nil
}
