package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// TestSIGTERMDrainsAndExitsZero runs the real binary and sends it SIGTERM: readiness fails
// during the shutdown delay, then the process exits 0.
func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "betterauthz")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/betterauthz").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	grpcPort, _ := betterauth.FreePort()
	httpPort, _ := betterauth.FreePort()
	readyz := fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort)
	cmd := exec.Command(bin, "--grpc-addr", fmt.Sprintf("127.0.0.1:%d", grpcPort), "--shutdown-delay", "1s")
	cmd.Env = append(os.Environ(), "BETTER_AUTH_URL="+ba.URL, fmt.Sprintf("BETTERAUTHZ_HTTP_ADDR=127.0.0.1:%d", httpPort))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck
	status := func() int {
		resp, err := http.Get(readyz)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(15 * time.Second)
	for status() != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("never ready:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if s := status(); s != 503 {
		t.Errorf("/readyz during the shutdown delay: %d, want 503", s)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("did not exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no orderly stop in the logs:\n%s", stderr.String())
	}
}
