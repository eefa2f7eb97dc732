package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/server"
)

// The introspection client's secret file is read when a config is applied: missing or empty,
// the config is refused naming the key — at start, Run fails; on a reload, the last good
// config stays — even when the reload leaves the introspection settings as they were.
func TestIntrospectionSecretFileIsPartOfTheConfig(t *testing.T) {
	dir := t.TempDir()
	config := func(secretFile, defaultPolicy string) string {
		return baseConfig(ba) + fmt.Sprintf(`defaultPolicy: %s
resources:
  - resource: https://api.example.com
    introspection:
      clientId: betterauthz
      clientSecretFile: %s
`, defaultPolicy, secretFile)
	}
	missing := filepath.Join(dir, "missing")

	path := filepath.Join(dir, "start.yaml")
	if err := os.WriteFile(path, []byte(config(missing, "deny")), 0o644); err != nil {
		t.Fatal(err)
	}
	err := server.Run(context.Background(), server.Options{ConfigPath: path, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Getenv: func(string) string { return "" }})
	var ce *server.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "resources[0].introspection.clientSecretFile: client secret file: stat "+missing+": no such file or directory") {
		t.Fatalf("Run: %v", err)
	}

	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cr3t-of-the-test"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, cfg := startWithConfig(t, config(secret, "deny"))
	refused := func(want string) {
		t.Helper()
		eventually(t, 5*time.Second, func() string {
			if !strings.Contains(r.logs.String(), want) {
				return "no refusal logged"
			}
			return ""
		})
		if got := answer(r.checkRequest(t, "GET", "/x", nil)); got != "denied 403" {
			t.Fatalf("after a refused reload: %s, want the last good config (deny)", got)
		}
	}
	writeAtomically(t, cfg, config(missing, "public"))
	refused(`resources[0].introspection.clientSecretFile: client secret file: stat ` + missing + `: no such file or directory`)

	// The same settings, the file emptied: refused too.
	if err := os.WriteFile(secret, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	writeAtomically(t, cfg, config(secret, "public"))
	refused(`resources[0].introspection.clientSecretFile: client secret file ` + secret + ` is empty`)

	if err := os.WriteFile(secret, []byte("s3cr3t-of-the-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeAtomically(t, cfg, config(secret, "public")+"# again\n")
	eventually(t, 5*time.Second, func() string {
		if got := answer(r.checkRequest(t, "GET", "/x", nil)); got != "allowed" {
			return got
		}
		return ""
	})
	if strings.Contains(r.logs.String(), "s3cr3t") {
		t.Error("the secret is in the log")
	}
}
