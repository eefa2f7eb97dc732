package scripts_test

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBuildStatic proves the binary the image would hold: `make build-static` (what the
// Dockerfile runs) gives a static, cgo-free, trimmed, version-stamped binary without gRPC's
// x/net/trace (grpcnotrace) that runs.
func TestBuildStatic(t *testing.T) {
	out := filepath.Join(t.TempDir(), "betterauthz")
	cmd := exec.Command("make", "-C", "..", "build-static", "STATIC_OUT="+out, "VERSION=v9.9.9-test", "COMMIT=abc123")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build-static: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked (it has an ELF interpreter)")
		}
	}
	info, err := exec.Command("go", "version", "-m", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath=true", "-tags=grpcnotrace"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("build info lacks %s:\n%s", want, info)
		}
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^betterauthz v9\.9\.9-test \(commit abc123, go1\.\S+ linux/\w+\)\n$`).Match(v) {
		t.Errorf("version: %q", v)
	}
}
