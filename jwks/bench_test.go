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
	for _, alg := range jwks.Algorithms() {
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

// BenchmarkCold: a cold check (cache off) per algorithm against golang-jwt + keyfunc parsing
// the same token with their defaults, interleaved (in alternating order) so that the shared
// machine's drift hits both alike. It reports each one's time and allocations per token, and
// the ratio of golang-jwt's time to betterauthz's: above 1, betterauthz is the faster.
func BenchmarkCold(b *testing.B) {
	for _, alg := range jwks.Algorithms() {
		b.Run(alg, func(b *testing.B) {
			v, ks := verifierFor(b, ba, nil, nil)
			tok := mint(b, ba, betterauth.MintOptions{Alg: alg}).Token
			waitLoaded(b, ks, 10*time.Second)
			kf, err := keyfunc.NewDefaultCtx(context.Background(), []string{ba.JWKSURL()})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			ours := func() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			theirs := func() {
				if _, err := jwt.Parse(tok, kf.Keyfunc, jwt.WithIssuer(ba.URL), jwt.WithAudience(ba.URL), jwt.WithExpirationRequired()); err != nil {
					b.Fatal(err)
				}
			}
			oursAllocs, theirsAllocs := testing.AllocsPerRun(20, ours), testing.AllocsPerRun(20, theirs)
			var oursTime, theirsTime time.Duration
			timed := func(f func()) time.Duration {
				start := time.Now()
				f()
				return time.Since(start)
			}
			n := 0
			for b.Loop() {
				if n%2 == 0 {
					oursTime += timed(ours)
					theirsTime += timed(theirs)
				} else {
					theirsTime += timed(theirs)
					oursTime += timed(ours)
				}
				n++
			}
			b.ReportMetric(float64(oursTime.Nanoseconds())/float64(n), "betterauthz-ns/token")
			b.ReportMetric(float64(theirsTime.Nanoseconds())/float64(n), "golang-jwt-ns/token")
			b.ReportMetric(float64(theirsTime)/float64(oursTime), "ratio")
			b.ReportMetric(oursAllocs, "betterauthz-allocs/token")
			b.ReportMetric(theirsAllocs, "golang-jwt-allocs/token")
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
