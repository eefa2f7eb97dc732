package jws

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseHeader reads arbitrary bytes as a protected header. Whatever it accepts,
// encoding/json reads the same way: one object, and the same alg, kid and typ — so no header
// means one thing here and another to a library that reads it with encoding/json.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{`{"alg":"EdDSA","kid":"k1"}`, `{"alg":"EdDSA","kid":"k1","typ":"JWT"}`, `{"alg":"none"}{"alg":"EdDSA"}`,
		`{"alg":"EdDSA","alg":"none"}`, `{"\u0061lg":"EdDSA","kid":1}`, `{"crit":["exp"]}`, `[]`, `{"alg":"ES256","kid":"\u006b1","x":{"y":[1,{"z":2}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHeader(data)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		for name, got := range map[string]string{"alg": h.Alg, "kid": h.Kid, "typ": h.Typ} {
			want, _ := m[name].(string)
			if got != want {
				t.Fatalf("%s = %q, encoding/json reads %q", name, got, want)
			}
		}
		if _, crit := m["crit"]; crit != h.Crit {
			t.Fatalf("crit %v, encoding/json sees %v", h.Crit, crit)
		}
	})
}

// A segment holds the base64url alphabet only: any other byte, anywhere (the decoder reads
// eight bytes at a time where it can, the rest one by one), refuses the token.
func TestSegmentsRefuseEveryByteOutsideTheAlphabet(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	seg := "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo" // 35 characters: whole quanta and a tail
	dst := make([]byte, strictBase64.DecodedLen(len(seg)+1))
	if _, err := decodeSegment(dst, seg); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 256; c++ {
		in := strings.IndexByte(alphabet, byte(c)) >= 0
		for i := 0; i <= len(seg); i++ {
			for _, s := range []string{seg[:i] + string([]byte{byte(c)}) + seg[i:], seg[:i] + string([]byte{byte(c)}) + seg[min(i+1, len(seg)):]} {
				_, err := decodeSegment(dst, s)
				if err == nil && !in {
					t.Fatalf("byte %#x at %d decoded", c, i)
				}
			}
		}
	}
}

// FuzzPeekType reads arbitrary tokens' typ as the Bearer credential does to choose a verifier:
// it never fails loudly, and whenever the whole token parses it reads the typ Parse reads, so
// no token is sent to one verifier while claiming the other's type.
func FuzzPeekType(f *testing.F) {
	for _, s := range []string{"eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.e30.AAAA", "eyJhbGciOiJFZERTQSJ9.e30.", "opaque",
		".e30.", "eyJ0eXAiOiJhdCtqd3QiLCJ0eXAiOiJKV1QifQ.e30.", "eyJ0eXAiOjF9.e30.",
		"eyJ0eXAiOiJBUFBMSUNBVElPTi9BVCtKV1QifQ.e30.", "eyJ0eXAiOiJhdFx1MDAyYmp3dCJ9.e30.", "eyJ0eXAiOiJhdCtqd3QiLCJraWQiOjF9.e30."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		typ, ok := PeekType(token)
		// PeekAccessToken is PeekType's answer, decoded (the first call may be) or remembered
		// (the second is, unless another segment took its slot): the same, always.
		for range 2 {
			if at, aok := PeekAccessToken(token); aok != ok || at != (ok && IsAccessTokenType(typ)) {
				t.Fatalf("PeekAccessToken = %v, %v; PeekType = %q, %v", at, aok, typ, ok)
			}
		}
		if strings.Count(token, ".") != 2 {
			return
		}
		j, err := Parse(token)
		if err != nil {
			return
		}
		if len(token[:strings.IndexByte(token, '.')]) <= maxHeaderSegment && (!ok || typ != j.Header.Typ) {
			t.Fatalf("PeekType = %q, %v; Parse reads typ %q", typ, ok, j.Header.Typ)
		}
	})
}
