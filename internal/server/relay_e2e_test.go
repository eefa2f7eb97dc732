package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// Sidecars whose jwksURL is a central betterauthz's /jwks, in front of a real Better Auth: a
// key rotated in at Better Auth verifies at every sidecar at once, for one fetch at Better Auth
// however many sidecars meet the new key together.
func TestSidecarsFetchKeysFromTheRelay(t *testing.T) {
	t.Parallel()
	s, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	old, err := s.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	central := run(t, baseConfig(s), nil)
	central.waitReady(t, 10*time.Second)
	sidecars := make([]*running, 3)
	for i := range sidecars {
		sidecars[i] = run(t, baseConfig(s)+"jwksURL: http://"+central.httpAddr+"/jwks\n", nil)
		sidecars[i].waitReady(t, 10*time.Second)
		if got := reasonOf(sidecars[i].check(t, bearer(old.Token))); got != "allowed" {
			t.Fatalf("sidecar %d, a token of the key in force: %s", i, got)
		}
	}
	if n, _ := s.JWKSFetches(); n != 1 {
		t.Errorf("Better Auth's JWKS was fetched %d times for a central and 3 sidecars, want once", n)
	}

	time.Sleep(1100 * time.Millisecond) // past every MinFetchGap: the rotation is what is measured
	before, _ := s.JWKSFetches()
	if err := s.Rotate("EdDSA"); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kidOf(t, fresh.Token) == kidOf(t, old.Token) {
		t.Fatal("the rotation did not change the signing key")
	}
	var wg sync.WaitGroup
	got := make([]string, len(sidecars))
	for i, r := range sidecars {
		wg.Go(func() { got[i] = reasonOf(r.check(t, bearer(fresh.Token))) })
	}
	wg.Wait()
	for i, g := range got {
		if g != "allowed" {
			t.Errorf("sidecar %d, the rotated-in key's first token: %s, want allowed", i, g)
		}
	}
	if after, _ := s.JWKSFetches(); after-before != 1 {
		t.Errorf("3 sidecars meeting a new key made %d fetches at Better Auth, want 1 (the central's)", after-before)
	}
	// The old key is still in its grace period: it verifies everywhere.
	for i, r := range sidecars {
		if got := reasonOf(r.check(t, bearer(old.Token))); got != "allowed" {
			t.Errorf("sidecar %d, the old key's token after the rotation: %s", i, got)
		}
	}
	// Forged kids: unknown at every sidecar, for at most one fetch per second at Better Auth.
	before, _ = s.JWKSFetches()
	began := time.Now()
	for i, r := range sidecars {
		wg.Go(func() { got[i] = reasonOf(r.check(t, bearer(forgedKid(t, s.URL)))) })
	}
	wg.Wait()
	elapsed := time.Since(began)
	for i, g := range got {
		if g != "unknown_key" {
			t.Errorf("sidecar %d, a forged kid through the relay: %s, want unknown_key", i, g)
		}
	}
	if after, _ := s.JWKSFetches(); after-before > int(elapsed/time.Second)+1 {
		t.Errorf("forged kids at 3 sidecars made %d fetches at Better Auth in %s, want at most one a second", after-before, elapsed)
	}
}

// With several issuers each key set is at /jwks/<issuer name>, and /jwks, which would have to
// pick one, answers 404.
func TestRelayServesEachIssuersKeys(t *testing.T) {
	t.Parallel()
	second, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	mine, err := ba.Mint(betterauth.MintOptions{Alg: "EdDSA"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := second.Mint(betterauth.MintOptions{Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, issuersConfig(ba, second, ""), nil)
	r.waitReady(t, 15*time.Second)
	// The key sets may still be loading the second issuer: readiness needs one.
	eventually(t, 10*time.Second, func() string {
		if code, _ := r.get(t, "/jwks/second"); code != 200 {
			return "/jwks/second not served yet"
		}
		return ""
	})
	for path, kid := range map[string]string{"/jwks/main": kidOf(t, mine.Token), "/jwks/second": kidOf(t, theirs.Token)} {
		code, body := r.get(t, path)
		if code != 200 || !slices.Contains(kidsIn(t, body), kid) {
			t.Errorf("GET %s: %d, kids %v; want 200 with %s", path, code, kidsIn(t, body), kid)
		}
	}
	for _, path := range []string{"/jwks", "/jwks/nope"} {
		if code, _ := r.get(t, path); code != 404 {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}

	one := run(t, baseConfig(ba), nil)
	one.waitReady(t, 10*time.Second)
	for _, path := range []string{"/jwks", "/jwks/default"} {
		resp, err := http.Get("http://" + one.httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" || !slices.Contains(kidsIn(t, string(b)), kidOf(t, mine.Token)) {
			t.Errorf("one issuer, GET %s: %d ETag %q", path, resp.StatusCode, resp.Header.Get("ETag"))
		}
	}
}

func kidsIn(t *testing.T, body string) []string {
	t.Helper()
	var doc struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		return nil
	}
	var kids []string
	for _, k := range doc.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}
