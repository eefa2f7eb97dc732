package claims

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/jwks/internal/strictjson"
)

var claimSeeds = []string{
	`{"iat":1796133268,"name":"Test User","email":"user-8ee4a545@example.com","emailVerified":false,"createdAt":"2026-12-01T13:54:28.149Z","updatedAt":"2026-12-01T13:54:28.149Z","role":"admin,user","banned":false,"id":"w37mJbcX","sub":"w37mJbcX","exp":1796134168,"iss":"http://127.0.0.1:41291","aud":"http://127.0.0.1:41291"}`,
	`{"sub":"u1","role":"admin,user","emailVerified":true,"n":12345678901234567890,"image":null,"org":{"id":"o1","tags":["a","b"]},"https://x.example/claim":"dotted","list":[1,"two",false],"nested":[{"a":1}]}`,
	`{"\u0073ub":"\u00e9t\u00e9","na\"me":"a\\b","org":{"\u0069d":"x\ny","deep":{"k":[1, 2 ,{"z":null}]}}, "aud":["a","b"] , "": {"": 1}}`,
	`{"a.b":1,"a":{"b":2,"c":{"d":"e"}},"x":{"y":null},"u":"<&>\u2028"}`,
	`{"exp":"soon","nbf":null,"iat":true,"aud":[1]}`,
	`{"exp":1e400,"nbf":-1.5,"iat":0,"aud":[]}`,
	`{}`,
}

var pathSeeds = []string{"sub", "role", "org.id", "org.tags", "org.deep.k", "org", "a.b", "a.c.d", "x.y", "x.y.z", "", ".", "..", ".x", "na\"me", "aud", "list", "nested", "u", "exp", "sub.x"}

// FuzzCompactClaims: whatever claims a token carries and whatever path a config reads, the
// compact claims answer as the decoded JSON does (read by decodedLookup, the map-based reading
// that compact claims replaced).
func FuzzCompactClaims(f *testing.F) {
	for i, c := range claimSeeds {
		for j := i; j < len(pathSeeds); j += len(claimSeeds) {
			f.Add([]byte(c), pathSeeds[j])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		if strictjson.Check(data, true) != nil {
			return
		}
		c, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		m := decode(t, data)
		if sub, _ := m["sub"].(string); c.Subject() != sub {
			t.Fatalf("Subject %q, decoded %q", c.Subject(), sub)
		}
		if got := c.Map(); !reflect.DeepEqual(got, m) {
			t.Fatalf("Map() %v, decoded %v", got, m)
		}
		paths := append([]string{path}, pathSeeds...)
		for name := range m {
			paths = append(paths, name)
		}
		for _, p := range paths {
			sameValue(t, p, c, m)
		}
	})
}

func sameValue(t *testing.T, path string, c Claims, m map[string]any) {
	t.Helper()
	cv, cok := c.Claim(path)
	mv, mok := decodedLookup(m, path)
	if cok != mok {
		t.Fatalf("Claim(%q) found %v, decoded %v", path, cok, mok)
	}
	if !cok {
		return
	}
	if cv.Kind() != decodedKind(mv) || cv.Text() != decodedText(mv) {
		t.Fatalf("Claim(%q) = kind %d %q, decoded kind %d %q", path, cv.Kind(), cv.Text(), decodedKind(mv), decodedText(mv))
	}
	cs, cr := cv.String()
	ms, mr := String(mv)
	if cs != ms || cr != mr {
		t.Fatalf("Claim(%q).String() = %q %v, decoded %q %v", path, cs, cr, ms, mr)
	}
	if !reflect.DeepEqual(cv.Any(), mv) {
		t.Fatalf("Claim(%q).Any() = %#v, decoded %#v", path, cv.Any(), mv)
	}
	var ce []Value
	cv.Elements(func(v Value) bool { ce = append(ce, v); return true })
	me, _ := mv.([]any)
	if len(ce) != len(me) {
		t.Fatalf("Claim(%q) has %d elements, decoded %d", path, len(ce), len(me))
	}
	for i := range ce {
		a, _ := ce[i].String()
		b, _ := String(me[i])
		if ce[i].Kind() != decodedKind(me[i]) || ce[i].Text() != decodedText(me[i]) || a != b || !reflect.DeepEqual(ce[i].Any(), me[i]) {
			t.Fatalf("Claim(%q) element %d: %#v, decoded %#v", path, i, ce[i].Any(), me[i])
		}
	}
}

// decode is the claims' JSON decoded as encoding/json does (numbers as json.Number).
func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(string(data)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// decodedLookup finds a claim in decoded claims by name, or by a dotted path into nested
// objects when no top-level claim has the full name.
func decodedLookup(m map[string]any, path string) (any, bool) {
	if v, ok := m[path]; ok {
		return v, true
	}
	var cur any = m
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// decodedKind and decodedText are Value's Kind and Text of a decoded value.
func decodedKind(v any) Kind {
	switch v.(type) {
	case nil:
		return KindNull
	case string:
		return KindString
	case json.Number:
		return KindNumber
	case bool:
		return KindBool
	case []any:
		return KindArray
	default:
		return KindObject
	}
}

func decodedText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return string(t)
	case bool:
		if t {
			return "true"
		}
		return "false"
	}
	return ""
}

// Reading a string, number or boolean claim of compact claims allocates nothing, at the top
// level or nested.
func TestCompactClaimsReadWithoutAllocating(t *testing.T) {
	c, err := Parse([]byte(claimSeeds[0][:len(claimSeeds[0])-1] + `,"org":{"id":"o1","n":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"sub", "email", "emailVerified", "iat", "org.id", "org.n", "nope"} {
		if n := testing.AllocsPerRun(100, func() {
			v, _ := c.Claim(path)
			_, _ = v.String()
		}); n != 0 {
			t.Errorf("Claim(%q): %v allocations", path, n)
		}
	}
	if !strings.Contains(c.Subject(), "w37") {
		t.Fatal(c.Subject())
	}
}
