package introspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

// FuzzParseAnswer: whatever Better Auth (or whatever answers in its place) sends, parseAnswer
// does not panic, refuses with exactly one of the package's sentinels and no claims, or keeps
// claims that encoding/json reads alike: active true, the issuer's iss, an exp to come, no cnf,
// a subject.
func FuzzParseAnswer(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	exp := now.Add(time.Hour).Unix()
	for _, seed := range []string{
		`{"active":false}`,
		fmt.Sprintf(`{"active":true,"iss":%q,"aud":"https://api.example.com","client_id":"a","azp":"a","sub":"u","sid":"s","exp":%d,"iat":%d,"scope":"read","token_type":"Bearer"}`, issuer, exp, exp-3600),
		fmt.Sprintf(`{"active":true,"iss":%q,"aud":["https://api.example.com"],"client_id":"m","exp":%d,"scope":"read write"}`, issuer, exp),
		fmt.Sprintf(`{"active":true,"iss":%q,"client_id":"m","exp":%d,"cnf":{"jkt":"x"},"token_type":"DPoP"}`, issuer, exp),
		fmt.Sprintf(`{"active":true,"iss":%q,"client_id":"m","exp":%d.5,"nbf":1e9,"sub":"\u0075"}`, issuer, exp),
		fmt.Sprintf(`{"active":true,"iss":%q,"client_id":"m","exp":1}`, issuer),
		`{"active":true,"active":false}`,
		`{"active":"true"}`,
		`[true]`, `null`, `{"active":true,"iss":{"a":1,"a":2}}`, "{\"active\":false}\n\t ",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > DefaultMaxResponseBytes { // the caller refuses a longer answer unread
			return
		}
		c, at, err := parseAnswer(body, []string{issuer}, now)
		if err != nil {
			n := 0
			for _, s := range []error{ErrInactive, ErrExpired, ErrBound, ErrUnavailable} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 || !c.IsZero() || !at.IsZero() {
				t.Fatalf("%v (%d sentinels), claims %v", err, n, c.Map())
			}
			return
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			t.Fatalf("kept claims of what encoding/json refuses: %v", err)
		}
		_, cnf := m["cnf"]
		sub, _ := m["sub"].(string)
		if sub == "" {
			sub, _ = m["client_id"].(string)
		}
		if m["active"] != true || m["iss"] != issuer || !at.After(now) || cnf || sub == "" || c.Subject() != sub {
			t.Fatalf("kept %v (exp %s)", m, at)
		}
		if c.Size() > 4*len(body)+1024 {
			t.Fatalf("claims of %d bytes from an answer of %d", c.Size(), len(body))
		}
	})
}
