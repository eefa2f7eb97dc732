package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/logbuf"
)

var ba *betterauth.Server

func TestMain(m *testing.M) {
	os.Exit(betterauth.RunTests(m, &ba))
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestServeAndCheck runs "betterauthz serve" configured only by the environment, as the
// README's quick start does, then asks it with "betterauthz check".
func TestServeAndCheck(t *testing.T) {
	grpcPort, _ := betterauth.FreePort()
	httpPort, _ := betterauth.FreePort()
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", grpcPort)
	env := envOf(map[string]string{
		"BETTER_AUTH_URL":       ba.URL,
		"BETTERAUTHZ_GRPC_ADDR": "127.0.0.1:1", // the flag below wins
		"BETTERAUTHZ_HTTP_ADDR": fmt.Sprintf("127.0.0.1:%d", httpPort),
		"BETTERAUTHZ_LOG_LEVEL": "debug",
	})
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logbuf.Buffer{}
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"--grpc-addr", grpcAddr}, env, nil, io.Discard, logs) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	m, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}

	cases := map[string]struct {
		args  []string
		stdin string
		code  int
		out   []string
	}{
		"token from stdin": {
			args:  []string{"--addr", grpcAddr, "--token", "-", "--path", "/api/orders"},
			stdin: m.Token + "\n",
			code:  0,
			out:   []string{"ALLOWED", "x-user-id: " + m.UserID},
		},
		"allowed": {
			args: []string{"--addr", grpcAddr, "--token", m.Token, "--header", "X-User-Id=spoofed", "--path", "/api/orders"},
			code: 0,
			out:  []string{"ALLOWED", "x-user-id: " + m.UserID + "  [OVERWRITE_IF_EXISTS_OR_ADD]", "x-user-email: " + m.Email},
		},
		"denied without a token": {
			args: []string{"--addr", grpcAddr},
			code: 1,
			out:  []string{"DENIED 401", `www-authenticate: Bearer realm="` + ba.URL + `"`, `body: {"error":"missing_token"`},
		},
		"denied with a forged token": {
			args: []string{"--addr", grpcAddr, "--token", m.Token + "x"},
			code: 1,
			out:  []string{"DENIED 401", `error="invalid_token"`},
		},
		"nobody listening": {
			args: []string{"--addr", "127.0.0.1:1", "--timeout", "500ms"},
			code: 2,
		},
		"bad header flag": {
			args: []string{"--addr", grpcAddr, "--header", "novalue"},
			code: 2,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), append([]string{"check"}, tc.args...), envOf(nil), strings.NewReader(tc.stdin), &out, &errOut)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errOut.String())
			}
			for _, want := range tc.out {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}

	t.Run("routes", func(t *testing.T) {
		var out bytes.Buffer
		if code := Main(context.Background(), []string{"routes", "--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort)}, envOf(nil), nil, &out, io.Discard); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if !strings.Contains(out.String(), "PRECEDENCE") || !strings.Contains(out.String(), "default     defaultPolicy  default  *      *      *        authenticated") {
			t.Errorf("routes output:\n%s", out.String())
		}
		out.Reset()
		if code := Main(context.Background(), []string{"routes", "--json", "--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort)}, envOf(nil), nil, &out, io.Discard); code != 0 || !strings.Contains(out.String(), `"precedence": "default"`) {
			t.Errorf("routes --json: %d %s", code, out.String())
		}
	})

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if strings.Contains(logs.String(), m.Token) {
		t.Error("serve logged a token")
	}
}

func TestServeRefusesABadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("defaultPolicy: allow\n"), 0o644)
	var errOut bytes.Buffer
	code := Main(context.Background(), []string{"serve", "--config", path, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, envOf(nil), nil, io.Discard, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), `defaultPolicy: "allow" is not a policy (public, authenticated, deny) (line 1)`) {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
}

func TestUsageErrors(t *testing.T) {
	cases := map[string]struct {
		args []string
		env  map[string]string
		code int
		msg  string
	}{
		"unknown command":   {args: []string{"frobnicate"}, code: 2, msg: `unknown command "frobnicate"`},
		"unknown flag":      {args: []string{"serve", "--nope"}, code: 2, msg: "flag provided but not defined: -nope"},
		"bad env value":     {args: []string{"serve"}, env: map[string]string{"BETTERAUTHZ_SHUTDOWN_DELAY": "soon"}, code: 2, msg: "$BETTERAUTHZ_SHUTDOWN_DELAY"},
		"stray argument":    {args: []string{"serve", "extra"}, code: 2, msg: `unexpected argument "extra"`},
		"bad log decisions": {args: []string{"serve", "--log-decisions", "some", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, code: 1, msg: "--log-decisions"},
		"help":              {args: []string{"serve", "-h"}, code: 0},
		"bad workload namespace": {args: []string{"serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"},
			env: map[string]string{"BETTERAUTHZ_WORKLOAD_NAMESPACE": "Payments_Team"}, code: 1, msg: `--workload-namespace: "Payments_Team" is not a namespace name`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), tc.args, envOf(tc.env), nil, &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, errOut.String(), tc.msg)
			}
		})
	}
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	a := fs.String("grpc-addr", "default", "")
	b := fs.String("http-addr", "default", "")
	err := parseFlags(fs, []string{"--grpc-addr", "flag"}, envOf(map[string]string{
		"BETTERAUTHZ_GRPC_ADDR": "env", "BETTERAUTHZ_HTTP_ADDR": "env",
	}), io.Discard)
	if err != nil || *a != "flag" || *b != "env" {
		t.Fatalf("grpc-addr %q http-addr %q err %v", *a, *b, err)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"version"}, envOf(nil), nil, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "betterauthz ") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("betterAuthURL: https://auth.example.com\nroutes:\n  - {name: health, paths: [/healthz], policy: public}\n"), 0o644)
	os.WriteFile(bad, []byte("betterAuthURL: https://auth.example.com\nroutes:\n  - paths: [healthz]\n    policy: open\nclockSkew: soon\n"), 0o644)

	var out bytes.Buffer
	if code := Main(context.Background(), []string{"validate", good}, envOf(nil), nil, &out, io.Discard); code != 0 {
		t.Fatalf("good config: exit %d\n%s", code, out.String())
	}
	if want := good + ": ok (issuer https://auth.example.com, jwks https://auth.example.com/api/auth/jwks, 1 routes, default authenticated)\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}

	out.Reset()
	code := Main(context.Background(), []string{"validate", good, bad, filepath.Join(dir, "missing.yaml")}, envOf(nil), nil, &out, io.Discard)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		bad + `: routes[0].paths[0]: path pattern "healthz" must start with / (line 3)`,
		bad + `: routes[0].policy: "open" is not a policy (public, authenticated, deny) (line 4)`,
		bad + `: clockSkew: "soon" is not a duration (write it like 30s, 5m or 1h) (line 5)`,
		"missing.yaml: open ",
		good + ": ok",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := Main(context.Background(), []string{"validate"}, envOf(nil), nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("no files: exit %d, want 2", code)
	}
}
