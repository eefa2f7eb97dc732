package relay_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/jwks/keyset"
	"github.com/betterauthz/betterauthz/jwks/relay"
)

// FuzzServe: whatever the query and If-None-Match, the relay answers 200 with the set, 304, or
// 400 — never anything else, never a panic — and what it serves is the public set.
func FuzzServe(f *testing.F) {
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	doc := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":%q,"d":"AAAA"}]}`, base64.RawURLEncoding.EncodeToString(pub))
	keys, _, err := keyset.ParseSet([]byte(doc))
	if err != nil {
		f.Fatal(err)
	}
	ks, err := keyset.NewStatic("default", keys)
	if err != nil {
		f.Fatal(err)
	}
	etag := ks.Published().ETag
	for _, seed := range [][2]string{
		{"", ""}, {"kid=k1", etag}, {"kid=nope", "*"}, {"kid=a&kid=b", ""}, {"kid=%zz", ""}, {"kid=a;b", ""},
		{"kid=" + strings.Repeat("x", 300), ""}, {"other=1", "W/" + etag}, {"kid=", `"a", ` + etag}, {"kid=k1", ",,,"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, query, ifNoneMatch string) {
		r := httptest.NewRequest(http.MethodGet, "/jwks", nil)
		r.URL.RawQuery = query
		if ifNoneMatch != "" {
			r.Header.Set("If-None-Match", ifNoneMatch)
		}
		w := httptest.NewRecorder()
		relay.Serve(w, r, ks, relay.Options{})
		switch w.Code {
		case 200:
			if body := w.Body.String(); strings.Contains(body, `"d"`) || !strings.Contains(body, `"k1"`) {
				t.Fatalf("served %s", body)
			}
		case 304, 400:
		default:
			t.Fatalf("query %q, If-None-Match %q: %d", query, ifNoneMatch, w.Code)
		}
		if w.Code != 400 && w.Header().Get("ETag") != etag {
			t.Fatalf("ETag %q", w.Header().Get("ETag"))
		}
	})
}
