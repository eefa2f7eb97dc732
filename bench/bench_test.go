package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchRuns proves `make bench` works end to end, with tiny runs. It asserts nothing about
// speed: benchmarks report numbers, tests check behaviour.
func TestBenchRuns(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "betterauthz")
	if out, err := exec.Command("make", "-C", "..", "build-static", "STATIC_OUT="+bin).CombinedOutput(); err != nil {
		t.Fatalf("make build-static: %v\n%s", err, out)
	}
	self := filepath.Join(dir, "bench")
	if out, err := exec.Command("go", "build", "-o", self, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	report := filepath.Join(dir, "benchmarks.md")
	cmd := exec.Command(self, "-duration", "300ms", "-users", "20", "-cached", "100", "-sessions", "3", "-sidecars", "10", "-out", report, "-betterauthz", bin)
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 1 floor (saturating) | floor |", "| 2 warm (one token, cache hits) | betterauthz |",
		"| 3 cold ES512 | betterauthz (cache off) |", "| 3 cold EdDSA | golang-jwt + keyfunc only |", "4 mixed (20 users",
		"memory after 100 distinct tokens", "warm check CPU ≤ the floor's (efficiency ≥ 1.0 ×", "HTTP check mode: warm check CPU ≤ the HTTP floor's", "cold (EdDSA) check CPU ≤ golang-jwt + keyfunc only",
		"| 0 idle (file config, keys loaded, no check yet) | betterauthz | — |", "idle RSS ≤ 24 MiB", "RSS ≤ 48 MiB with 100 cached tokens",
		"static binary ≤ 30 MiB", "≤ 1.5 × the floor's p99 at that rate", "generator p99 lateness",
		"| 6 HTTP floor (saturating) | HTTP floor |", "| 6 HTTP warm (cache hits, /check) | betterauthz |",
		"| 7 warm over a Unix socket | betterauthz (Unix socket) |", "warm over a Unix socket against TCP loopback",
		"| 8 session cookie (cache hits) | betterauthz |", "| 8 session tokens (3 sessions, lookups cached) | betterauthz |",
		"| 8 session cookie (cache off: each verified) | betterauthz (cache off) |",
		"| 9 warm, tracing on (every check a span, OTLP/gRPC) | betterauthz (tracing on) |", "warm with every check traced against tracing off",
		"## JWKS relay: sidecars through a key rotation", "| 10 | direct | 10 | 10 | — |", "| 10 | through the relay | 1 | 1 | 10 |"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "errors |") { // a row's note: "N gRPC errors" or "N errors" (HTTP)
		t.Errorf("the benchmark saw errors:\n%s", b)
	}
}
