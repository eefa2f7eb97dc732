package jwks

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzValidate: the registered claims are judged as golang-jwt/v5's Validator judged them
// (with the options the verifier used to give it), at any time.
func FuzzValidate(f *testing.F) {
	now := time.Unix(1796133500, 0)
	// The claims seeds of FuzzCompactClaims (package claims).
	for _, c := range []string{
		`{"iat":1796133268,"name":"Test User","email":"user-8ee4a545@example.com","emailVerified":false,"createdAt":"2026-12-01T13:54:28.149Z","updatedAt":"2026-12-01T13:54:28.149Z","role":"admin,user","banned":false,"id":"w37mJbcX","sub":"w37mJbcX","exp":1796134168,"iss":"http://127.0.0.1:41291","aud":"http://127.0.0.1:41291"}`,
		`{"sub":"u1","role":"admin,user","emailVerified":true,"n":12345678901234567890,"image":null,"org":{"id":"o1","tags":["a","b"]},"https://x.example/claim":"dotted","list":[1,"two",false],"nested":[{"a":1}]}`,
		`{"\u0073ub":"\u00e9t\u00e9","na\"me":"a\\b","org":{"\u0069d":"x\ny","deep":{"k":[1, 2 ,{"z":null}]}}, "aud":["a","b"] , "": {"": 1}}`,
		`{"a.b":1,"a":{"b":2,"c":{"d":"e"}},"x":{"y":null},"u":"<&>\u2028"}`,
		`{"exp":"soon","nbf":null,"iat":true,"aud":[1]}`,
		`{"exp":1e400,"nbf":-1.5,"iat":0,"aud":[]}`,
		`{}`,
	} {
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
		c, err := ParseClaims(data)
		if err != nil {
			return
		}
		at := now.Add(time.Duration(offset%(1<<20)) * time.Second)
		leeway := time.Duration(leewaySeconds%(1<<20)) * time.Second
		tr := &trust{audiences: []string{"a"}, leeway: leeway}
		v := jwt.NewValidator(jwt.WithAudience("a"), jwt.WithLeeway(leeway), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
			jwt.WithTimeFunc(func() time.Time { return at }))
		m := c.Map()
		want := oldClaimsError(v.Validate(jwt.MapClaims(m)))
		var wantExp int64
		if want == nil {
			e, _ := jwt.MapClaims(m).GetExpirationTime()
			wantExp = e.UnixNano()
		}
		exp, err := tr.validate(c, at)
		if (err == nil) != (want == nil) || err != nil && err.Error() != want.Error() {
			t.Fatalf("%s: error %v, golang-jwt's Validator gave %v", data, err, want)
		}
		if exp != wantExp {
			t.Fatalf("exp %d, golang-jwt %d", exp, wantExp)
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
