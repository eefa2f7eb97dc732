package jwks

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// validate checks a token's registered claims (RFC 7519 §4.1) for the trust, and returns its
// exp (unix nanoseconds). It answers exactly as golang-jwt/v5's Validator did here (with
// WithAudience, WithLeeway, WithExpirationRequired and WithIssuedAt, on claims decoded with
// json.Number): exp is required; nbf and iat, when present, must not be in the future (leeway
// allowed); aud — a string or a list of strings — must hold one of the audiences. When several
// checks fail, the one answered is, in order: expired, audience, not yet valid, a missing
// claim, a claim of the wrong type.
func (t *trust) validate(c Claims, now time.Time) (int64, error) {
	exp, hasExp, expErr := numericDate(c, "exp")
	nbf, hasNbf, nbfErr := numericDate(c, "nbf")
	iat, hasIat, iatErr := numericDate(c, "iat")
	aud, audErr := t.audience(c)
	switch {
	case hasExp && !now.Before(exp.Add(t.leeway)):
		return 0, ErrExpired
	case audErr == nil && aud == audienceOther:
		return 0, invalid(ErrAudience)
	case hasNbf && now.Before(nbf.Add(-t.leeway)), hasIat && now.Before(iat.Add(-t.leeway)):
		return 0, invalid(ErrNotYetValid)
	case !hasExp && expErr == nil, audErr == nil && aud == audienceMissing:
		return 0, invalid(ErrMissingClaim)
	case expErr != nil, nbfErr != nil, iatErr != nil, audErr != nil:
		// A claim of the wrong type (exp as a string, ...): nothing a client can act on beyond
		// "this token is not acceptable".
		return 0, invalid(ErrMalformed)
	}
	return exp.UnixNano(), nil
}

// numericDate reads a NumericDate claim as golang-jwt does: any JSON number, as float64
// seconds, truncated to whole seconds. Another type is an error.
func numericDate(c Claims, name string) (_ time.Time, present bool, _ error) {
	v, ok := c.Claim(name)
	if !ok {
		return time.Time{}, false, nil
	}
	if v.Kind() != KindNumber {
		return time.Time{}, false, ErrMalformed
	}
	f, _ := strconv.ParseFloat(v.Text(), 64) // json.Number.Float64, whose error golang-jwt ignores
	round, frac := math.Modf(f)
	return time.Unix(int64(round), int64(frac*1e9)).Truncate(time.Second), true, nil
}

// What the aud claim says of a trust's audiences.
type audienceMatch int

const (
	audienceMissing audienceMatch = iota // absent, empty, [""], or not a string or a list
	audienceOther                        // names none of them
	audienceOurs                         // names one of them
)

// audience reads aud as golang-jwt does: a string, or a list of strings (another element is an
// error); any other type counts as no audience.
func (t *trust) audience(c Claims) (audienceMatch, error) {
	v, ok := c.Claim("aud")
	if !ok {
		return audienceMissing, nil
	}
	n, first, ours := 0, "", false
	var err error
	see := func(a Value) bool {
		if a.Kind() != KindString {
			err = ErrMalformed
			return false
		}
		if n == 0 {
			first = a.Text()
		}
		n++
		ours = ours || slices.Contains(t.audiences, a.Text())
		return true
	}
	switch v.Kind() {
	case KindString:
		see(v)
	case KindArray:
		v.Elements(see)
	}
	switch {
	case err != nil:
		return audienceMissing, err
	case n == 0 || n == 1 && first == "":
		return audienceMissing, nil
	case ours, len(t.audiences) == 0:
		// No audiences: an access token verifier's, whose caller binds aud to a resource.
		return audienceOurs, nil
	}
	return audienceOther, nil
}
