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

// issuerKeys serves one Ed25519 key under kid, its JWK's alg as given (EdDSA, or RFC 9864's
// Ed25519), and returns a loaded key set of it and the private key.
func issuerKeys(t *testing.T, kid, jwkAlg string) (*jwks.KeySet, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	doc := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":%q,"kid":%q,"x":%q}]}`, jwkAlg, kid, base64.RawURLEncoding.EncodeToString(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(doc)) }))
	t.Cleanup(srv.Close)
	var f fetches
	ks := startKeySet(t, jwks.KeySetOptions{URL: srv.URL, Observer: &f})
	f.waitFetch(t, 5*time.Second, func(x jwks.Fetch) bool { return x.Err == nil })
	return ks, priv
}

func edToken(t *testing.T, priv ed25519.PrivateKey, alg, kid, iss, aud string) string {
	t.Helper()
	now := time.Now()
	return sign(t, jwt.SigningMethodEdDSA, priv, map[string]any{"alg": alg, "kid": kid},
		map[string]any{"sub": "u1", "iss": iss, "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
}

// TestIssuersKeepTheirKeys: a verifier of several issuers verifies a token with the keys of the
// issuer its iss names and with no other — a token of one issuer re-labelled with another's
// iss fails even when both use the same kid — and refuses an iss it does not trust.
func TestIssuersKeepTheirKeys(t *testing.T) {
	prodKeys, prod := issuerKeys(t, "k1", "EdDSA")
	stagingKeys, staging := issuerKeys(t, "k1", "EdDSA")
	v, err := jwks.NewVerifier(jwks.VerifierOptions{Trusts: []jwks.Trust{
		{Name: "production", Keys: prodKeys, Issuer: "https://auth.example.com", Audiences: []string{"https://auth.example.com"}},
		{Name: "staging", Keys: stagingKeys, Issuer: "https://auth.staging.example.com", Audiences: []string{"https://auth.staging.example.com"}, Algorithms: []string{"EdDSA"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, tc := range map[string]struct {
		token string
		err   error
	}{
		"production":      {token: edToken(t, prod, "EdDSA", "k1", "https://auth.example.com", "https://auth.example.com")},
		"staging":         {token: edToken(t, staging, "EdDSA", "k1", "https://auth.staging.example.com", "https://auth.staging.example.com")},
		"re-labelled":     {token: edToken(t, prod, "EdDSA", "k1", "https://auth.staging.example.com", "https://auth.staging.example.com"), err: jwks.ErrSignature},
		"unknown issuer":  {token: edToken(t, prod, "EdDSA", "k1", "https://evil.example.com", "https://auth.example.com"), err: jwks.ErrIssuer},
		"other audience":  {token: edToken(t, prod, "EdDSA", "k1", "https://auth.example.com", "https://auth.staging.example.com"), err: jwks.ErrAudience},
		"no iss at all":   {token: edToken(t, prod, "EdDSA", "k1", "", "https://auth.example.com"), err: jwks.ErrIssuer},
		"RFC 9864 header": {token: edToken(t, staging, "Ed25519", "k1", "https://auth.staging.example.com", "https://auth.staging.example.com")},
	} {
		t.Run(name, func(t *testing.T) {
			claims, err := v.Verify(ctx, tc.token)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Fatalf("error %v, want %v", err, tc.err)
			case tc.err == nil && claims.Subject() != "u1":
				t.Fatalf("claims %v", claims)
			}
		})
	}

	if _, err := jwks.NewVerifier(jwks.VerifierOptions{Trusts: []jwks.Trust{
		{Name: "a", Keys: prodKeys, Issuer: "https://auth.example.com", Audiences: []string{"x"}},
		{Name: "b", Keys: stagingKeys, Issuer: "https://auth.example.com", Audiences: []string{"x"}},
	}}); err == nil {
		t.Fatal("two issuers trusting one iss accepted")
	}
}

// TestEd25519IsEdDSA: RFC 9864's fully-specified name Ed25519 is accepted wherever EdDSA is — in
// a token's header, a JWK's alg and the algorithms list — so a Better Auth that follows the RFC
// keeps working; and an allow-list that names either admits both spellings.
func TestEd25519IsEdDSA(t *testing.T) {
	keys, priv := issuerKeys(t, "rfc", "Ed25519")
	if keys.Keys() != 1 {
		t.Fatalf("a JWK with alg Ed25519 was not loaded (%d keys)", keys.Keys())
	}
	for _, allowed := range [][]string{{"Ed25519"}, {"EdDSA"}, nil} {
		v, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: keys, Issuer: "https://a.example", Audiences: []string{"https://a.example"}, Algorithms: allowed})
		if err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{"Ed25519", "EdDSA"} {
			if _, err := v.Verify(context.Background(), edToken(t, priv, alg, "rfc", "https://a.example", "https://a.example")); err != nil {
				t.Errorf("algorithms %v, token alg %s: %v", allowed, alg, err)
			}
		}
	}
	v, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: keys, Issuer: "https://a.example", Audiences: []string{"https://a.example"}, Algorithms: []string{"ES256"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), edToken(t, priv, "Ed25519", "rfc", "https://a.example", "https://a.example")); !errors.Is(err, jwks.ErrAlgorithm) {
		t.Errorf("Ed25519 token with only ES256 allowed: %v", err)
	}
}
