package jwks_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/jwks"
)

// BenchmarkCacheHit: a token verified before, answered from the verified-token cache.
func BenchmarkCacheHit(b *testing.B) {
	v, ks := verifierFor(b, ba, func(o *jwks.VerifierOptions) { o.CacheEntries = 10000 }, nil)
	tok := mint(b, ba, betterauth.MintOptions{}).Token
	waitLoaded(b, ks, 10*time.Second)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheMiss: full verification (signature and claims) per algorithm, cache off.
func BenchmarkCacheMiss(b *testing.B) {
	for _, alg := range jwks.Algorithms() {
		b.Run(alg, func(b *testing.B) {
			v, ks := verifierFor(b, ba, nil, nil)
			tok := mint(b, ba, betterauth.MintOptions{Alg: alg}).Token
			waitLoaded(b, ks, 10*time.Second)
			ctx := context.Background()
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBaselineJWTKeyfunc is the yardstick for cold verification: golang-jwt + keyfunc with
// their defaults, per request, on the same token.
func BenchmarkBaselineJWTKeyfunc(b *testing.B) {
	for _, alg := range []string{"EdDSA", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			tok := mint(b, ba, betterauth.MintOptions{Alg: alg}).Token
			kf, err := keyfunc.NewDefaultCtx(context.Background(), []string{ba.JWKSURL()})
			if err != nil {
				b.Fatal(err)
			}
			parse := func() error {
				_, err := jwt.Parse(tok, kf.Keyfunc, jwt.WithIssuer(ba.URL), jwt.WithAudience(ba.URL), jwt.WithExpirationRequired())
				return err
			}
			if err := parse(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := parse(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEd25519Floor is the signature check alone.
func BenchmarkEd25519Floor(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 400)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("bad")
		}
	}
}
