package jwks

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/jwks/internal/strictjson"
	"github.com/betterauthz/betterauthz/jwks/jws"
)

// Header is a token's protected header as a Verifier reads it (Crit: it has a crit parameter,
// which is never accepted).
type Header = jws.Header

// Outcome is what one check of a token found. Checked is false when the check could not run
// because one it needs failed (no claims to read, no issuer chosen, no key found).
type Outcome struct {
	Checked bool
	// Err is nil when the check passed; else an error as Verify returns it (errors.Is and
	// Describe work on it).
	Err error
}

// Failed reports whether the check ran and failed.
func (o Outcome) Failed() bool { return o.Checked && o.Err != nil }

func outcome(err error) Outcome { return Outcome{Checked: true, Err: err} }

// Explanation is what each check Verify makes found about one token, for a person to read: it
// goes on past a failed check wherever the next one still means something (an expired token
// still has its signature checked). Err is the verdict, Verify's own answer: it is an error
// exactly when some check failed (Key with ErrNotReady, ErrKeysUnavailable, ErrKeysStale or
// ErrTimeout when the keys could not be had; Form when the verifier's Transform refused the
// claims).
type Explanation struct {
	// Err is what Verify answers (nil: accepted).
	Err error
	// Header and Claims are the token's (Claims zero when unreadable). The signature is never
	// part of an Explanation.
	Header Header
	Claims Claims
	// Form: size, three parts of canonical base64url, a header and claims that are each one
	// JSON object with distinct member names, no crit. Its Err says which part is wrong.
	Form Outcome
	// Type: the header's typ fits the verifier (not the session-cache cookie's, for tokens).
	Type Outcome
	// Issuer: iss names a trusted issuer. Trust names the issuer whose keys and audiences the
	// checks below used: the one iss names or, when it names none and only one is trusted,
	// that one; else "" and those checks did not run.
	Issuer Outcome
	Trust  string
	// Algorithm: the header's alg is allowed (for the issuer, when one is chosen).
	Algorithm Outcome
	// Key: the header has a kid, the issuer's key set holds it, and the key is for alg.
	Key Outcome
	// Signature: the signature verifies with that key.
	Signature Outcome
	// Audience, Expiry, NotBefore and IssuedAt: the aud, exp, nbf and iat claims, with the
	// clock skew. An absent nbf or iat passes, as in Verify; an absent exp or aud fails.
	Audience, Expiry, NotBefore, IssuedAt Outcome
}

// Explain runs Verify's checks on token one by one and says what each found. The verdict is
// Verify's (the verified-token cache is neither read nor written); the key lookups are the
// same, so an unknown kid waits for a refresh under ctx as in Verify.
func (v *Verifier) Explain(ctx context.Context, token string) Explanation {
	var e Explanation
	if e.Err = v.precheck(token); e.Err != nil {
		e.Form = outcome(e.Err)
		if errors.Is(e.Err, ErrMalformed) {
			e.Form = outcome(invalid(jws.Malformed(token)))
		}
		return e
	}
	_, _, _, _, e.Err = v.verify(ctx, token)

	t, err := jws.Parse(token)
	if err != nil {
		e.Form = outcome(invalid(jws.Malformed(token)))
		return e
	}
	h := t.Header
	e.Header = h
	e.Form = outcome(nil)
	if h.Crit {
		e.Form = outcome(invalid(ErrCritical))
	}
	switch {
	case jws.IsSessionCacheType(h.Typ) && !v.cookie:
		e.Type = outcome(invalid(ErrSessionCacheType))
	case v.cookie && !jws.IsSessionCacheType(h.Typ):
		e.Type = outcome(invalid(ErrNotSessionCache))
	case v.access && !jws.IsAccessTokenType(h.Typ):
		e.Type = outcome(invalid(ErrNotAccessToken))
	case !v.access && jws.IsAccessTokenType(h.Typ):
		e.Type = outcome(invalid(ErrAccessTokenType))
	default:
		e.Type = outcome(nil)
	}
	alg := jws.CanonicalAlgorithm(h.Alg)
	e.Algorithm = outcome(nil)
	if !slices.Contains(v.algorithms, alg) {
		e.Algorithm = outcome(invalid(ErrAlgorithm))
	}
	if e.Claims, err = ParseClaims(t.Payload); err != nil {
		why := strictjson.Check(t.Payload, true)
		if why == nil {
			why = strictjson.ErrInvalidJSON
		}
		e.Form = outcome(invalid(fmt.Errorf("%w: the claims (second part) are not one JSON object with distinct member names: %w", ErrMalformed, why)))
		return e
	}

	tr := v.explainIssuer(&e, alg)
	v.explainKey(ctx, &e, t, tr, alg)
	v.explainClaims(&e, tr)
	if v.transform != nil {
		if view, err := v.transform(e.Claims); (err != nil || view.IsZero()) && !e.Form.Failed() {
			e.Form = outcome(invalid(ErrMalformed))
		}
	}
	return e
}

// explainIssuer chooses the trust the checks after it use, as verify does, or when iss names
// none and one issuer is trusted, that one.
func (v *Verifier) explainIssuer(e *Explanation, alg string) *trust {
	tr, ok := v.byIssuer[e.Claims.StringClaim("iss")]
	e.Issuer = outcome(nil)
	if !ok {
		e.Issuer = outcome(invalid(ErrIssuer))
		tr = nil
		if len(v.trusts) == 1 {
			tr = v.trusts[0]
		}
	}
	if tr != nil {
		e.Trust = tr.name
		if !slices.Contains(tr.algorithms, alg) {
			e.Algorithm = outcome(invalid(ErrAlgorithm))
		}
	}
	return tr
}

// explainKey looks the kid up in tr's keys and checks the signature with the key, if found.
func (v *Verifier) explainKey(ctx context.Context, e *Explanation, t jws.JWS, tr *trust, alg string) {
	switch {
	case e.Header.Kid == "":
		e.Key = outcome(invalid(ErrNoKeyID))
	case tr == nil || !jws.Supported(alg):
		// No issuer's keys to look in, or no signing method to look for.
	default:
		key, err := tr.keys.Key(ctx, e.Header.Kid, alg)
		if err != nil {
			e.Key = outcome(keyError(err))
			return
		}
		e.Key = outcome(nil)
		if err := t.Verify(alg, key); err != nil {
			e.Signature = outcome(invalid(err))
		} else {
			e.Signature = outcome(nil)
		}
	}
}

// explainClaims checks each claim alone, through the validator's own rules with the same
// options: together they are what verify's validator checks. aud needs an issuer.
func (v *Verifier) explainClaims(e *Explanation, tr *trust) {
	only := func(name string) jwt.MapClaims {
		if c, ok := e.Claims.Lookup(name); ok {
			return jwt.MapClaims{name: c}
		}
		return jwt.MapClaims{}
	}
	check := func(claims jwt.MapClaims, opts ...jwt.ParserOption) Outcome {
		opts = append(opts, jwt.WithLeeway(v.skew), jwt.WithTimeFunc(v.now))
		// jwt.Validator reads numbers as this package's claims hold them.
		if err := jwt.NewValidator(opts...).Validate(claims); err != nil {
			return outcome(claimsError(err))
		}
		return outcome(nil)
	}
	e.Expiry = check(only("exp"), jwt.WithExpirationRequired())
	e.NotBefore = check(only("nbf"))
	e.IssuedAt = check(only("iat"), jwt.WithIssuedAt())
	if tr != nil {
		e.Audience = check(only("aud"), jwt.WithAudience(tr.audiences...))
	}
}

// claimsError maps a golang-jwt validation error onto this package's sentinels, as verify's
// own checks (validate) answer.
func claimsError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrExpired
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
