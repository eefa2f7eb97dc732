package jwks_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/jwks"
)

// FuzzVerify feeds arbitrary strings to a verifier whose key set holds one Ed25519 key. Whatever
// comes in, Verify must not panic, must classify its error under one sentinel, and must accept
// nothing that key did not sign.
func FuzzVerify(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwksDoc := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":%q}]}`,
		base64.RawURLEncoding.EncodeToString(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(jwksDoc))
	}))
	defer srv.Close()
	ks := startKeySet(f, jwks.KeySetOptions{URL: srv.URL, MinFetchGap: time.Hour})
	waitLoaded(f, ks, 5*time.Second)
	v, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: "iss", Audiences: []string{"aud"}})
	if err != nil {
		f.Fatal(err)
	}
	claims := map[string]any{"iss": "iss", "aud": "aud", "sub": "s", "exp": time.Now().Add(24 * time.Hour).Unix()}
	valid := sign(f, jwt.SigningMethodEdDSA, priv, map[string]any{"alg": "EdDSA", "kid": "k1"}, claims)
	f.Add(valid)
	f.Add(valid + "x")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(sign(f, jwt.SigningMethodEdDSA, priv, map[string]any{"alg": "EdDSA", "kid": "k2"}, claims))
	sentinels := []error{jwks.ErrNotReady, jwks.ErrTimeout, jwks.ErrKeysUnavailable, jwks.ErrKeysStale, jwks.ErrUnknownKey, jwks.ErrExpired, jwks.ErrInvalidToken}
	f.Fuzz(func(t *testing.T, token string) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		c, err := v.Verify(ctx, token)
		if err == nil {
			// Base64 and JSON are read strictly: the one signed token has no other spelling.
			if token != valid || c.Subject() != "s" {
				t.Fatalf("accepted %q (sub %q), which is not the token the key signed", token, c.Subject())
			}
			return
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("error %q matches %d sentinels, want 1", err, n)
		}
	})
}
