package jwks_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/jwks"
)

// ownServer starts a Better Auth server just for this test.
func ownServer(t *testing.T) *betterauth.Server {
	t.Helper()
	s, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func TestRotationVerifiesTheNewKeyAndKeepsTheOld(t *testing.T) {
	s := ownServer(t)
	v, ks := verifierFor(t, s, nil, nil)
	old := mint(t, s, betterauth.MintOptions{})
	waitLoaded(t, ks, 10*time.Second)
	if _, err := v.Verify(context.Background(), old.Token); err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate("EdDSA"); err != nil {
		t.Fatal(err)
	}
	fresh := mint(t, s, betterauth.MintOptions{})
	if header(t, fresh.Token)["kid"] == header(t, old.Token)["kid"] {
		t.Fatal("Better Auth did not rotate")
	}
	start := time.Now()
	if _, err := v.Verify(context.Background(), fresh.Token); err != nil {
		t.Fatalf("token from the rotated key: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("new key verified after %s, want within seconds", d)
	}
	if _, err := v.Verify(context.Background(), old.Token); err != nil {
		t.Errorf("token from the old key during its grace period: %v", err)
	}

	// When the old key's grace ends it leaves the JWKS; after the next refresh its tokens fail.
	if err := s.RetireKid(header(t, old.Token)["kid"].(string)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past MinFetchGap, so the unknown-kid path may fetch
	_, _ = v.Verify(context.Background(), forgedUnknownKid(t, s.URL))
	if _, err := v.Verify(context.Background(), old.Token); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Errorf("token from a retired key: %v, want ErrUnknownKey", err)
	}
}

func TestRotationDuringABogusKidFlood(t *testing.T) {
	s := ownServer(t)
	v, ks := verifierFor(t, s, nil, nil)
	mint(t, s, betterauth.MintOptions{})
	waitLoaded(t, ks, 10*time.Second)
	before, err := s.JWKSFetches()
	if err != nil {
		t.Fatal(err)
	}

	// Attackers send tokens with fresh random kids as fast as they can.
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var bogus atomic.Int64
	for range 128 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(ctx, time.Second)
				_, err := v.Verify(rctx, forgedUnknownKid(t, s.URL))
				cancel()
				if err == nil {
					t.Error("a forged token verified")
					return
				}
				bogus.Add(1)
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)

	if err := s.Rotate("EdDSA"); err != nil {
		t.Fatal(err)
	}
	fresh := mint(t, s, betterauth.MintOptions{})
	start := time.Now()
	var verr error
	for time.Since(start) < 5*time.Second {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, verr = v.Verify(rctx, fresh.Token)
		cancel()
		if verr == nil {
			break
		}
	}
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	if verr != nil {
		t.Fatalf("new key under a bogus-kid flood: %v after %s", verr, took)
	}
	if took > 3*time.Second {
		t.Errorf("new key verified after %s under the flood, want within 3s", took)
	}
	after, _ := s.JWKSFetches()
	elapsed := time.Since(start) + 1500*time.Millisecond
	// One fetch per MinFetchGap (1s) at most, plus one in flight.
	if maxFetches := int(elapsed/time.Second) + 2; after-before > maxFetches {
		t.Errorf("%d bogus tokens caused %d JWKS fetches in %s, want at most %d", bogus.Load(), after-before, elapsed, maxFetches)
	}
	t.Logf("%d bogus tokens, %d JWKS fetches, new key verified after %s", bogus.Load(), after-before, took)
}

func TestUnknownKidRefreshesAreCoalesced(t *testing.T) {
	s := ownServer(t)
	v, ks := verifierFor(t, s, nil, nil)
	mint(t, s, betterauth.MintOptions{})
	waitLoaded(t, ks, 10*time.Second)
	time.Sleep(1100 * time.Millisecond)
	before, _ := s.JWKSFetches()
	if err := s.Rotate("EdDSA"); err != nil {
		t.Fatal(err)
	}
	fresh := mint(t, s, betterauth.MintOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := v.Verify(context.Background(), fresh.Token)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	after, _ := s.JWKSFetches()
	if n := after - before; n != 1 {
		t.Errorf("200 concurrent checks of one new kid made %d JWKS fetches, want 1", n)
	}
}

func TestNegativeCacheAnswersRepeatsAtOnce(t *testing.T) {
	s := ownServer(t)
	v, ks := verifierFor(t, s, nil, nil)
	mint(t, s, betterauth.MintOptions{})
	waitLoaded(t, ks, 10*time.Second)
	tok := forgedUnknownKid(t, s.URL)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatal(err)
	}
	before, _ := s.JWKSFetches()
	for range 50 {
		start := time.Now()
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, jwks.ErrUnknownKey) {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("repeat of a known-unknown kid took %s", d)
		}
	}
	if after, _ := s.JWKSFetches(); after != before {
		t.Errorf("repeats of one bogus kid made %d fetches, want 0", after-before)
	}
}

func TestIssuerOutageKeepsCachedKeys(t *testing.T) {
	s := ownServer(t)
	v, ks := verifierFor(t, s, nil, func(o *jwks.KeySetOptions) {
		o.RefreshInterval = 200 * time.Millisecond
		o.MinFetchGap = 100 * time.Millisecond
	})
	m := mint(t, s, betterauth.MintOptions{})
	waitLoaded(t, ks, 10*time.Second)
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{betterauth.JWKSDown, betterauth.JWKSGarbage} {
		if err := s.SetJWKSMode(mode); err != nil {
			t.Fatal(err)
		}
		time.Sleep(600 * time.Millisecond) // several failed background refreshes
		// An unknown kid forces another fetch, which fails too: "try again", not "bad token".
		if _, err := v.Verify(context.Background(), forgedUnknownKid(t, s.URL)); !errors.Is(err, jwks.ErrKeysUnavailable) {
			t.Errorf("%s: unknown kid while the JWKS cannot be fetched: %v, want ErrKeysUnavailable", mode, err)
		}
		if _, err := v.Verify(context.Background(), m.Token); err != nil {
			t.Errorf("%s: token from a cached key: %v", mode, err)
		}
		if ks.Keys() == 0 {
			t.Errorf("%s: keys dropped", mode)
		}
	}
	// Better Auth down for good: the process itself is gone.
	s.Stop()
	time.Sleep(500 * time.Millisecond)
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Errorf("issuer stopped: token from a cached key: %v", err)
	}
}

func TestStartBeforeTheIssuerThenRecover(t *testing.T) {
	port, err := betterauth.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ks := startKeySet(t, jwks.KeySetOptions{URL: url + "/api/auth/jwks", MaxBackoff: 2 * time.Second})
	v, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: url, Audiences: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if ks.Loaded() {
		t.Fatal("loaded with no issuer")
	}
	if _, err := v.Verify(context.Background(), forgedUnknownKid(t, url)); !errors.Is(err, jwks.ErrNotReady) {
		t.Fatalf("before the first load: %v, want ErrNotReady", err)
	}

	s, err := betterauth.StartOnPort(port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	m := mint(t, s, betterauth.MintOptions{})
	start := time.Now()
	waitLoaded(t, ks, 10*time.Second)
	t.Logf("loaded %s after the issuer came up", time.Since(start))
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyKeySetIsNormal(t *testing.T) {
	s := ownServer(t)
	m := mint(t, s, betterauth.MintOptions{})
	if err := s.RetireAll(); err != nil {
		t.Fatal(err)
	}
	v, ks := verifierFor(t, s, nil, nil)
	waitLoaded(t, ks, 10*time.Second)
	if ks.Keys() != 0 {
		t.Fatalf("%d keys, want 0", ks.Keys())
	}
	if _, err := v.Verify(context.Background(), m.Token); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("token of a retired key with an empty JWKS: %v, want ErrUnknownKey", err)
	}
	// The next token Better Auth signs brings a new key, found by the unknown-kid refresh.
	fresh := mint(t, s, betterauth.MintOptions{})
	time.Sleep(1100 * time.Millisecond)
	if _, err := v.Verify(context.Background(), fresh.Token); err != nil {
		t.Fatal(err)
	}
}

func TestWaitForKeysEndsWithTheCallersContext(t *testing.T) {
	s := ownServer(t)
	v, ks := verifierFor(t, s, nil, nil)
	mint(t, s, betterauth.MintOptions{})
	waitLoaded(t, ks, 10*time.Second)
	if err := s.SetJWKSMode(betterauth.JWKSSlow); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Verify(ctx, forgedUnknownKid(t, s.URL))
	if !errors.Is(err, jwks.ErrTimeout) {
		t.Fatalf("%v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %s, want about 200ms", d)
	}
}

// The wait must end before the caller's deadline, leaving it time to answer: a wait that ends
// at the deadline makes Envoy see DEADLINE_EXCEEDED instead of the 503.
func TestWaitForKeysLeavesTheCallerTimeToAnswer(t *testing.T) {
	s := ownServer(t)
	v, ks := verifierFor(t, s, nil, nil)
	mint(t, s, betterauth.MintOptions{})
	waitLoaded(t, ks, 10*time.Second)
	if err := s.SetJWKSMode(betterauth.JWKSSlow); err != nil {
		t.Fatal(err)
	}
	for _, timeout := range []time.Duration{200 * time.Millisecond, 50 * time.Millisecond, 10 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_, err := v.Verify(ctx, forgedUnknownKid(t, s.URL))
		callerErr := ctx.Err()
		deadline, _ := ctx.Deadline()
		left := time.Until(deadline)
		cancel()
		if !errors.Is(err, jwks.ErrTimeout) {
			t.Fatalf("%s: %v, want ErrTimeout", timeout, err)
		}
		if callerErr != nil {
			t.Fatalf("%s: Verify returned after the caller's deadline", timeout)
		}
		if want := min(timeout/5, 20*time.Millisecond) / 2; left < want {
			t.Errorf("%s: %s left for the answer, want at least %s", timeout, left, want)
		}
	}
}

func TestConcurrentVerification(t *testing.T) {
	v, ks := verifierFor(t, ba, nil, nil)
	var tokens []string
	for _, alg := range jwks.Algorithms() {
		tokens = append(tokens, mint(t, ba, betterauth.MintOptions{Alg: alg}).Token)
	}
	waitLoaded(t, ks, 10*time.Second)
	for _, tok := range tokens { // warm every kid
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				tok := tokens[(i+j)%len(tokens)]
				if j%5 == 0 {
					tok += "x" // a bad signature now and then
					if _, err := v.Verify(context.Background(), tok); err == nil {
						t.Error("a tampered token verified")
					}
					continue
				}
				if _, err := v.Verify(context.Background(), tok); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

// forgedUnknownKid is a well-formed EdDSA token of issuer iss (a verifier picks keys by iss)
// under a random kid that no JWKS holds.
func forgedUnknownKid(t testing.TB, iss string) string {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	kid := make([]byte, 12)
	_, _ = rand.Read(kid)
	return sign(t, jwt.SigningMethodEdDSA, key, map[string]any{"alg": "EdDSA", "kid": fmt.Sprintf("%x", kid)},
		map[string]any{"sub": "x", "iss": iss, "exp": time.Now().Add(time.Hour).Unix()})
}
