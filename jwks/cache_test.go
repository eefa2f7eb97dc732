package jwks_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/jwks"
)

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

func TestCacheNeverOutlivesTheTokensExp(t *testing.T) {
	var clk clock
	v, ks := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.CacheEntries = 100; o.ClockSkew = 0; o.Now = clk.now }, nil)
	m := mint(t, ba, betterauth.MintOptions{ExpirationTime: "2m"})
	clk.set(time.Now()) // after minting: with no skew, iat must not be in the clock's future
	waitLoaded(t, ks, 10*time.Second)
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Fatal(err)
	}
	clk.add(2*time.Minute - time.Second)
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Fatalf("a second before exp: %v", err)
	}
	clk.add(2 * time.Second)
	if _, err := v.Verify(context.Background(), m.Token); !errors.Is(err, jwks.ErrExpired) {
		t.Fatalf("a second after exp, a cached token answered %v, want ErrExpired", err)
	}
}

func TestCacheLeewayDoesNotExtendTrust(t *testing.T) {
	var clk clock
	v, ks := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.CacheEntries = 100; o.ClockSkew = 30 * time.Second; o.Now = clk.now }, nil)
	m := mint(t, ba, betterauth.MintOptions{ExpirationTime: "1m"})
	clk.set(time.Now())
	waitLoaded(t, ks, 10*time.Second)
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Fatal(err)
	}
	// Within the skew after exp the token is still accepted — by verifying it again, not from
	// the cache, whose entry ended at exp — and past the skew it is refused.
	clk.add(time.Minute + 10*time.Second)
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Fatalf("within the clock skew: %v", err)
	}
	clk.add(30 * time.Second)
	if _, err := v.Verify(context.Background(), m.Token); !errors.Is(err, jwks.ErrExpired) {
		t.Fatalf("past the skew: %v", err)
	}
}

func TestCachedTokenRefusedOnceItsKidLeavesTheSet(t *testing.T) {
	s := ownServer(t)
	v, ks := verifierFor(t, s, func(o *jwks.VerifierOptions) { o.CacheEntries = 100 },
		func(o *jwks.KeySetOptions) {
			o.RefreshInterval = 200 * time.Millisecond
			o.MinFetchGap = 50 * time.Millisecond
		})
	m := mint(t, s, betterauth.MintOptions{})
	waitLoaded(t, ks, 10*time.Second)
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Fatal(err)
	}
	if err := s.RetireKid(header(t, m.Token)["kid"].(string)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(context.Background(), m.Token)
		if errors.Is(err, jwks.ErrUnknownKey) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kid left the JWKS the cached token still answers %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCacheOnAndOffAgreeUnderConcurrency(t *testing.T) {
	on, ks1 := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.CacheEntries = 50 }, nil)
	off, ks2 := verifierFor(t, ba, nil, nil)
	var tokens []string
	for _, alg := range jwks.Algorithms() {
		m := mint(t, ba, betterauth.MintOptions{Alg: alg})
		tokens = append(tokens, m.Token, m.Token+"x", m.SessionToken)
	}
	tokens = append(tokens, mint(t, ba, betterauth.MintOptions{ExpirationTime: "-1h"}).Token, forgedUnknownKid(t, ba.URL))
	waitLoaded(t, ks1, 10*time.Second)
	waitLoaded(t, ks2, 10*time.Second)
	want := map[string]string{}
	for _, tok := range tokens {
		_, err := off.Verify(context.Background(), tok)
		want[tok] = errString(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				tok := tokens[(i+j)%len(tokens)]
				if _, err := on.Verify(context.Background(), tok); errString(err) != want[tok] {
					t.Errorf("cache on: %q, off: %q", errString(err), want[tok])
					return
				}
			}
		}()
	}
	wg.Wait()
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
