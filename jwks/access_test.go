package jwks_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/jwks"
)

// An OAuth access token (typ at+jwt, RFC 9068) and a user JWT are signed with the same keys:
// each verifier takes its own type only (RFC 9068 §4), whatever the claims say.
func TestAccessTokenAndUserJWTAreToldApartByTyp(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1", ALG: jwkset.AlgEdDSA}})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jwks.NewStaticKeySet("static", []jwkset.JWK{jwk})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	const origin, authURL = "https://app.example.com", "https://app.example.com/api/auth"
	users, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: origin, Audiences: []string{origin, "https://api.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	access, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: authURL, IssuerAliases: []string{origin}, AccessToken: true})
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	tok := func(typ, iss string, aud any) string {
		h := map[string]any{"alg": "EdDSA", "kid": "k1"}
		if typ != "" {
			h["typ"] = typ
		}
		c := map[string]any{"sub": "u1", "iss": iss, "exp": exp}
		if aud != nil {
			c["aud"] = aud
		}
		return sign(t, jwt.SigningMethodEdDSA, priv, h, c)
	}
	for name, tc := range map[string]struct {
		v     *jwks.Verifier
		token string
		cause error // nil: accepted
	}{
		"access token":                        {access, tok("at+jwt", authURL, "https://api.example.com"), nil},
		"access token, application/ prefix":   {access, tok("application/AT+JWT", authURL, []string{"https://api.example.com"}), nil},
		"access token, bare origin issuer":    {access, tok("at+jwt", origin, "https://api.example.com"), nil},
		"access token of another issuer":      {access, tok("at+jwt", "https://evil.example/api/auth", "x"), jwks.ErrIssuer},
		"access token without aud":            {access, tok("at+jwt", authURL, nil), jwks.ErrMissingClaim},
		"user JWT as an access token":         {access, tok("JWT", authURL, "https://api.example.com"), jwks.ErrNotAccessToken},
		"no typ as an access token":           {access, tok("", authURL, "https://api.example.com"), jwks.ErrNotAccessToken},
		"session cache JWT as access token":   {access, tok(jwks.SessionCacheType, authURL, "x"), jwks.ErrSessionCacheType},
		"user JWT":                            {users, tok("JWT", origin, origin), nil},
		"access token as a user JWT":          {users, tok("at+jwt", origin, "https://api.example.com"), jwks.ErrAccessTokenType},
		"access token, prefixed, as user JWT": {users, tok("application/at+jwt", origin, origin), jwks.ErrAccessTokenType},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.v.Verify(context.Background(), tc.token)
			switch {
			case tc.cause == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.cause != nil && !errors.Is(err, tc.cause):
				t.Fatalf("error %v, want %v", err, tc.cause)
			case tc.cause != nil && jwks.Describe(err) != tc.cause.Error():
				t.Fatalf("Describe %q", jwks.Describe(err))
			}
		})
	}
	for token, want := range map[string]bool{tok("at+jwt", origin, "x"): true, tok("Application/At+Jwt", origin, "x"): true,
		tok("JWT", origin, "x"): false, tok("", origin, "x"): false, "opaque": false, "e30.e30.": false, "!!.e30.x": false} {
		if jwks.IsAccessToken(token) != want {
			t.Errorf("IsAccessToken(%.20s…) = %v", token, !want)
		}
	}
	if _, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: origin}); err == nil {
		t.Error("a user JWT verifier without audiences was built")
	}
}
