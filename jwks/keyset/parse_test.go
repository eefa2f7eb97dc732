package keyset_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"

	"github.com/betterauthz/betterauthz/jwks/keyset"
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
		kids     []string // the kids of the keys, in order, when given
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
		// Neither key of a kid listed twice is trusted, the rest of the set is: a key rotated in
		// while an attacker's key sits beside a real one still verifies.
		"two different keys under one kid drop that kid": {
			doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"rotated"}]}`,
			kids: []string{"rotated"}, problems: 2,
		},
		"the same key under one kid twice, the other after a different one": {
			doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"e"}]}`,
			kids: []string{"e"}, problems: 2,
		},
		"one algorithm under one kid, another under the same kid": {
			doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","alg":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"e"}]}`,
			kids: []string{"d", "e"}, problems: 1, // Ed25519 is EdDSA's other name: the same key
		},
		"only a kid listed twice": {
			doc: `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},` +
				`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"d"}]}`,
			err: `none of its 2 keys is usable: keys[1]: kid "d" names two different keys: neither is trusted`,
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
			keys, problems, err := keyset.ParseSet([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.Marshal().KID)
			}
			if tc.kids != nil {
				tc.keys = len(tc.kids)
				if !slices.Equal(kids, tc.kids) {
					t.Errorf("kids %q, want %q", kids, tc.kids)
				}
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
	for _, seed := range []string{betterAuthJWKS, `{"keys":[]}`, `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}]}`, `null`, `{"keys":null}`, `{"keys":[{"kty":"EC","crv":"P-521","x":"","y":"","kid":"x"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"vINYwpagLtkt_D8W9bgGgUebfAZs0M1-0WM5EpsFOrc","kid":"d"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"d"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"e"}]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, problems, err := keyset.ParseSet(data)
		if err != nil && len(keys) > 0 {
			t.Fatalf("error %v with %d keys", err, len(keys))
		}
		seen := map[string]jwkset.JWK{}
		for _, k := range keys {
			kid := k.Marshal().KID
			if _, dup := seen[kid]; kid == "" || dup {
				t.Fatalf("kid %q empty or repeated", kid)
			}
			seen[kid] = k
		}
		if err != nil || len(keys) == 0 {
			return
		}
		// A kid kept is never one the document also lists with another usable key: which of
		// two keys is meant would be a guess.
		var doc struct{ Keys []json.RawMessage }
		if json.Unmarshal(data, &doc) != nil {
			t.Fatalf("ParseSet accepted what encoding/json refuses: %q", data)
		}
		for i, raw := range doc.Keys {
			one, _, err := keyset.ParseSet([]byte(`{"keys":[` + string(raw) + `]}`))
			if err != nil || len(one) != 1 {
				continue
			}
			kept, ok := seen[one[0].Marshal().KID]
			if !ok {
				continue
			}
			type equaler interface{ Equal(crypto.PublicKey) bool }
			if e, ok := kept.Key().(equaler); !ok || !e.Equal(one[0].Key()) || kept.Marshal().ALG != one[0].Marshal().ALG {
				t.Fatalf("kid %q kept although keys[%d] is another key under it (%d problems)", one[0].Marshal().KID, i, len(problems))
			}
		}
	})
}
