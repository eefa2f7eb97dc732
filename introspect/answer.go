package introspect

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

// invalidAnswer is an answer that is not a strict RFC 7662 answer of the configured issuer:
// nothing in it is trusted, and it is an outage of introspection (ErrUnavailable), never a
// verdict on the token. why is for the operator's log.
type invalidAnswer struct{ why string }

func (e *invalidAnswer) Error() string { return ErrUnavailable.Error() + ": " + e.why }
func (e *invalidAnswer) Unwrap() error { return ErrUnavailable }

func invalid(format string, args ...any) error {
	return &invalidAnswer{fmt.Sprintf(format, args...)}
}

// maxQuoted bounds an outside value quoted in a log line.
const maxQuoted = 256

// parseAnswer reads an introspection answer (RFC 7662 §2.2) as Better Auth's OAuth provider
// writes it: one JSON object, no member name twice at any depth. {"active": false} is
// ErrInactive. An active token's answer must carry iss (one of issuers), exp (in the future:
// else ErrExpired) and client_id; a token bound to a key (cnf, or token_type DPoP) is ErrBound.
// The claims are the answer's, as a verified JWT access token's would be: a token of the
// client_credentials grant (no user: no sub and no sid) gets its client as sub, as Better
// Auth's JWT access tokens do — unless its scope holds one only a user grants (openid, …): then
// it is a user's token whose user is gone, ErrInactive. exp is returned for the cache.
func parseAnswer(body []byte, issuers []string, now time.Time) (jwks.Claims, time.Time, error) {
	c, err := jwks.ParseClaims(body)
	if err != nil {
		return jwks.Claims{}, time.Time{}, invalid("the answer is not one JSON object with distinct member names")
	}
	active, ok := c.Claim("active")
	switch {
	case !ok || active.Kind() != jwks.KindBool:
		return jwks.Claims{}, time.Time{}, invalid("the answer's active is missing or not a boolean")
	case active.Text() != "true":
		return jwks.Claims{}, time.Time{}, ErrInactive
	}
	if iss, ok := stringMember(c, "iss"); !ok || !slices.Contains(issuers, iss) {
		return jwks.Claims{}, time.Time{}, invalid("the answer's iss %s is not the issuer's (%s): set the issuer's accessTokenIssuer to Better Auth's",
			quoted(c, "iss"), strings.Join(issuers, ", "))
	}
	exp, ok := numericDate(c, "exp")
	if !ok {
		return jwks.Claims{}, time.Time{}, invalid("the answer's exp is missing or not a NumericDate")
	}
	if _, present := c.Claim("nbf"); present {
		nbf, ok := numericDate(c, "nbf")
		if !ok {
			return jwks.Claims{}, time.Time{}, invalid("the answer's nbf is not a NumericDate")
		}
		if nbf.After(now) {
			return jwks.Claims{}, time.Time{}, fmt.Errorf("%w: not valid yet", ErrInactive)
		}
	}
	if _, bound := c.Claim("cnf"); bound {
		return jwks.Claims{}, time.Time{}, ErrBound
	}
	if v, present := c.Claim("token_type"); present {
		switch t, _ := stringMember(c, "token_type"); {
		case v.Kind() != jwks.KindString:
			return jwks.Claims{}, time.Time{}, invalid("the answer's token_type is not a string")
		case strings.EqualFold(t, "DPoP"):
			return jwks.Claims{}, time.Time{}, ErrBound
		case !strings.EqualFold(t, "Bearer"):
			return jwks.Claims{}, time.Time{}, invalid("the answer's token_type %s is neither Bearer nor DPoP", quoted(c, "token_type"))
		}
	}
	if !exp.After(now) {
		return jwks.Claims{}, time.Time{}, ErrExpired
	}
	if v, present := c.Claim("scope"); present && v.Kind() != jwks.KindString {
		return jwks.Claims{}, time.Time{}, invalid("the answer's scope is not a string")
	}
	clientID, ok := stringMember(c, "client_id")
	if !ok || clientID == "" {
		return jwks.Claims{}, time.Time{}, invalid("the answer has no client_id")
	}
	if _, present := c.Claim("sub"); present {
		if sub, ok := stringMember(c, "sub"); !ok || sub == "" {
			return jwks.Claims{}, time.Time{}, invalid("the answer's sub is not a string")
		}
		return c, exp, nil
	}
	if _, present := c.Claim("sid"); present {
		return jwks.Claims{}, time.Time{}, invalid("the answer names a session (sid) but no subject (sub)")
	}
	if scope, _ := stringMember(c, "scope"); userDelegated(scope) {
		// Better Auth omits sub when the token's user no longer exists (no cascade deleted the
		// token), and sid when a refresh outlived the session: a user's token, never a client's.
		return jwks.Claims{}, time.Time{}, fmt.Errorf("%w: a user's token without its user", ErrInactive)
	}
	m := c.Map()
	m["sub"] = clientID
	c, err = jwks.ClaimsFromMap(m)
	if err != nil {
		return jwks.Claims{}, time.Time{}, invalid("the answer's claims cannot be kept")
	}
	return c, exp, nil
}

// userDelegated reports whether scope holds a scope only a user can grant: Better Auth's
// client_credentials grant refuses these (USER_DELEGATED_SCOPES in @better-auth/oauth-provider).
func userDelegated(scope string) bool {
	for s := range strings.FieldsSeq(scope) {
		switch s {
		case "openid", "profile", "email", "offline_access":
			return true
		}
	}
	return false
}

// stringMember is a top-level member that is a string. (Claims.Claim would read "a.b" as a
// path when there is no member of that name: the names here have no dots.)
func stringMember(c jwks.Claims, name string) (string, bool) {
	v, ok := c.Claim(name)
	if !ok || v.Kind() != jwks.KindString {
		return "", false
	}
	return v.Text(), true
}

// numericDate is a member that is a JSON number of seconds since the epoch (RFC 7519 §2),
// positive and within the next few thousand years.
func numericDate(c jwks.Claims, name string) (time.Time, bool) {
	v, ok := c.Claim(name)
	if !ok || v.Kind() != jwks.KindNumber {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(v.Text(), 64)
	if err != nil || math.IsNaN(f) || f <= 0 || f > 1e11 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// quoted is a member's JSON for a log line, cut at maxQuoted bytes ("absent" when there is none).
func quoted(c jwks.Claims, name string) string {
	v, ok := c.Claim(name)
	if !ok {
		return "(absent)"
	}
	s := v.Text()
	if v.Kind() == jwks.KindString {
		if len(s) > maxQuoted {
			s = s[:maxQuoted] + "…"
		}
		return strconv.Quote(s)
	}
	if s == "" {
		s = "(" + kindName(v.Kind()) + ")"
	}
	if len(s) > maxQuoted {
		s = s[:maxQuoted] + "…"
	}
	return s
}

func kindName(k jwks.Kind) string {
	switch k {
	case jwks.KindNull:
		return "null"
	case jwks.KindArray:
		return "an array"
	case jwks.KindObject:
		return "an object"
	}
	return "a value"
}
