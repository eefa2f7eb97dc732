package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// The HTTP check mode is measured as the gRPC one is: closed loop, the same tokens, against a
// no-op HTTP auth service (the HTTP floor) on the same net/http stack.

// serveHTTPFloor ("bench httpfloor") answers every check 200 with identity headers, as a
// forward-auth service that decides nothing would.
func serveHTTPFloor(args []string) error {
	fs := flag.NewFlagSet("httpfloor", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof here (bench -profile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pprofAddr != "" {
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }() //nolint:gosec // loopback, bench only
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-User-Id", "u1")
		w.Header().Set("X-User-Email", "a@example.com")
		w.Header().Set("X-User-Name", "Bench User")
		w.WriteHeader(http.StatusOK)
	})}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Println(lis.Addr().String())
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startHTTPFloor runs this binary as the HTTP floor.
func (b *bench) startHTTPFloor() (*process, error) {
	args := []string{"httpfloor", "--addr", fmt.Sprintf("127.0.0.1:%d", freePort())}
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
		return nil, fmt.Errorf("httpfloor: %w", err)
	}
	addr := line[:len(line)-1]
	return &process{name: "HTTP floor", cmd: cmd, checkAddr: addr, opsAddr: opsAddr}, nil
}

// closedLoopHTTP keeps `concurrency` forward-auth calls in flight for d, over keep-alive
// connections, as a proxy's pool to its auth service would.
func closedLoopHTTP(addr string, tokens []string, concurrency int, d time.Duration) loadResult {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, DisableCompression: true}}
	defer client.CloseIdleConnections()
	return closedLoopOf(concurrency, d, 11, func(rng *rand.Rand) (bool, error) {
		status, err := forwardAuthCall(client, addr, tokens[rng.IntN(len(tokens))])
		return err == nil && status != http.StatusOK, err
	})
}

// forwardAuthCall asks as Traefik's forwardAuth does.
func forwardAuthCall(client *http.Client, addr, token string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/check", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "api.example.com")
	req.Header.Set("X-Forwarded-Uri", "/api/orders?page=2")
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// measureHTTP runs HTTP load against p's check endpoint and records a row.
func (b *bench) measureHTTP(scenario string, p *process, tokens []string) (row, error) {
	closedLoopHTTP(p.checkAddr, tokens, 4, 300*time.Millisecond) // warm connections and cache
	cpu0, t0 := p.cpuSeconds(), time.Now()
	res := closedLoopHTTP(p.checkAddr, tokens, b.o.concurrency, b.o.duration)
	cpu := (p.cpuSeconds() - cpu0) / time.Since(t0).Seconds()
	r := row{scenario: scenario, server: p.name, res: res, cpu: cpu}
	r.rss, r.anon = p.rss()
	if res.errors > 0 {
		r.note = fmt.Sprintf("%d errors", res.errors)
	}
	b.rows = append(b.rows, r)
	log("%-34s %-26s %9.0f req/s  p50 %-9s p99 %-9s cpu %.2f", scenario, p.name, res.rate(),
		res.percentile(50).Round(time.Microsecond), res.percentile(99).Round(time.Microsecond), cpu)
	return r, nil
}

// pairHTTP is pair for the HTTP check endpoint.
func (b *bench) pairHTTP(a, c *process, tokens []string) paired {
	var p paired
	for range pairRounds {
		p.add(b.runHTTP(a, tokens), b.runHTTP(c, tokens))
	}
	log("pair %s / %s over HTTP: CPU per check %.2f ×", a.name, c.name, p.median())
	return p
}

// runHTTP is one closed-loop run against p's check endpoint.
func (b *bench) runHTTP(p *process, tokens []string) measured {
	closedLoopHTTP(p.checkAddr, tokens, 4, 300*time.Millisecond)
	cpu0 := p.cpuSeconds()
	res := closedLoopHTTP(p.checkAddr, tokens, b.o.concurrency, b.o.duration)
	return measured{rate: res.rate(), cpuPerCheck: (p.cpuSeconds() - cpu0) / float64(max(res.requests, 1))}
}
