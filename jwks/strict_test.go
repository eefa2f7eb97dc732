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
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/jwks"
)

// localSigner is an issuer whose key the test holds, so that tokens can be built byte by byte
// and still carry a valid signature: each refusal below is for the defect named, never for a
// bad signature.
type localSigner struct {
	priv ed25519.PrivateKey
	v    *jwks.Verifier
}

func newLocalSigner(t testing.TB) *localSigner {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	doc := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":%q}]}`,
		base64.RawURLEncoding.EncodeToString(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	ks := startKeySet(t, jwks.KeySetOptions{URL: srv.URL})
	waitLoaded(t, ks, 5*time.Second)
	v, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: "https://auth.example.com", Audiences: []string{"https://auth.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	return &localSigner{priv: priv, v: v}
}

// raw signs exactly these encoded segments.
func (s *localSigner) raw(t testing.TB, header, payload string) string {
	t.Helper()
	sig, err := jwt.SigningMethodEdDSA.Sign(header+"."+payload, s.priv)
	if err != nil {
		t.Fatal(err)
	}
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// json signs a header and payload given as JSON text.
func (s *localSigner) json(t testing.TB, header, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	return s.raw(t, enc([]byte(header)), enc([]byte(payload)))
}

func goodPayload() string {
	return fmt.Sprintf(`{"iss":"https://auth.example.com","aud":"https://auth.example.com","sub":"user-1","exp":%d,"iat":%d}`,
		time.Now().Add(time.Hour).Unix(), time.Now().Unix())
}

const goodHeader = `{"alg":"EdDSA","kid":"k1"}`

// strayBits re-spells an unpadded base64url segment with a non-zero unused bit in its last
// character: lenient decoders read the same bytes, a strict one refuses it.
func strayBits(t testing.TB, seg string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		t.Fatalf("segment of length %d has no unused bits", len(seg))
	}
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[i|1])
}

func TestVerifyIsStrictAboutJOSE(t *testing.T) {
	s := newLocalSigner(t)
	enc := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }
	payload := goodPayload()
	// A payload whose encoding has unused bits (length not a multiple of 3).
	oddPayload := payload
	for len(oddPayload)%3 == 0 {
		oddPayload = strings.Replace(oddPayload, `"sub"`, `"sub" `, 1)
	}

	if _, err := s.v.Verify(context.Background(), s.json(t, goodHeader, payload)); err != nil {
		t.Fatalf("the well-formed control token was refused: %v", err)
	}
	if _, err := s.v.Verify(context.Background(), s.json(t, goodHeader, oddPayload)); err != nil {
		t.Fatalf("the well-formed control token (odd length) was refused: %v", err)
	}

	cases := map[string]struct {
		token func() string
		cause error
	}{
		"crit with an unknown extension": {
			token: func() string {
				return s.json(t, `{"alg":"EdDSA","kid":"k1","crit":["x-ext"],"x-ext":1}`, payload)
			},
			cause: jwks.ErrCritical,
		},
		"crit exp": {
			token: func() string { return s.json(t, `{"alg":"EdDSA","kid":"k1","crit":["exp"],"exp":1}`, payload) },
			cause: jwks.ErrCritical,
		},
		"crit b64 false": {
			token: func() string {
				return s.json(t, `{"alg":"EdDSA","kid":"k1","crit":["b64"],"b64":false}`, payload)
			},
			cause: jwks.ErrCritical,
		},
		"crit empty list": {
			token: func() string { return s.json(t, `{"alg":"EdDSA","kid":"k1","crit":[]}`, payload) },
			cause: jwks.ErrCritical,
		},
		"crit of the wrong type": {
			token: func() string { return s.json(t, `{"alg":"EdDSA","kid":"k1","crit":"exp"}`, payload) },
			cause: jwks.ErrCritical,
		},
		"crit null": {
			token: func() string { return s.json(t, `{"alg":"EdDSA","kid":"k1","crit":null}`, payload) },
			cause: jwks.ErrCritical,
		},
		"a second object after the claims": {
			token: func() string { return s.json(t, goodHeader, payload+`{"sub":"admin"}`) },
			cause: jwks.ErrMalformed,
		},
		"garbage after the claims": {
			token: func() string { return s.json(t, goodHeader, payload+`x`) },
			cause: jwks.ErrMalformed,
		},
		"a second object after the header": {
			token: func() string { return s.json(t, goodHeader+`{"alg":"none"}`, payload) },
			cause: jwks.ErrMalformed,
		},
		"sub twice": {
			token: func() string {
				return s.json(t, goodHeader, strings.Replace(payload, `"sub":"user-1"`, `"sub":"user-1","sub":"admin"`, 1))
			},
			cause: jwks.ErrMalformed,
		},
		"sub twice, once escaped": {
			token: func() string {
				return s.json(t, goodHeader, strings.Replace(payload, `"sub":"user-1"`, `"sub":"user-1","\u0073ub":"admin"`, 1))
			},
			cause: jwks.ErrMalformed,
		},
		"a nested member twice": {
			token: func() string {
				return s.json(t, goodHeader, strings.Replace(payload, `"sub":"user-1"`, `"sub":"user-1","org":{"id":"a","id":"b"}`, 1))
			},
			cause: jwks.ErrMalformed,
		},
		"alg twice in the header": {
			token: func() string { return s.json(t, `{"alg":"EdDSA","kid":"k1","alg":"none"}`, payload) },
			cause: jwks.ErrMalformed,
		},
		"kid twice in the header": {
			token: func() string { return s.json(t, `{"alg":"EdDSA","kid":"k1","kid":"k2"}`, payload) },
			cause: jwks.ErrMalformed,
		},
		"kid not a string": {
			token: func() string { return s.json(t, `{"alg":"EdDSA","kid":1}`, payload) },
			cause: jwks.ErrMalformed,
		},
		"claims are a list": {
			token: func() string { return s.json(t, goodHeader, `[`+payload+`]`) },
			cause: jwks.ErrMalformed,
		},
		"header is a string": {
			token: func() string { return s.json(t, `"EdDSA"`, payload) },
			cause: jwks.ErrMalformed,
		},
		"claims not UTF-8": {
			token: func() string { return s.json(t, goodHeader, strings.Replace(payload, `"user-1"`, "\"user-\xff\"", 1)) },
			cause: jwks.ErrMalformed,
		},
		"padded base64": {
			token: func() string {
				p := base64.URLEncoding.EncodeToString([]byte(oddPayload))
				return s.raw(t, enc(goodHeader), p)
			},
			cause: jwks.ErrMalformed,
		},
		"standard base64 alphabet": {
			token: func() string {
				p := base64.RawStdEncoding.EncodeToString([]byte(payload + `    `))
				if !strings.ContainsAny(p, "+/") {
					p = base64.RawStdEncoding.EncodeToString([]byte(strings.Replace(payload, "user-1", "user-1>>>???", 1)))
				}
				if !strings.ContainsAny(p, "+/") {
					t.Fatal("test payload has no + or / in standard base64")
				}
				return s.raw(t, enc(goodHeader), p)
			},
			cause: jwks.ErrMalformed,
		},
		"a line break inside a segment": {
			token: func() string {
				p := enc(payload)
				return s.raw(t, enc(goodHeader), p[:10]+"\n"+p[10:])
			},
			cause: jwks.ErrMalformed,
		},
		"stray bits in the last character": {
			token: func() string { return s.raw(t, enc(goodHeader), strayBits(t, enc(oddPayload))) },
			cause: jwks.ErrMalformed,
		},
		"stray bits in the signature": {
			token: func() string {
				tok := s.json(t, goodHeader, payload)
				i := strings.LastIndexByte(tok, '.')
				return tok[:i+1] + strayBits(t, tok[i+1:])
			},
			cause: jwks.ErrMalformed,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := s.v.Verify(context.Background(), tc.token())
			if !errors.Is(err, jwks.ErrInvalidToken) || !errors.Is(err, tc.cause) {
				t.Fatalf("error %v, want ErrInvalidToken with %v", err, tc.cause)
			}
			if got := jwks.Describe(err); got != tc.cause.Error() {
				t.Errorf("Describe = %q, want %q", got, tc.cause.Error())
			}
		})
	}
}
