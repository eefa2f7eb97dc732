package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/jwks"
)

func TestVerifyEveryAlgorithmBetterAuthSigns(t *testing.T) {
	v, ks := verifierFor(t, ba, nil, nil)
	waitLoaded(t, ks, 10*time.Second)
	for _, alg := range jwks.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			m := mint(t, ba, betterauth.MintOptions{Alg: alg})
			if got := header(t, m.Token)["alg"]; got != alg {
				t.Fatalf("Better Auth signed with %v, want %s", got, alg)
			}
			claims, err := v.Verify(context.Background(), m.Token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if claims.Subject() != m.UserID {
				t.Errorf("sub = %q, want %q", claims.Subject(), m.UserID)
			}
			if claims.Map()["email"] != m.Email {
				t.Errorf("email = %v, want %q", claims.Map()["email"], m.Email)
			}
		})
	}
}

func TestVerifyRefusals(t *testing.T) {
	for _, cache := range []int{0, 1000} {
		t.Run(fmt.Sprintf("cache %d", cache), func(t *testing.T) { testVerifyRefusals(t, cache) })
	}
}

// testVerifyRefusals runs the attack set with the verified-token cache off or on. With it on,
// each token is verified twice: the second answer (from the cache) must be the first one.
func testVerifyRefusals(t *testing.T, cacheEntries int) {
	v, ks := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.CacheEntries = cacheEntries }, nil)
	waitLoaded(t, ks, 10*time.Second)
	for name, tc := range refusalCases(t, mint(t, ba, betterauth.MintOptions{})) {
		t.Run(name, func(t *testing.T) {
			token := tc.token(t)
			claims, err := v.Verify(context.Background(), token)
			if err == nil {
				t.Fatalf("Verify accepted it: %v", claims)
			}
			if _, again := v.Verify(context.Background(), token); again == nil || again.Error() != err.Error() {
				t.Fatalf("second answer %v, first %v", again, err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %q, want %v", err, tc.want)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("error %q, want cause %v", err, tc.cause)
			}
			if tc.cause != nil && jwks.Describe(err) != tc.cause.Error() {
				t.Errorf("Describe = %q, want %q", jwks.Describe(err), tc.cause.Error())
			}
		})
	}
}

// refusal is a token Verify refuses with want (and, for ErrInvalidToken, cause).
type refusal struct {
	token func(t *testing.T) string
	want  error // sentinel
	cause error // for ErrInvalidToken
}

// refusalCases is the attack set: tokens made from good (minted by ba) or from scratch that
// Verify must refuse, each with why.
func refusalCases(t *testing.T, good *betterauth.Minted) map[string]refusal {
	kid := header(t, good.Token)["kid"].(string)
	parts := strings.Split(good.Token, ".")
	payload := decodeSegment(t, parts[1])

	edKey := func() ed25519.PrivateKey {
		_, k, _ := ed25519.GenerateKey(rand.Reader)
		return k
	}
	now := time.Now().Unix()
	future := now + 3600

	return map[string]refusal{
		"expired (expirationTime -10m)": {
			token: func(t *testing.T) string {
				return mint(t, ba, betterauth.MintOptions{ExpirationTime: "-10m"}).Token
			},
			want: jwks.ErrExpired,
		},
		"not yet valid (nbf in an hour)": {
			token: func(t *testing.T) string {
				return mint(t, ba, betterauth.MintOptions{Claims: map[string]any{"nbf": future}}).Token
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrNotYetValid,
		},
		"issued in the future": {
			token: func(t *testing.T) string {
				return mint(t, ba, betterauth.MintOptions{Claims: map[string]any{"iat": future}}).Token
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrNotYetValid,
		},
		"wrong issuer": {
			token: func(t *testing.T) string {
				return mint(t, ba, betterauth.MintOptions{Issuer: "https://evil.example"}).Token
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrIssuer,
		},
		"wrong audience": {
			token: func(t *testing.T) string {
				return mint(t, ba, betterauth.MintOptions{Audience: "https://other-app.example"}).Token
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrAudience,
		},
		"session-cache cookie JWT": {
			token: func(t *testing.T) string {
				m := mint(t, ba, betterauth.MintOptions{SessionCookieCache: true})
				if m.SessionCacheToken == "" {
					t.Fatal("Better Auth set no session-cache cookie")
				}
				return m.SessionCacheToken
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrSessionCacheType,
		},
		"opaque session token": {
			token: func(t *testing.T) string { return good.SessionToken },
			want:  jwks.ErrInvalidToken, cause: jwks.ErrOpaque,
		},
		"tampered payload": {
			token: func(t *testing.T) string {
				p := clone(payload)
				p["sub"] = "someone-else"
				return parts[0] + "." + encodeSegment(t, p) + "." + parts[2]
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrSignature,
		},
		"signed by another key under the real kid": {
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodEdDSA, edKey(), map[string]any{"alg": "EdDSA", "kid": kid}, payload)
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrSignature,
		},
		"unknown kid": {
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodEdDSA, edKey(), map[string]any{"alg": "EdDSA", "kid": "no-such-kid"}, payload)
			},
			want: jwks.ErrUnknownKey,
		},
		"no kid": {
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodEdDSA, edKey(), map[string]any{"alg": "EdDSA"}, payload)
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrNoKeyID,
		},
		"alg none": {
			token: func(t *testing.T) string {
				return encodeSegment(t, map[string]any{"alg": "none", "kid": kid}) + "." + parts[1] + "."
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrAlgorithm,
		},
		"HS256 signed with the public key bytes": {
			token: func(t *testing.T) string {
				x := publicX(t, kid)
				h := encodeSegment(t, map[string]any{"alg": "HS256", "kid": kid})
				mac := hmac.New(sha256.New, x)
				mac.Write([]byte(h + "." + parts[1]))
				return h + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrAlgorithm,
		},
		"ES256 header on the EdDSA key's kid": {
			token: func(t *testing.T) string {
				k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				return sign(t, jwt.SigningMethodES256, k, map[string]any{"alg": "ES256", "kid": kid}, payload)
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrKeyMismatch,
		},
		"unsupported alg name": {
			token: func(t *testing.T) string {
				return encodeSegment(t, map[string]any{"alg": "XS999", "kid": kid}) + "." + parts[1] + "." + parts[2]
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrAlgorithm,
		},
		"256 KiB token": {
			token: func(t *testing.T) string {
				p := clone(payload)
				p["pad"] = strings.Repeat("a", 256<<10)
				return parts[0] + "." + encodeSegment(t, p) + "." + parts[2]
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrTooLarge,
		},
		"four segments": {
			token: func(t *testing.T) string { return good.Token + ".x" },
			want:  jwks.ErrInvalidToken, cause: jwks.ErrMalformed,
		},
		"header not JSON": {
			token: func(t *testing.T) string {
				return base64.RawURLEncoding.EncodeToString([]byte("{not json")) + "." + parts[1] + "." + parts[2]
			},
			want: jwks.ErrInvalidToken, cause: jwks.ErrMalformed,
		},
		"payload not base64": {
			token: func(t *testing.T) string { return parts[0] + ".!!!." + parts[2] },
			want:  jwks.ErrInvalidToken, cause: jwks.ErrMalformed,
		},
		"empty": {
			token: func(t *testing.T) string { return "" },
			want:  jwks.ErrInvalidToken, cause: jwks.ErrOpaque,
		},
	}
}

func TestVerifyAllowlistAndAudiences(t *testing.T) {
	t.Run("algorithm outside the configured list", func(t *testing.T) {
		v, ks := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.Algorithms = []string{"EdDSA"} }, nil)
		waitLoaded(t, ks, 10*time.Second)
		_, err := v.Verify(context.Background(), mint(t, ba, betterauth.MintOptions{Alg: "ES256"}).Token)
		if !errors.Is(err, jwks.ErrAlgorithm) {
			t.Fatalf("error %v, want ErrAlgorithm", err)
		}
	})
	t.Run("audience array with one accepted", func(t *testing.T) {
		v, ks := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.Audiences = []string{"api-b"} }, nil)
		waitLoaded(t, ks, 10*time.Second)
		tok := mint(t, ba, betterauth.MintOptions{Audience: []string{"api-a", "api-b"}}).Token
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("session-cache JWT: from a session-cookie verifier only", func(t *testing.T) {
		m := mint(t, ba, betterauth.MintOptions{SessionCookieCache: true})
		// An access-token verifier refuses it, even one whose audiences name the cookie's.
		bearer, ks := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.Audiences = []string{jwks.SessionCacheAudience} }, nil)
		waitLoaded(t, ks, 10*time.Second)
		if _, err := bearer.Verify(context.Background(), m.SessionCacheToken); !errors.Is(err, jwks.ErrSessionCacheType) {
			t.Errorf("as an access token: %v, want ErrSessionCacheType", err)
		}
		cookie, ks2 := verifierFor(t, ba, func(o *jwks.VerifierOptions) {
			o.Audiences = []string{jwks.SessionCacheAudience}
			o.SessionCookie = true
		}, nil)
		waitLoaded(t, ks2, 10*time.Second)
		claims, err := cookie.Verify(context.Background(), m.SessionCacheToken)
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject() != m.UserID {
			t.Errorf("sub %q, want %q", claims.Subject(), m.UserID)
		}
		// ...and an ordinary access token in the cookie is refused.
		if _, err := cookie.Verify(context.Background(), m.Token); !errors.Is(err, jwks.ErrNotSessionCache) {
			t.Errorf("access token as the cookie: %v, want ErrNotSessionCache", err)
		}
	})
	t.Run("clock skew tolerates a just-expired token", func(t *testing.T) {
		// Minted with exp 1s ago; accepted with 30s skew, refused with none.
		tok := mint(t, ba, betterauth.MintOptions{ExpirationTime: "-1s"}).Token
		v, ks := verifierFor(t, ba, nil, nil)
		waitLoaded(t, ks, 10*time.Second)
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("30s skew: %v", err)
		}
		strict, ks2 := verifierFor(t, ba, func(o *jwks.VerifierOptions) { o.ClockSkew = 0 }, nil)
		waitLoaded(t, ks2, 10*time.Second)
		if _, err := strict.Verify(context.Background(), tok); !errors.Is(err, jwks.ErrExpired) {
			t.Errorf("no skew: %v, want ErrExpired", err)
		}
	})
}

func TestNewVerifierRefusesBadOptions(t *testing.T) {
	ks, err := jwks.NewKeySet(jwks.KeySetOptions{URL: "http://127.0.0.1:1/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]jwks.VerifierOptions{
		"no keys":     {Issuer: "x", Audiences: []string{"x"}},
		"no issuer":   {Keys: ks, Audiences: []string{"x"}},
		"no audience": {Keys: ks, Issuer: "x"},
		"HS256":       {Keys: ks, Issuer: "x", Audiences: []string{"x"}, Algorithms: []string{"HS256"}},
		"none":        {Keys: ks, Issuer: "x", Audiences: []string{"x"}, Algorithms: []string{"none"}},
	}
	for name, o := range cases {
		if _, err := jwks.NewVerifier(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// --- helpers ---

func header(t testing.TB, token string) map[string]any {
	t.Helper()
	return decodeSegment(t, strings.Split(token, ".")[0])
}

func decodeSegment(t testing.TB, s string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeSegment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// sign makes a token with the given header and claims, signed by key.
func sign(t testing.TB, method jwt.SigningMethod, key any, hdr, claims map[string]any) string {
	t.Helper()
	signing := encodeSegment(t, hdr) + "." + encodeSegment(t, claims)
	sig, err := method.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// publicX returns the raw public key bytes (the JWK's x) of kid, as an attacker would read them
// from the JWKS.
func publicX(t testing.TB, kid string) []byte {
	t.Helper()
	resp, err := http.Get(ba.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k["kid"] == kid {
			x, err := base64.RawURLEncoding.DecodeString(k["x"].(string))
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
	}
	t.Fatalf("kid %s not in the JWKS", kid)
	return nil
}
