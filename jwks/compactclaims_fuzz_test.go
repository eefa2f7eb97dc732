package jwks

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
// compact claims the cache keeps answer as the decoded Claims do.
func FuzzCompactClaims(f *testing.F) {
	for i, c := range claimSeeds {
		for j := i; j < len(pathSeeds); j += len(claimSeeds) {
			f.Add([]byte(c), pathSeeds[j])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		if checkObject(data, true) != nil {
			return
		}
		c, ok := newCompactClaims(data)
		if !ok {
			return
		}
		m := c.Claims()
		if m == nil {
			t.Fatal("compact claims do not decode")
		}
		if c.Subject() != m.Subject() {
			t.Fatalf("Subject %q, decoded %q", c.Subject(), m.Subject())
		}
		if got := c.Claims(); !reflect.DeepEqual(got, m) {
			t.Fatalf("Claims() %v, decoded %v", got, m)
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

func sameValue(t *testing.T, path string, c *CompactClaims, m Claims) {
	t.Helper()
	cv, cok := c.Claim(path)
	mv, mok := m.Claim(path)
	if cok != mok {
		t.Fatalf("Claim(%q) found %v, decoded %v", path, cok, mok)
	}
	if !cok {
		return
	}
	if cv.Kind() != mv.Kind() || cv.Text() != mv.Text() {
		t.Fatalf("Claim(%q) = kind %d %q, decoded kind %d %q", path, cv.Kind(), cv.Text(), mv.Kind(), mv.Text())
	}
	cs, cr := cv.String()
	ms, mr := mv.String()
	if cs != ms || cr != mr {
		t.Fatalf("Claim(%q).String() = %q %v, decoded %q %v", path, cs, cr, ms, mr)
	}
	if want, _ := m.Lookup(path); !reflect.DeepEqual(cv.Any(), want) {
		t.Fatalf("Claim(%q).Any() = %#v, decoded %#v", path, cv.Any(), want)
	}
	var ce, me []Value
	cv.Elements(func(v Value) bool { ce = append(ce, v); return true })
	mv.Elements(func(v Value) bool { me = append(me, v); return true })
	if len(ce) != len(me) {
		t.Fatalf("Claim(%q) has %d elements, decoded %d", path, len(ce), len(me))
	}
	for i := range ce {
		a, _ := ce[i].String()
		b, _ := me[i].String()
		if ce[i].Kind() != me[i].Kind() || ce[i].Text() != me[i].Text() || a != b || !reflect.DeepEqual(ce[i].Any(), me[i].Any()) {
			t.Fatalf("Claim(%q) element %d: %#v, decoded %#v", path, i, ce[i].Any(), me[i].Any())
		}
	}
}

// FuzzValidate: the registered claims are judged as golang-jwt/v5's Validator judged them
// (with the options the verifier used to give it), compact or decoded, at any time.
func FuzzValidate(f *testing.F) {
	now := time.Unix(1796133500, 0)
	for _, c := range claimSeeds {
		f.Add([]byte(c), int64(0), int64(30))
	}
	for _, c := range []string{
		`{"exp":1796133499,"aud":"a"}`, `{"exp":1796133500.5,"aud":["b","a"]}`, `{"exp":1796133530,"aud":""}`,
		`{"exp":1796133600,"aud":[""]}`, `{"exp":1796133600,"aud":["","x"]}`, `{"exp":1796133600,"aud":"x","nbf":1796133531}`,
		`{"exp":1796133600,"aud":"a","iat":1796133600}`, `{"aud":"a"}`, `{"exp":0,"aud":"a"}`, `{"exp":1796133600,"aud":{"a":1}}`,
		`{"exp":1796133600,"aud":null}`, `{"exp":-1e300,"aud":"a"}`, `{"exp":1796133600,"aud":"a","nbf":"x","iat":[1]}`,
	} {
		f.Add([]byte(c), int64(0), int64(0))
		f.Add([]byte(c), int64(90), int64(30))
	}
	f.Fuzz(func(t *testing.T, data []byte, offset, leewaySeconds int64) {
		if checkObject(data, true) != nil {
			return
		}
		c, ok := newCompactClaims(data)
		if !ok {
			return
		}
		at := now.Add(time.Duration(offset%(1<<20)) * time.Second)
		leeway := time.Duration(leewaySeconds%(1<<20)) * time.Second
		tr := &trust{audiences: []string{"a"}, leeway: leeway}
		v := jwt.NewValidator(jwt.WithAudience("a"), jwt.WithLeeway(leeway), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
			jwt.WithTimeFunc(func() time.Time { return at }))
		m := c.Claims()
		want := oldClaimsError(v.Validate(jwt.MapClaims(m)))
		var wantExp int64
		if want == nil {
			e, _ := jwt.MapClaims(m).GetExpirationTime()
			wantExp = e.UnixNano()
		}
		for name, r := range map[string]ClaimReader{"compact": c, "decoded": m} {
			exp, err := tr.validate(r, at)
			if (err == nil) != (want == nil) || err != nil && err.Error() != want.Error() {
				t.Fatalf("%s: %s: error %v, golang-jwt's Validator gave %v", name, data, err, want)
			}
			if exp != wantExp {
				t.Fatalf("%s: exp %d, golang-jwt %d", name, exp, wantExp)
			}
		}
	})
}

// oldClaimsError is how the verifier mapped golang-jwt's validation errors.
func oldClaimsError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid(ErrIssuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalid(ErrAudience)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return invalid(ErrNotYetValid)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid(ErrMissingClaim)
	default:
		return invalid(ErrMalformed)
	}
}

// Reading a string, number or boolean claim of compact claims allocates nothing, at the top
// level or nested.
func TestCompactClaimsReadWithoutAllocating(t *testing.T) {
	c, ok := newCompactClaims([]byte(claimSeeds[0][:len(claimSeeds[0])-1] + `,"org":{"id":"o1","n":2}}`))
	if !ok {
		t.Fatal("not compact")
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
