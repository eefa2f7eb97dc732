package jwks_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/jwks"
)

// ba is the package's shared real Better Auth server. Tests that break it (outages, retiring
// every key) start their own.
var ba *betterauth.Server

func TestMain(m *testing.M) {
	os.Exit(betterauth.RunTests(m, &ba))
}

func mint(t testing.TB, s *betterauth.Server, o betterauth.MintOptions) *betterauth.Minted {
	t.Helper()
	m, err := s.Mint(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// startKeySet runs a KeySet for the test's lifetime.
func startKeySet(t testing.TB, o jwks.KeySetOptions) *jwks.KeySet {
	t.Helper()
	ks, err := jwks.NewKeySet(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ks.Run(ctx); err != nil {
			t.Errorf("KeySet.Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ks
}

func waitLoaded(t testing.TB, ks *jwks.KeySet, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ks.Loaded() {
		if time.Now().After(deadline) {
			t.Fatalf("key set not loaded within %s", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verifierFor builds a verifier with Better Auth's defaults for server s.
func verifierFor(t testing.TB, s *betterauth.Server, mod func(*jwks.VerifierOptions), ksMod func(*jwks.KeySetOptions)) (*jwks.Verifier, *jwks.KeySet) {
	t.Helper()
	ko := jwks.KeySetOptions{URL: s.JWKSURL()}
	if ksMod != nil {
		ksMod(&ko)
	}
	ks := startKeySet(t, ko)
	vo := jwks.VerifierOptions{Keys: ks, Issuer: s.URL, Audiences: []string{s.URL}, ClockSkew: 30 * time.Second}
	if mod != nil {
		mod(&vo)
	}
	v, err := jwks.NewVerifier(vo)
	if err != nil {
		t.Fatal(err)
	}
	return v, ks
}
