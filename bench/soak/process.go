package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// betterauthz is the binary under test, run as a subprocess the way a pod runs it.
type betterauthz struct {
	cmd      *exec.Cmd
	grpcAddr string
	opsURL   string
	ops      *http.Client
	logs     *logWatch
	exited   chan struct{}
	exitErr  error
}

// startBetterauthz runs bin with the config file, trusting caFile (the fault server's CA) as
// its only roots, and waits until it is ready.
func startBetterauthz(bin, config, caFile, logPath string, watchKids ...string) (*betterauthz, error) {
	grpcPort, err := betterauth.FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := betterauth.FreePort()
	if err != nil {
		return nil, err
	}
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", grpcPort)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	// Debug: the kept log then shows every JWKS fetch, not only the failed ones and changes.
	cmd := exec.Command(bin, "--config", config, "--pprof", "--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--log-level", "debug")
	// SSL_CERT_FILE replaces the system roots for crypto/x509: the fault server's CA is then
	// trusted without a test hook in betterauthz.
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+caFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	logs, err := newLogWatch(logPath, watchKids...)
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logs.close()
		return nil, fmt.Errorf("start %s (make build): %w", bin, err)
	}
	b := &betterauthz{cmd: cmd, grpcAddr: grpcAddr, opsURL: "http://" + httpAddr, logs: logs,
		ops: &http.Client{Timeout: 20 * time.Second}, exited: make(chan struct{})}
	go func() {
		logs.read(stderr)
		b.exitErr = cmd.Wait()
		close(b.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := b.ops.Get(b.opsURL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		select {
		case <-b.exited:
			return nil, fmt.Errorf("betterauthz exited at start: %v (log: %s)", b.exitErr, logPath)
		default:
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("betterauthz was not ready within 30s (log: %s)", logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// running reports whether the process is still up.
func (b *betterauthz) running() bool {
	select {
	case <-b.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits; the exit status of a graceful stop is part of the verdict.
func (b *betterauthz) stop() error {
	if !b.running() {
		return fmt.Errorf("betterauthz had already exited: %v", b.exitErr)
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
		return fmt.Errorf("betterauthz did not stop within 30s of SIGTERM")
	}
	b.logs.close()
	if b.exitErr != nil {
		return fmt.Errorf("betterauthz exited with %v after SIGTERM", b.exitErr)
	}
	return nil
}

// get fetches an ops-port path.
func (b *betterauthz) get(path string) (string, error) {
	resp, err := b.ops.Get(b.opsURL + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return string(body), nil
}

func (b *betterauthz) metrics() (string, error) { return b.get("/metrics") }

// rss is the process's resident set size (VmRSS), in bytes.
func (b *betterauthz) rss() int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// metricSum adds up the samples of metric name whose labels contain every one of labels
// (each as `key="value"`), in Prometheus text format.
func metricSum(text, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(rest, l) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if i := strings.LastIndexByte(rest, ' '); i >= 0 {
			v, _ := strconv.ParseFloat(rest[i+1:], 64)
			sum += v
		}
	}
	return sum
}

// logWatch reads betterauthz's JSON log. It counts lines by message, writes every line but
// the per-check decision lines to a file (a soak hour of those would be gigabytes), and looks
// for anything token-shaped: a log line must never carry a credential.
type logWatch struct {
	mu     sync.Mutex
	file   *os.File
	byMsg  map[string]int
	leaks  []string // lines with something token-shaped
	errors []string // ERROR-level lines
	// kids counts the key-set loads and changes that listed each watched kid: whether
	// betterauthz ever installed the attacker's key or the 1024-bit one.
	kids map[string]int
}

func newLogWatch(path string, watchKids ...string) (*logWatch, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	l := &logWatch{file: f, byMsg: map[string]int{}, kids: map[string]int{}}
	for _, k := range watchKids {
		l.kids[k] = 0
	}
	return l, nil
}

func (l *logWatch) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var rec struct {
			Msg   string `json:"msg"`
			Level string `json:"level"`
		}
		_ = json.Unmarshal(line, &rec)
		l.mu.Lock()
		l.byMsg[rec.Msg]++
		// Every JWT the load sends starts with a base64url {"alg": header.
		if bytes.Contains(line, []byte("eyJhbGciOi")) && len(l.leaks) < 5 {
			l.leaks = append(l.leaks, string(line))
		}
		if rec.Level == "ERROR" && len(l.errors) < 20 {
			l.errors = append(l.errors, string(line))
		}
		if rec.Msg == "jwks loaded" || rec.Msg == "jwks changed" {
			for k := range l.kids {
				if bytes.Contains(line, []byte(`"`+k+`"`)) {
					l.kids[k]++
				}
			}
		}
		if rec.Msg != "decision" && l.file != nil {
			_, _ = l.file.Write(append(line, '\n'))
		}
		l.mu.Unlock()
	}
}

func (l *logWatch) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_ = l.file.Close()
		l.file = nil
	}
}

// logSummary is what the log showed.
type logSummary struct {
	byMsg, kids   map[string]int
	leaks, errors []string
}

func (l *logWatch) summary() logSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return logSummary{byMsg: maps.Clone(l.byMsg), kids: maps.Clone(l.kids),
		leaks: slices.Clone(l.leaks), errors: slices.Clone(l.errors)}
}
