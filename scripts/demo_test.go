package scripts_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// TestDemo runs the README's demo (scripts/demo.sh, what `make demo` runs) end to end on free
// ports, with DEMO_EXIT=1 so that it stops after its checks.
func TestDemo(t *testing.T) {
	if err := betterauth.Install(); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "betterauthz")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/betterauthz").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var ports [3]int
	for i := range ports {
		p, err := betterauth.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	cmd := exec.Command("./demo.sh")
	cmd.Env = append(os.Environ(), "DEMO_EXIT=1", "BETTERAUTHZ_BIN="+bin,
		fmt.Sprintf("DEMO_AUTH_PORT=%d", ports[0]), fmt.Sprintf("DEMO_GRPC_PORT=%d", ports[1]), fmt.Sprintf("DEMO_HTTP_PORT=%d", ports[2]))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	for _, want := range []string{"ALLOWED (gRPC OK)", "x-user-id: ", "DENIED 401", "demo finished"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "spoofed  [") {
		t.Error("the spoofed x-user-id survived")
	}
}

// TestDemoBuildsOnlyWhatItNeeds: `make demo` needs the binary and Better Auth's node packages,
// not the Kubernetes tools the tests build (minutes on a fresh machine).
func TestDemoBuildsOnlyWhatItNeeds(t *testing.T) {
	out, err := exec.Command("make", "-C", "..", "-n", "-B", "demo").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n demo: %v\n%s", err, out)
	}
	for _, want := range []string{"go build", "npm ci", "./scripts/demo.sh"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make demo would not run %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "build-tools.sh") {
		t.Errorf("make demo builds the Kubernetes tools:\n%s", out)
	}
	if strings.Contains(string(out), "system-deps.sh") {
		t.Errorf("make demo waits for the system packages:\n%s", out)
	}
}

// TestExampleBuildsOnlyWhatItNeeds: `make example` installs nginx and the app's Python packages
// (system-deps.sh example: not Chromium or promtool), and builds no Kubernetes tools; `make
// test-deps` installs the Python packages too, since the example's test runs the app.
func TestExampleBuildsOnlyWhatItNeeds(t *testing.T) {
	out, err := exec.Command("make", "-C", "..", "-n", "-B", "example").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n example: %v\n%s", err, out)
	}
	for _, want := range []string{"go build", "npm ci", "./scripts/system-deps.sh example", "./scripts/example.sh"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make example would not run %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "build-tools.sh") {
		t.Errorf("make example builds the Kubernetes tools:\n%s", out)
	}
	deps, err := os.ReadFile("system-deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	body := string(deps)[strings.Index(string(deps), "\nneed=()"):]
	example, tests, _ := strings.Cut(body, `if [ "${1:-}" != example ]; then`)
	for _, pkg := range []string{"nginx", "python3-fastapi", "python3-uvicorn", "python3-sqlmodel"} {
		if !strings.Contains(example, pkg) {
			t.Errorf("system-deps.sh example does not install %s", pkg)
		}
	}
	for _, pkg := range []string{"chromium", "prometheus"} {
		if strings.Contains(example, pkg) || !strings.Contains(tests, pkg) {
			t.Errorf("%s: not for the example, and for the tests only", pkg)
		}
	}
	if out, err := exec.Command("make", "-C", "..", "-n", "-B", "test-deps").CombinedOutput(); err != nil || !strings.Contains(string(out), "./scripts/system-deps.sh\n") {
		t.Errorf("make test-deps does not run system-deps.sh for everything: %v\n%s", err, out)
	}
}
