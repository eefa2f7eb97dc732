package jwks_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/jwks"
)

// A JWKS as Better Auth 1.7 serves it: every algorithm it supports, kid/kty/alg (and crv), no use.
const betterAuthJWKS = `{"keys":[
 {"alg":"EdDSA","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kty":"OKP","kid":"ed"},
 {"alg":"ES256","crv":"P-256","x":"6nDW7e0vf9ZPfQp6g2Bz4m3hGJDVMT3ZNc3nFvCWJlg","y":"3vU1kqSnJtNQ7rDZ-wNBPhhAk3wvvYbBnQwUu6Hra3s","kty":"EC","kid":"es"}
]}`

func TestParseSet(t *testing.T) {
	cases := map[string]struct {
		doc      string
		keys     int
		problems int
		err      string // substring; "" = no error
	}{
		"Better Auth's shape":      {doc: betterAuthJWKS, keys: 1, problems: 1}, // the ES256 x/y above is not on the curve
		"empty set is normal":      {doc: `{"keys":[]}`},
		"not JSON":                 {doc: `<html>`, err: "not a JSON Web Key Set"},
		"no keys member":           {doc: `{"kids":[]}`, err: `no "keys" member`},
		"keys not a list":          {doc: `{"keys":{}}`, err: "not a JSON Web Key Set"},
		"only unusable keys":       {doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA","kid":"a"}]}`, err: "none of its 1 keys is usable"},
		"no kid":                   {doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc"}]}`, err: `no "kid"`},
		"symmetric key never used": {doc: `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`, err: "symmetric keys are never trusted"},
		"encryption key":           {doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"e","use":"enc"}]}`, err: `use "enc"`},
		"duplicate kid": {
			doc:  `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"}]}`,
			keys: 1, problems: 1,
		},
		"one bad key among good ones": {
			doc:  `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"g"},{"kty":"XYZ","kid":"b"},7]}`,
			keys: 1, problems: 2,
		},
		"two different keys under one kid refuse the set": {
			doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"d"}]}`,
			err: `kid "d" names two different keys`,
		},
		"a member twice in a key refuses the set": {
			doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"g"},{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"x2"}]}`,
			err: "a member name appears twice",
		},
		"keys twice":          {doc: `{"keys":[],"keys":[]}`, err: "a member name appears twice"},
		"trailing data":       {doc: `{"keys":[]}{"keys":[]}`, err: "not a JSON Web Key Set"},
		"RSA under 2048 bits": {doc: `{"keys":[` + rsaJWK(1024, "small") + `,` + rsaJWK(2048, "big") + `]}`, keys: 1, problems: 1},
		"private parts are ignored": {
			doc:  `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","d":"AAAA","kid":"p"}]}`,
			keys: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			keys, problems, err := jwks.ParseSet([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != tc.keys || len(problems) != tc.problems {
				t.Fatalf("%d keys, %d problems (%v); want %d, %d", len(keys), len(problems), problems, tc.keys, tc.problems)
			}
		})
	}
}

// rsaJWK is a fresh RSA public key of bits as a JWK.
func rsaJWK(bits int, kid string) string {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return fmt.Sprintf(`{"kty":"RSA","alg":"RS256","kid":%q,"n":%q,"e":%q}`, kid, enc(k.N.Bytes()), enc(big.NewInt(int64(k.E)).Bytes()))
}

func FuzzParseSet(f *testing.F) {
	for _, seed := range []string{betterAuthJWKS, `{"keys":[]}`, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}]}`, `null`, `{"keys":null}`, `{"keys":[{"kty":"EC","crv":"P-521","x":"","y":"","kid":"x"}]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, problems, err := jwks.ParseSet(data)
		if err != nil && len(keys) > 0 {
			t.Fatalf("error %v with %d keys", err, len(keys))
		}
		seen := map[string]bool{}
		for _, k := range keys {
			kid := k.Marshal().KID
			if kid == "" || seen[kid] {
				t.Fatalf("kid %q empty or repeated", kid)
			}
			seen[kid] = true
		}
		_ = problems
	})
}
