package introspect

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Better Auth behind a private CA: the issuer's jwksCAFile is trusted for introspection too,
// and only it.
func TestIntrospectTrustsTheCAFile(t *testing.T) {
	f := &fakeBetterAuth{t: t}
	s := secret
	f.secret.Store(&s)
	f.answers.Store("tok", activeAnswer(""))
	srv := httptest.NewTLSServer(f)
	defer srv.Close()
	u := srv.URL + "/api/auth/oauth2/introspect"
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := newIntrospector(t, u, Options{}).Introspect(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("without the CA file: %v, want ErrUnavailable (unknown authority)", err)
	}
	in := newIntrospector(t, u, Options{CAFile: ca})
	if _, err := in.Introspect(context.Background(), "tok"); err != nil {
		t.Fatalf("with the CA file: %v", err)
	}

	bad := filepath.Join(dir, "bad.pem")
	_ = os.WriteFile(bad, []byte("no certificate"), 0o600)
	for _, path := range []string{bad, filepath.Join(dir, "missing.pem")} {
		o := Options{URL: u, ClientID: clientID, ClientSecretFile: writeSecret(t, dir, secret), Issuers: []string{issuer}, CAFile: path}
		if _, err := New(o); !errors.Is(err, ErrCAFile) {
			t.Fatalf("%s: %v, want ErrCAFile", path, err)
		}
	}
}

// An http:// URL off the loopback sends the client secret in clear: New warns.
func TestNewWarnsOfACleartextURL(t *testing.T) {
	for u, warn := range map[string]bool{
		"http://better-auth.auth.svc.cluster.local:3000/api/auth/oauth2/introspect": true,
		"http://10.0.0.7/api/auth/oauth2/introspect":                                true,
		"https://auth.example.com/api/auth/oauth2/introspect":                       false,
		"http://127.0.0.1:3000/api/auth/oauth2/introspect":                          false,
		"http://[::1]:3000/api/auth/oauth2/introspect":                              false,
		"http://localhost:3000/api/auth/oauth2/introspect":                          false,
	} {
		var logs bytes.Buffer
		newIntrospector(t, u, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if got := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "in clear"); got != warn {
			t.Errorf("%s: warned %v, want %v (%s)", u, got, warn, logs.String())
		}
		if strings.Contains(logs.String(), "s3cr3t") {
			t.Fatalf("the secret is in the log")
		}
	}
}
