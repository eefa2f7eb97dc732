// Package proxies runs real reverse proxies — nginx, Caddy and Traefik — as subprocesses for
// tests, each on a free loopback port with a config the test supplies, and records what an
// app behind them receives (Upstream).
//
// nginx is the system's (Debian's nginx package; .ci/run installs it); Caddy and Traefik are
// built from the Go module proxy by scripts/build-tools.sh into .cache/bin (pinned there). A
// proxy that cannot be found, built or started fails the test: the tests never skip.
//
// Configs name their addresses with placeholders, so that a shipped example file is exactly the
// file a test runs:
//
//	up := proxies.NewUpstream(t)
//	p := proxies.Start(t, proxies.Nginx, proxies.Config{Main: site}, proxies.Addrs{
//		Check: checkAddr, Upstream: up.Addr,
//	})
//	resp := proxies.Send(t, p.Addr, "GET", "/admin?x=1", http.Header{"Authorization": {"Bearer " + tok}})
package proxies

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// Kind names a proxy.
type Kind string

// The proxies Start runs.
const (
	Nginx   Kind = "nginx"
	Caddy   Kind = "caddy"
	Traefik Kind = "traefik"
)

// Placeholders that Render replaces in a config.
const (
	ListenPlaceholder   = "LISTEN_ADDR"            // where the proxy listens
	CheckPlaceholder    = "BETTERAUTHZ_CHECK_ADDR" // the auth service: betterauthz's --check-http-addr
	UpstreamPlaceholder = "UPSTREAM_ADDR"          // the app behind the proxy
)

// Addrs are the addresses a config is rendered with, each host:port.
type Addrs struct {
	Listen   string // the proxy's own (Start chooses it)
	Check    string
	Upstream string
}

// Render replaces the placeholders in config with a's addresses (an empty one is left alone).
func Render(config string, a Addrs) string {
	for placeholder, addr := range map[string]string{ListenPlaceholder: a.Listen, CheckPlaceholder: a.Check, UpstreamPlaceholder: a.Upstream} {
		if addr != "" {
			config = strings.ReplaceAll(config, placeholder, addr)
		}
	}
	return config
}

// Config is what a proxy runs.
type Config struct {
	// Main is the config proper. nginx: text for the http {} block (server blocks, maps), which
	// the harness includes from an nginx.conf of its own that keeps pid, temp files and logs in
	// the test's directory; Caddy: a Caddyfile, imported after global options of the harness
	// (admin endpoint off, storage in the test's directory, bound to loopback); Traefik: the
	// static configuration (YAML), run with the test's directory as working directory.
	Main string
	// Files are written next to Main, by name: Traefik's dynamic configuration, which the
	// static one names by a relative path.
	Files map[string]string
	// ReadyPath is requested until the proxy answers it with anything but 404 (Traefik
	// listens before its file provider has built the routers). Default "/".
	ReadyPath string
}

// Proxy is a running proxy.
type Proxy struct {
	Kind Kind
	Addr string // 127.0.0.1:PORT
	URL  string // http://Addr
	Dir  string // its config, pid and temp files

	cmd  *exec.Cmd
	done chan struct{}
	out  output
	once sync.Once
	err  error
}

// Start renders cfg with a (Listen chosen here, a free loopback port), starts the proxy and
// waits until it answers. It stops with the test; when the test fails, the proxy's output is
// logged.
func Start(t testing.TB, kind Kind, cfg Config, a Addrs) *Proxy {
	t.Helper()
	p, err := start(t.TempDir(), kind, cfg, a)
	if p != nil {
		t.Cleanup(func() {
			if err := p.Stop(); err != nil {
				t.Errorf("%s: %v", kind, err)
			}
			if t.Failed() {
				t.Logf("%s output:\n%s", kind, p.Output())
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func start(dir string, kind Kind, cfg Config, a Addrs) (*Proxy, error) {
	port, err := betterauth.FreePort()
	if err != nil {
		return nil, err
	}
	p := &Proxy{Kind: kind, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, done: make(chan struct{})}
	p.URL = "http://" + p.Addr
	a.Listen = p.Addr
	if kind == Caddy {
		// A Caddy site address with a host matches only that Host; the harness binds the
		// port to loopback instead (default_bind).
		a.Listen = fmt.Sprintf(":%d", port)
	}
	for name, text := range cfg.Files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(Render(text, a)), 0o644); err != nil {
			return nil, err
		}
	}
	args, err := prepare(kind, dir, Render(cfg.Main, a))
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	ready := cfg.ReadyPath
	if ready == "" {
		ready = "/"
	}
	if err := p.waitReady(ready, 30*time.Second); err != nil {
		return p, fmt.Errorf("%s did not start: %w\n%s", kind, err, p.Output())
	}
	return p, nil
}

// prepare writes the harness's own files around main and returns the command line.
func prepare(kind Kind, dir, main string) ([]string, error) {
	switch kind {
	case Nginx, IngressNginx:
		return prepareNginx(dir, main)
	case Caddy:
		return prepareCaddy(dir, main)
	case Traefik:
		return prepareTraefik(dir, main)
	}
	return nil, fmt.Errorf("proxies: unknown kind %q", kind)
}

func (p *Proxy) waitReady(path string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited: %v", p.err)
		default:
		}
		resp, err := send(p.Addr, "GET", path, nil, "")
		if err == nil && resp.Status != 404 {
			return nil
		}
		if err == nil {
			err = errors.New("404: not routed yet")
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not answering %s within %s: %v", path, within, last)
}

// Output is everything the proxy wrote to stdout and stderr (its logs), up to 1 MiB.
func (p *Proxy) Output() string { return p.out.String() }

// Stop ends the proxy (SIGTERM, then SIGKILL after 5 s) and waits for it. A proxy that exits
// on SIGTERM is not an error; one that had exited by itself is.
func (p *Proxy) Stop() error {
	var err error
	p.once.Do(func() {
		select {
		case <-p.done:
			err = fmt.Errorf("exited by itself: %v", p.err)
			return
		default:
		}
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM) //nolint:errcheck
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
			<-p.done
		}
	})
	return err
}

// binary returns the path of a tool built into .cache/bin by scripts/build-tools.sh, building
// it first if needed.
func binary(name string) (string, error) {
	root, err := betterauth.ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "build-tools.sh"), name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("proxies: scripts/build-tools.sh %s: %v\n%s", name, err, out)
	}
	return filepath.Join(root, ".cache", "bin", name), nil
}

// output is a concurrency-safe, bounded capture of a process's output.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.b.Len() < 1<<20 {
		o.b.Write(p)
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
