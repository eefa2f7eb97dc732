package jwks_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/jwks"
)

// fetches records what a key set reports of its fetches.
type fetches struct {
	mu  sync.Mutex
	all []jwks.Fetch
}

func (f *fetches) JWKSFetched(x jwks.Fetch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all = append(f.all, x)
}

func (f *fetches) last() (jwks.Fetch, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.all) == 0 {
		return jwks.Fetch{}, false
	}
	return f.all[len(f.all)-1], true
}

// waitFetch waits for a fetch that ok accepts.
func (f *fetches) waitFetch(t *testing.T, within time.Duration, ok func(jwks.Fetch) bool) jwks.Fetch {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if x, have := f.last(); have && ok(x) {
			return x
		}
		time.Sleep(5 * time.Millisecond)
	}
	x, _ := f.last()
	t.Fatalf("no such fetch within %s; last: %+v", within, x)
	return x
}

func edJWKS(pub ed25519.PublicKey, kid string) string {
	return fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":%q,"x":%q}]}`, kid, base64.RawURLEncoding.EncodeToString(pub))
}

func TestFetchRefusesRedirects(t *testing.T) {
	attacker, _, _ := ed25519.GenerateKey(rand.Reader)
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(edJWKS(attacker, "evil")))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var f fetches
	ks := startKeySet(t, jwks.KeySetOptions{URL: srv.URL + "/jwks", Observer: &f})
	x := f.waitFetch(t, 5*time.Second, func(jwks.Fetch) bool { return true })
	if !errors.Is(x.Err, jwks.ErrFetchRedirect) || jwks.FetchFailure(x.Err) != "redirect" {
		t.Fatalf("fetch error %v (%s), want a refused redirect", x.Err, jwks.FetchFailure(x.Err))
	}
	if ks.Loaded() || ks.HasKid("evil") {
		t.Fatal("the redirect target's keys were installed")
	}
}

func TestFetchWithAPrivateCA(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(edJWKS(pub, "k1")))
	}))
	defer srv.Close()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("trusted through the CA file", func(t *testing.T) {
		ks := startKeySet(t, jwks.KeySetOptions{URL: srv.URL, CAFile: caFile})
		waitLoaded(t, ks, 5*time.Second)
		if !ks.HasKid("k1") {
			t.Fatal("key not loaded")
		}
	})
	t.Run("not trusted without it", func(t *testing.T) {
		var f fetches
		ks := startKeySet(t, jwks.KeySetOptions{URL: srv.URL, Observer: &f})
		x := f.waitFetch(t, 5*time.Second, func(jwks.Fetch) bool { return true })
		if ks.Loaded() || jwks.FetchFailure(x.Err) != "unreachable" {
			t.Fatalf("loaded %v, error %v", ks.Loaded(), x.Err)
		}
	})
	t.Run("a CA file without a certificate", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.pem")
		if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := jwks.NewKeySet(jwks.KeySetOptions{URL: srv.URL, CAFile: bad}); !errors.Is(err, jwks.ErrFetchCAFile) {
			t.Fatalf("NewKeySet: %v, want ErrFetchCAFile", err)
		}
	})
	t.Run("a CA file replaced by garbage keeps the keys", func(t *testing.T) {
		rotating := filepath.Join(dir, "rotating.pem")
		good, _ := os.ReadFile(caFile)
		if err := os.WriteFile(rotating, good, 0o600); err != nil {
			t.Fatal(err)
		}
		var f fetches
		ks := startKeySet(t, jwks.KeySetOptions{URL: srv.URL, CAFile: rotating, Observer: &f, RefreshInterval: 50 * time.Millisecond, MinFetchGap: 10 * time.Millisecond})
		waitLoaded(t, ks, 5*time.Second)
		if err := os.WriteFile(rotating, []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		x := f.waitFetch(t, 5*time.Second, func(x jwks.Fetch) bool { return x.Err != nil })
		if jwks.FetchFailure(x.Err) != "ca_file" || !ks.HasKid("k1") {
			t.Fatalf("error %v; key kept: %v", x.Err, ks.HasKid("k1"))
		}
	})
}

func TestStaleKeysAreRefusedUntilARefreshSucceeds(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(edJWKS(pub, "k1")))
	}))
	defer srv.Close()
	var f fetches
	const maxAge = 300 * time.Millisecond
	ks := startKeySet(t, jwks.KeySetOptions{URL: srv.URL, Observer: &f, MaxKeyAge: maxAge,
		RefreshInterval: 50 * time.Millisecond, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	waitLoaded(t, ks, 5*time.Second)
	v, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: "iss", Audiences: []string{"aud"}, CacheEntries: 100})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"alg": "EdDSA", "kid": "k1"},
		map[string]any{"iss": "iss", "aud": "aud", "sub": "s", "exp": time.Now().Add(time.Hour).Unix()})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err) // now cached too
	}

	down.Store(true)
	x := f.waitFetch(t, 5*time.Second, func(x jwks.Fetch) bool { return x.Stale })
	if jwks.FetchFailure(x.Err) != "status" {
		t.Errorf("fetch error %v, want an HTTP status failure", x.Err)
	}
	if !ks.Stale() {
		t.Fatal("key set not stale")
	}
	// The cached answer must not outlive the keys' trust either.
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, jwks.ErrKeysStale) {
		t.Fatalf("stale keys: %v, want ErrKeysStale", err)
	}
	if jwks.Describe(err) == "" {
		t.Fatal("no description")
	}

	down.Store(false)
	f.waitFetch(t, 5*time.Second, func(x jwks.Fetch) bool { return x.Err == nil && !x.Stale })
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}
