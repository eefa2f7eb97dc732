package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// writeAtomically replaces a file the way editors and config tools do: write aside, rename.
func writeAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// eventually retries f until it returns "" or the time is up.
func eventually(t *testing.T, within time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, msg)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func answer(resp *authv3.CheckResponse) string {
	if resp.GetOkResponse() != nil {
		return "allowed"
	}
	return fmt.Sprintf("denied %d", resp.GetDeniedResponse().GetStatus().GetCode())
}

// configPath is where run wrote the config: the test's first TempDir.
func startWithConfig(t *testing.T, content string) (*running, string) {
	t.Helper()
	var path string
	r := run(t, content, func(o *server.Options) { path = o.ConfigPath })
	r.waitReady(t, 10*time.Second)
	return r, path
}

func TestReloadAppliesAValidChangeWithoutDroppingRequests(t *testing.T) {
	r, path := startWithConfig(t, baseConfig(ba))
	if got := answer(r.check(t, nil)); got != "denied 401" {
		t.Fatalf("before: %s", got)
	}

	// Checks keep flowing during the reload; every one must get a proper answer.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var checks, failures atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				resp, err := r.client.Check(cctx, checkReq("/orders", nil))
				cancel()
				checks.Add(1)
				if err != nil || (resp.GetOkResponse() == nil && resp.GetDeniedResponse().GetStatus().GetCode() != 401) {
					failures.Add(1)
				}
			}
		}()
	}
	writeAtomically(t, path, baseConfig(ba)+"defaultPolicy: public\n")
	eventually(t, 5*time.Second, func() string {
		if got := answer(r.check(t, nil)); got != "allowed" {
			return "still " + got
		}
		return ""
	})
	time.Sleep(200 * time.Millisecond)
	stop()
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d checks during the reload failed", failures.Load(), checks.Load())
	}
	_, metrics := r.get(t, "/metrics")
	if !strings.Contains(metrics, `betterauthz_config_reloads_total{result="success",source="file"} 2`) {
		t.Errorf("reload not counted:\n%s", grepLines(metrics, "config_reloads"))
	}
}

func TestReloadRefusesAnInvalidChangeAndKeepsTheLastGood(t *testing.T) {
	r, path := startWithConfig(t, baseConfig(ba)+"defaultPolicy: public\n")
	writeAtomically(t, path, baseConfig(ba)+"defaultPolicy: public\nroutes:\n  - paths: [/admin/**]\n    policy: closed\n")
	eventually(t, 5*time.Second, func() string {
		if !strings.Contains(r.logs.String(), "config refused") {
			return "no refusal logged"
		}
		return ""
	})
	logs := r.logs.String()
	if !strings.Contains(logs, `routes[0].policy: \"closed\" is not a policy (public, authenticated, deny) (line 11)`) {
		t.Errorf("refusal does not name the key:\n%s", grepLines(logs, "refused"))
	}
	if got := answer(r.checkRequest(t, "GET", "/admin/x", nil)); got != "allowed" {
		t.Errorf("after a refused reload: %s, want the last good config (public)", got)
	}
	_, metrics := r.get(t, "/metrics")
	if !strings.Contains(metrics, `betterauthz_config_reloads_total{result="error",source="file"} 1`) {
		t.Errorf("refusal not counted:\n%s", grepLines(metrics, "config_reloads"))
	}

	// Fixed: applied.
	writeAtomically(t, path, baseConfig(ba)+"defaultPolicy: public\nroutes:\n  - paths: [/admin/**]\n    policy: deny\n")
	eventually(t, 5*time.Second, func() string {
		if got := answer(r.checkRequest(t, "GET", "/admin/x", nil)); got != "denied 403" {
			return "after the fix: " + got
		}
		return ""
	})

	// Deleted: the last good config stays, and says so.
	os.Remove(path)
	time.Sleep(500 * time.Millisecond)
	if got := answer(r.checkRequest(t, "GET", "/admin/x", nil)); got != "denied 403" {
		t.Errorf("after delete: %s", got)
	}
	if !strings.Contains(r.logs.String(), "config file unreadable; the last good config stays in force") {
		t.Error("delete not logged")
	}
}

// TestReloadKubernetesConfigMapVolume swaps the config the way kubelet updates a mounted
// ConfigMap: config.yaml -> ..data/config.yaml, ..data -> a timestamped folder, and an update
// creates a new folder and atomically renames a new ..data symlink over the old one.
func TestReloadKubernetesConfigMapVolume(t *testing.T) {
	dir := t.TempDir()
	version := func(n int, content string) string {
		name := fmt.Sprintf("..2026_11_27_00_00_0%d.000000%d", n, n)
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "config.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	first := version(1, baseConfig(ba))
	if err := os.Symlink(first, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/config.yaml", filepath.Join(dir, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", func(o *server.Options) { o.ConfigPath = filepath.Join(dir, "config.yaml") })
	r.waitReady(t, 10*time.Second)
	if got := answer(r.check(t, nil)); got != "denied 401" {
		t.Fatalf("before: %s", got)
	}

	second := version(2, baseConfig(ba)+"defaultPolicy: deny\n")
	if err := os.Symlink(second, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, first))
	start := time.Now()
	eventually(t, 3*time.Second, func() string {
		if got := answer(r.check(t, nil)); got != "denied 403" {
			return "after the swap: " + got
		}
		return ""
	})
	t.Logf("applied %s after the symlink swap", time.Since(start))
}

func TestReloadToAnotherIssuer(t *testing.T) {
	other, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Stop()
	r, path := startWithConfig(t, baseConfig(ba))
	mine, _ := ba.Mint(betterauth.MintOptions{})
	theirs, _ := other.Mint(betterauth.MintOptions{})
	if got := answer(r.check(t, bearer(mine.Token))); got != "allowed" {
		t.Fatalf("before: %s", got)
	}
	writeAtomically(t, path, baseConfig(other))
	eventually(t, 15*time.Second, func() string {
		if got := answer(r.check(t, bearer(theirs.Token))); got != "allowed" {
			return "new issuer's token: " + got
		}
		return ""
	})
	if got := answer(r.check(t, bearer(mine.Token))); got != "denied 401" {
		t.Errorf("old issuer's token after the switch: %s", got)
	}
	if code, _ := r.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz %d after the switch", code)
	}
}

func checkReq(path string, headers map[string]string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "api.example.com", Path: path, Headers: headers,
		}},
	}}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReloadToAnUnreachableJWKSKeepsTheLastGood: a config whose jwksURL does not answer is not
// put in force (it would make every check 503); the previous one keeps answering, and a
// corrected config takes over.
func TestReloadToAnUnreachableJWKSKeepsTheLastGood(t *testing.T) {
	r, path := startWithConfig(t, baseConfig(ba))
	m, _ := ba.Mint(betterauth.MintOptions{})
	writeAtomically(t, path, baseConfig(ba)+"jwksURL: http://127.0.0.1:1/api/auth/jwks\ndefaultPolicy: public\n")
	eventually(t, 5*time.Second, func() string {
		if !strings.Contains(r.logs.String(), "it takes over once the signing keys at its jwksURL have loaded") {
			return "the waiting config is not reported"
		}
		return ""
	})
	time.Sleep(time.Second)
	if got := answer(r.check(t, bearer(m.Token))); got != "allowed" {
		t.Errorf("a token during the wait: %s", got)
	}
	if got := answer(r.check(t, nil)); got != "denied 401" {
		t.Errorf("the waiting config (public) took over without its keys: %s", got)
	}
	if code, _ := r.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz %d during the wait", code)
	}
	writeAtomically(t, path, baseConfig(ba)+"defaultPolicy: public\n")
	eventually(t, 5*time.Second, func() string {
		if got := answer(r.check(t, nil)); got != "allowed" {
			return "the corrected config: " + got
		}
		return ""
	})
}
