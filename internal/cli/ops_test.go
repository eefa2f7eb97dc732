package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/logbuf"
)

func TestHelpListsTheCommandsOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Main(context.Background(), args, envOf(nil), nil, &out, &errOut); code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, cmd := range []string{"serve", "check", "validate", "verify", "routes", "version"} {
				if !strings.Contains(out.String(), "betterauthz "+cmd) {
					t.Errorf("help lacks %s:\n%s", cmd, out.String())
				}
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr: %s", errOut.String())
			}
		})
	}
}

func TestVersionRefusesArguments(t *testing.T) {
	var errOut bytes.Buffer
	if code := Main(context.Background(), []string{"version", "extra"}, envOf(nil), nil, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "version takes no arguments") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}

func TestValidateReadsStdin(t *testing.T) {
	var out bytes.Buffer
	code := Main(context.Background(), []string{"validate", "-"}, envOf(nil), strings.NewReader("betterAuthURL: https://auth.example.com\n"), &out, io.Discard)
	if code != 0 || !strings.HasPrefix(out.String(), "stdin: ok (issuer https://auth.example.com") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	out.Reset()
	code = Main(context.Background(), []string{"validate", "-"}, envOf(nil), strings.NewReader("defaultPolicy: allow\n"), &out, io.Discard)
	if code != 1 || !strings.Contains(out.String(), `stdin: defaultPolicy: "allow" is not a policy`) {
		t.Fatalf("exit %d: %s", code, out.String())
	}
}

// serveInBackground runs "betterauthz serve" with args until the test ends, once ready.
func serveInBackground(t *testing.T, args ...string) {
	t.Helper()
	httpPort, _ := betterauth.FreePort()
	env := envOf(map[string]string{"BETTER_AUTH_URL": ba.URL})
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logbuf.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, append(args, "--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort)), env, nil, io.Discard, logs)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d:\n%s", code, logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", httpPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCheckOverUnixSocketAsJSON: check reaches a server on a Unix socket, and -o json prints
// the CheckResponse as protobuf JSON with the same exit codes.
func TestCheckOverUnixSocketAsJSON(t *testing.T) {
	sock := "unix://" + filepath.Join(t.TempDir(), "grpc.sock")
	serveInBackground(t, "--grpc-addr", sock)
	m, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"check", "--addr", sock, "-o", "json", "--token", m.Token}, envOf(nil), nil, &out, io.Discard); code != 0 {
		t.Fatalf("allowed: exit %d\n%s", code, out.String())
	}
	var allowed struct {
		Status     struct{ Code int }
		OkResponse struct {
			Headers []struct{ Header struct{ Key, Value string } }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &allowed); err != nil || allowed.Status.Code != 0 || len(allowed.OkResponse.Headers) == 0 {
		t.Fatalf("allowed JSON (%v):\n%s", err, out.String())
	}
	out.Reset()
	if code := Main(context.Background(), []string{"check", "--addr", sock, "-o", "json"}, envOf(nil), nil, &out, io.Discard); code != 1 {
		t.Fatalf("denied: exit %d\n%s", code, out.String())
	}
	var denied struct {
		Status         struct{ Code int }
		DeniedResponse struct{ Status struct{ Code string } }
	}
	if err := json.Unmarshal(out.Bytes(), &denied); err != nil || denied.Status.Code != 16 || denied.DeniedResponse.Status.Code != "Unauthorized" {
		t.Fatalf("denied JSON (%v):\n%s", err, out.String())
	}
	if code := Main(context.Background(), []string{"check", "--addr", sock, "-o", "yaml"}, envOf(nil), nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("-o yaml: exit %d, want 2", code)
	}
}

// TestCheckOverTLS: check --tls-ca reaches a server with --grpc-tls-cert; without it the
// server's certificate is not trusted (exit 2).
func TestCheckOverTLS(t *testing.T) {
	dir := t.TempDir()
	crt, key := selfSigned(t)
	os.WriteFile(filepath.Join(dir, "tls.crt"), crt, 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600)
	port, _ := betterauth.FreePort()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	serveInBackground(t, "--grpc-addr", addr, "--grpc-tls-cert", filepath.Join(dir, "tls.crt"), "--grpc-tls-key", filepath.Join(dir, "tls.key"))
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"check", "--addr", addr, "--tls-ca", filepath.Join(dir, "tls.crt")}, envOf(nil), nil, &out, io.Discard); code != 1 || !strings.Contains(out.String(), "DENIED 401") {
		t.Fatalf("check --tls-ca: exit %d\n%s", code, out.String())
	}
	if code := Main(context.Background(), []string{"check", "--addr", addr, "--tls", "--timeout", "2s"}, envOf(nil), nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("check --tls with the system's CAs: exit %d, want 2 (untrusted)", code)
	}
	if code := Main(context.Background(), []string{"check", "--addr", addr, "--timeout", "2s"}, envOf(nil), nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("plaintext check of a TLS port: exit %d, want 2", code)
	}
}

// selfSigned is a certificate for 127.0.0.1 that is its own CA.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "betterauthz"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
