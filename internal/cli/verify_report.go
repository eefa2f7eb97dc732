package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/jwks"
)

// report writes verify's findings for a person: what is trusted, the keys, the claims, one line
// per check with what to do under a failure, and the verdict. It is given the decoded header
// and claims, never the token: no part of the token, its signature least of all, is printed.
type report struct {
	w    io.Writer
	s    *config.Settings
	from string // where the issuers came from
	now  time.Time
}

const indent = "                 " // under a check's text

func (r *report) line(status, step, text string, more ...string) {
	fmt.Fprintf(r.w, "%-4s  %-9s  %s\n", status, step, text)
	for _, m := range more {
		fmt.Fprintf(r.w, "%s%s\n", indent, m)
	}
}

func (r *report) fail(step, text string, fixes ...string) {
	for i, f := range fixes {
		fixes[i] = "fix: " + f
	}
	r.line("FAIL", step, text, fixes...)
}

// trusted says which issuers tokens are checked against, and where that came from.
func (r *report) trusted(from string) {
	r.from = from
	fmt.Fprintf(r.w, "Trusted (from %s):\n", from)
	for _, is := range r.s.Issuers {
		name := ""
		if len(r.s.Issuers) > 1 || is.Name != config.DefaultIssuerName {
			name = is.Name + ": "
		}
		fmt.Fprintf(r.w, "  %siss %s, aud %s, algorithms %s, JWKS %s\n", name, is.Issuer, strings.Join(is.Audiences, " or "), strings.Join(is.Algorithms, ", "), is.JWKSURL)
	}
	fmt.Fprintf(r.w, "  clock skew %s\n", r.s.ClockSkew)
}

// keys describes the JWKS read, or why it could not be read.
func (r *report) keys(k *keySource) {
	if k.err != nil {
		fmt.Fprintf(r.w, "Keys: %s: cannot be read: %v\n", k.where, k.err)
		for _, h := range k.hints {
			fmt.Fprintf(r.w, "  fix: %s\n", h)
		}
		return
	}
	list := make([]string, len(k.keys))
	for i, j := range k.keys {
		list[i] = describeKey(j)
	}
	switch len(list) {
	case 0:
		fmt.Fprintf(r.w, "Keys: %s: no keys ({\"keys\":[]})\n", k.where)
	default:
		fmt.Fprintf(r.w, "Keys: %s: %s: %s\n", k.where, plural(len(list), "key"), strings.Join(list, ", "))
	}
	for _, p := range k.problems {
		fmt.Fprintf(r.w, "  skipped %v\n", p)
	}
}

// explain writes one line per check of e.
func (r *report) explain(e jwks.Explanation, k *keySource, empty bool) {
	r.now = time.Now()
	if !e.Claims.IsZero() {
		b, _ := json.MarshalIndent(shown(e.Claims.Map()), "", "  ")
		fmt.Fprintf(r.w, "Claims: %s\n", b)
	}
	fmt.Fprintln(r.w)
	r.form(e, empty)
	if e.Header == (jwks.Header{}) && e.Claims.IsZero() {
		return
	}
	typ := "no typ"
	if e.Header.Typ != "" {
		typ = fmt.Sprintf("typ %q", e.Header.Typ)
	}
	r.line("", "header", fmt.Sprintf("alg %q, kid %q, %s", e.Header.Alg, e.Header.Kid, typ))
	r.typ(e)
	if e.Claims.IsZero() {
		return
	}
	r.issuer(e)
	r.algorithm(e)
	r.key(e, k)
	r.signature(e)
	r.audience(e)
	r.times(e)
	if e.Err != nil && !failedAny(e) && !unavailable(e.Err) {
		r.fail("verdict", jwks.Describe(e.Err)) // every refusal has its check above; never leave one unsaid
	}
}

func (r *report) form(e jwks.Explanation, empty bool) {
	getJWT := r.getJWT()
	switch err := e.Form.Err; {
	case err == nil:
		r.line("ok", "form", "a JWT: three base64url parts; header and claims are JSON objects")
	case empty:
		r.fail("form", "the token is empty", getJWT)
	case errors.Is(err, jwks.ErrOpaque):
		r.fail("form", "not a JWT: it has no dots. A value like this is Better Auth's session token (the bearer plugin's set-auth-token header, or the better-auth.session_token cookie before its dot): it names a session that only Better Auth can look up", getJWT)
	case errors.Is(err, jwks.ErrTooLarge):
		r.fail("form", fmt.Sprintf("longer than %d KiB: refused unread", jwks.DefaultMaxTokenBytes>>10), "Better Auth's JWTs are far smaller; keep a definePayload's payload small")
	case errors.Is(err, jwks.ErrCritical):
		r.fail("form", "the header has crit: betterauthz understands no critical extension, and Better Auth never sets one — this token was not made by Better Auth")
	case strings.Contains(err.Error(), "2 parts separated by dots"):
		r.fail("form", "not a JWT: it has one dot, and a JWT has two. A value <token>.<signature> is the better-auth.session_token cookie (a signed session token)", getJWT)
	default:
		r.fail("form", "malformed: "+detail(err, jwks.ErrMalformed), "copy the whole token again, exactly as Better Auth returned it")
	}
}

// getJWT says how a client gets a JWT from Better Auth.
func (r *report) getJWT() string {
	is := r.s.Issuers[0]
	base := is.Origin + is.BasePath
	return fmt.Sprintf(`send a JWT: GET %s/token with the session (authClient.token() in the client), or the set-auth-jwt header of %s/get-session; then "Authorization: Bearer <jwt>"`, base, base)
}

func (r *report) typ(e jwks.Explanation) {
	switch {
	case errors.Is(e.Type.Err, jwks.ErrSessionCacheType):
		r.fail("typ", fmt.Sprintf("%q: Better Auth's session-cache cookie (better-auth.session_data), not an API credential", e.Header.Typ),
			r.getJWT(), "for browsers, sessions.cookieCache: true in the config accepts this cookie from the cookie itself, never as a Bearer token")
	case e.Type.Err != nil:
		r.fail("typ", jwks.Describe(e.Type.Err))
	case e.Header.Typ == "":
		r.line("ok", "typ", "none: an access token")
	default:
		r.line("ok", "typ", fmt.Sprintf("%q: an access token (not the session-cache cookie's typ)", e.Header.Typ))
	}
}

func (r *report) algorithm(e jwks.Explanation) {
	alg := jwks.CanonicalAlgorithm(e.Header.Alg)
	allowed := jwks.Algorithms()
	if is, ok := r.s.IssuerNamed(e.Trust); ok {
		allowed = is.Algorithms
	}
	switch {
	case e.Algorithm.Err == nil && e.Header.Alg == jwks.AlgEd25519:
		r.line("ok", "alg", "Ed25519 (RFC 9864's name for EdDSA) is allowed as EdDSA")
	case e.Algorithm.Err == nil:
		r.line("ok", "alg", alg+" is allowed")
	case alg == "none" || strings.HasPrefix(strings.ToUpper(alg), "HS"):
		r.fail("alg", fmt.Sprintf("%q is never accepted: Better Auth signs with asymmetric keys (%s), so this token was not signed by Better Auth's JWT plugin", e.Header.Alg, strings.Join(jwks.Algorithms(), ", ")))
	case !slices.Contains(jwks.Algorithms(), alg):
		r.fail("alg", fmt.Sprintf("%q is not an algorithm Better Auth signs with (%s)", e.Header.Alg, strings.Join(jwks.Algorithms(), ", ")))
	default:
		r.fail("alg", fmt.Sprintf("%s is not allowed (algorithms: %s)", alg, strings.Join(allowed, ", ")),
			fmt.Sprintf("add %s to algorithms in the config, or set Better Auth's jwks.keyPairConfig.alg to one of those", alg))
	}
}

func (r *report) key(e jwks.Explanation, k *keySource) {
	if k == nil {
		k = &keySource{} // no keys were read: the token named no issuer
	}
	kid := e.Header.Kid
	switch err := e.Key.Err; {
	case !e.Key.Checked && e.Trust == "":
		r.line("--", "kid", "not checked: no issuer to take keys from")
	case !e.Key.Checked:
		r.line("--", "kid", "not checked: no key can be for this alg")
	case err == nil:
		j, _ := k.keyFor(kid)
		r.line("ok", "kid", fmt.Sprintf("in the JWKS: %s", describeKey(j)))
	case errors.Is(err, jwks.ErrNoKeyID):
		r.fail("kid", "the header has no kid: Better Auth always sends one, so this token was not made by its JWT plugin")
	case unavailable(err):
		r.line("--", "kid", "not checked: the JWKS could not be read (above)")
	case errors.Is(err, jwks.ErrUnknownKey):
		var kids []string
		for _, j := range k.keys {
			kids = append(kids, fmt.Sprintf("%q", j.Marshal().KID))
		}
		has := "it has " + strings.Join(kids, ", ")
		if len(kids) == 0 {
			has = "it is empty"
		}
		var fixes []string
		iss := e.Claims.StringClaim("iss")
		switch why, skipped := k.skipped(kid); {
		case skipped:
			fixes = append(fixes, "the JWKS lists it, but it cannot be used: "+why)
		case len(kids) == 0:
			fixes = append(fixes, fmt.Sprintf(`an empty JWKS ({"keys":[]}) is a Better Auth that has signed no token yet: this token comes from another Better Auth than %s, or its keys were deleted (a database reset?)`, k.where))
		default:
			fixes = append(fixes, fmt.Sprintf("the token was signed by a key this JWKS does not hold: by another Better Auth (another environment, or one with its own database), or by a key whose grace period is over (jwks.gracePeriod). Its iss says %q: check that %s is that Better Auth's JWKS", iss, k.where))
		}
		r.fail("kid", fmt.Sprintf("%q is not in the JWKS (%s)", kid, has), fixes...)
	case errors.Is(err, jwks.ErrKeyMismatch):
		r.fail("kid", r.mismatch(e, k))
	default:
		r.fail("kid", jwks.Describe(err))
	}
}

// mismatch says that the key kid names is not for the token's alg.
func (r *report) mismatch(e jwks.Explanation, k *keySource) string {
	what := "another algorithm's key"
	if j, ok := k.keyFor(e.Header.Kid); ok {
		what = describeKey(j)
	}
	return fmt.Sprintf("the key is %s, and the header says %s: a token is refused when its alg is not its key's (algorithm confusion), so this one was not signed by Better Auth with that key", what, e.Header.Alg)
}

func (r *report) signature(e jwks.Explanation) {
	switch err := e.Signature.Err; {
	case !e.Signature.Checked:
		r.line("--", "signature", "not checked: no key")
	case err == nil:
		r.line("ok", "signature", "valid")
	case errors.Is(err, jwks.ErrKeyMismatch):
		r.fail("signature", "the key cannot check this alg's signatures: the token was not signed by Better Auth with that key")
	default:
		r.fail("signature", "does not verify with that key: the token was changed after it was signed, is not complete, or was signed by another key under the same kid (another Better Auth with its own keys?)",
			"copy the whole token again, exactly as Better Auth returned it")
	}
}

// verdict writes what serve would answer, and returns verify's exit code.
func (r *report) verdict(e jwks.Explanation, k *keySource) error {
	fmt.Fprintln(r.w)
	switch {
	case e.Err == nil:
		fmt.Fprintln(r.w, "VALID: betterauthz would accept this token.")
		if set, _ := r.s.Compile().Identity(e.Claims, jwks.IsAccessTokenType(e.Header.Typ)); len(set) > 0 {
			fmt.Fprintln(r.w, "Identity headers it would set:")
			for _, h := range set {
				fmt.Fprintf(r.w, "  %s: %s\n", h.Name, h.Value)
			}
		}
		return nil
	case unavailable(e.Err) && !failedAny(e):
		fmt.Fprintf(r.w, "NOT VERIFIED: the keys (%s) could not be read, so the signature was not checked; betterauthz would answer 503 until they can be.\n", k.where)
		return &ExitError{Code: 2}
	case unavailable(e.Err):
		fmt.Fprintln(r.w, "INVALID: the token fails the checks above (its signature was not checked: the keys could not be read).")
		return &ExitError{Code: 1}
	}
	d := authz.Decision{Reason: authz.VerifyReason(e.Err), Description: jwks.Describe(e.Err)}
	fmt.Fprintf(r.w, "INVALID: betterauthz would refuse it: %d %s (%s).\n", d.HTTPStatus(), d.Reason, d.Description)
	return &ExitError{Code: 1}
}

// shown is claims as printed: the session-cache cookie's payload carries the session token
// itself (session.token, and sid), a credential as good as the cookie, which is left out.
func shown(claims map[string]any) map[string]any {
	const hidden = "(the session token: not shown)"
	out := maps.Clone(claims)
	if _, ok := out["sid"]; ok {
		out["sid"] = hidden
	}
	if s, ok := out["session"].(map[string]any); ok {
		if _, ok := s["token"]; ok {
			s = maps.Clone(s)
			s["token"] = hidden
			out["session"] = s
		}
	}
	return out
}

// failedAny reports whether a check of the token itself failed.
func failedAny(e jwks.Explanation) bool {
	for _, o := range []jwks.Outcome{e.Form, e.Type, e.Issuer, e.Algorithm, e.Key, e.Signature, e.Audience, e.Expiry, e.NotBefore, e.IssuedAt} {
		if o.Failed() && !unavailable(o.Err) {
			return true
		}
	}
	return false
}

// unavailable reports whether err is about the keys, not the token.
func unavailable(err error) bool {
	return errors.Is(err, jwks.ErrNotReady) || errors.Is(err, jwks.ErrKeysUnavailable) || errors.Is(err, jwks.ErrKeysStale) || errors.Is(err, jwks.ErrTimeout)
}

// detail is what an error adds to its cause's text.
func detail(err, cause error) string {
	s := err.Error()
	if i := strings.Index(s, cause.Error()+": "); i >= 0 {
		return s[i+len(cause.Error())+2:]
	}
	return jwks.Describe(err)
}

func (r *report) since(t time.Time) string { return roughly(r.now.Sub(t)) }
func (r *report) until(t time.Time) string { return roughly(t.Sub(r.now)) }

// roughly is a duration to the second, in days past two.
func roughly(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	}
	return d.Round(time.Second).String()
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// The claims' checks: iss, aud, and exp, nbf and iat against the clock — and the near misses
// between what Better Auth puts in a token and what the config trusts.

func (r *report) issuer(e jwks.Explanation) {
	raw, present := e.Claims.Lookup("iss")
	iss, isString := raw.(string)
	named := func() string {
		if len(r.s.Issuers) == 1 && r.s.Issuers[0].Name == config.DefaultIssuerName {
			return "the trusted issuer"
		}
		return fmt.Sprintf("issuer %q", e.Trust)
	}
	switch {
	case e.Issuer.Err == nil:
		r.line("ok", "iss", fmt.Sprintf("%q: %s", iss, named()))
		return
	case !present:
		r.fail("iss", "the token has no iss (Better Auth always sets one)")
	case !isString:
		r.fail("iss", "iss is not a string")
	case len(r.s.Issuers) == 1:
		is := r.s.Issuers[0]
		hints := issuerHints(iss, is)
		if len(hints) == 0 {
			hints = append(hints, fmt.Sprintf("iss %s is trusted (from %s). If the token's Better Auth is the one you mean, use --url %s, or betterAuthURL (or issuer) in the config; if not, the token comes from another Better Auth", is.Issuer, r.from, originOf(iss)))
		}
		r.fail("iss", fmt.Sprintf("%q is not the trusted issuer %q", iss, is.Issuer), hints...)
	default:
		var names, hints []string
		for _, is := range r.s.Issuers {
			names = append(names, fmt.Sprintf("%s (%s)", is.Name, is.Issuer))
			hints = append(hints, issuerHints(iss, is)...)
		}
		r.fail("iss", fmt.Sprintf("%q names none of the trusted issuers: %s", iss, strings.Join(names, ", ")), hints...)
	}
	if e.Trust != "" {
		fmt.Fprintf(r.w, "%s(the checks below still use the trusted issuer's keys and audiences)\n", indent)
	} else {
		fmt.Fprintf(r.w, "%s(a token is verified with the keys of the issuer its iss names, and no other: nothing that needs an issuer was checked)\n", indent)
	}
}

// issuerHints explains the usual ways an iss misses issuer is by a little.
func issuerHints(iss string, is config.Issuer) []string {
	want := is.Issuer
	name := ""
	if is.Name != config.DefaultIssuerName {
		name = " (issuers: name " + is.Name + ")"
	}
	switch {
	case strings.TrimRight(iss, "/") == strings.TrimRight(want, "/"):
		return []string{fmt.Sprintf("they differ by a trailing slash, and iss must match exactly: set issuer: %q%s", iss, name)}
	case originOf(iss) == want && hasPath(iss):
		return []string{fmt.Sprintf("the token's iss has a path: Better Auth's iss is the origin of its baseURL (BETTER_AUTH_URL) unless jwt.issuer is set, as it is here. Set issuer: %q in the config%s, or remove jwt.issuer from Better Auth's jwt() options", iss, name)}
	case originOf(want) == iss && hasPath(want):
		return []string{fmt.Sprintf("the trusted issuer has a path, but Better Auth's iss is the origin of BETTER_AUTH_URL (%s) unless jwt.issuer is set: set issuer: %q%s, or leave issuer out (it defaults to the origin of betterAuthURL)", iss, iss, name)}
	case sameHost(iss, want):
		return []string{fmt.Sprintf("same host, another scheme or port: betterAuthURL%s must be the URL Better Auth itself is configured with (its BETTER_AUTH_URL or baseURL), here %s", name, originOf(iss))}
	}
	return nil
}

func (r *report) audience(e jwks.Explanation) {
	is, _ := r.s.IssuerNamed(e.Trust)
	aud, _ := jwt.MapClaims(e.Claims.Map()).GetAudience()
	switch err := e.Audience.Err; {
	case !e.Audience.Checked:
		r.line("--", "aud", "not checked: no issuer's audiences to check against")
	case err == nil:
		for _, a := range aud {
			if slices.Contains(is.Audiences, a) {
				r.line("ok", "aud", fmt.Sprintf("%q is accepted", a))
				return
			}
		}
		r.line("ok", "aud", "accepted")
	case errors.Is(err, jwks.ErrMissingClaim):
		r.fail("aud", "the token has no aud (Better Auth always sets one)")
	case errors.Is(err, jwks.ErrMalformed):
		r.fail("aud", "aud is neither a string nor a list of strings")
	default:
		hints := audienceHints(aud, is.Audiences)
		if len(hints) == 0 {
			hints = append(hints, fmt.Sprintf("Better Auth sets aud to jwt.audience, else the origin of its baseURL: list the token's aud in audiences in the config, or set Better Auth's jwt.audience to %s", strings.Join(quoted(is.Audiences), " or ")))
		}
		r.fail("aud", fmt.Sprintf("%s is not accepted (accepted: %s)", strings.Join(quoted(aud), ", "), strings.Join(quoted(is.Audiences), ", ")), hints...)
	}
}

// audienceHints explains the usual ways an aud misses the accepted ones by a little.
func audienceHints(aud, accepted []string) []string {
	if slices.Contains(aud, jwks.SessionCacheAudience) {
		return []string{jwks.SessionCacheAudience + " is the session-cache cookie's audience: see typ"}
	}
	for _, a := range aud {
		for _, want := range accepted {
			switch {
			case strings.TrimRight(a, "/") == strings.TrimRight(want, "/"):
				return []string{fmt.Sprintf("%q and %q differ by a trailing slash, and aud must match exactly: list %q in audiences", a, want, a)}
			case originOf(a) == want && hasPath(a):
				return []string{fmt.Sprintf("the token's aud has a path: Better Auth's aud is the origin of its baseURL unless jwt.audience is set, as it is here. List %q in audiences in the config, or remove jwt.audience", a)}
			case originOf(want) == a && hasPath(want):
				return []string{fmt.Sprintf("the accepted audience %q has a path, but Better Auth's aud is the origin of BETTER_AUTH_URL (%s) unless jwt.audience is set: list %q in audiences, or leave audiences out (they default to the origin of betterAuthURL)", want, a, a)}
			}
		}
	}
	return nil
}

// times checks exp, nbf and iat against the clock, with the clock skew.
func (r *report) times(e jwks.Explanation) {
	c := jwt.MapClaims(e.Claims.Map())
	skew := r.s.ClockSkew
	exp, _ := c.GetExpirationTime()
	switch err := e.Expiry.Err; {
	case errors.Is(err, jwks.ErrExpired):
		r.fail("exp", fmt.Sprintf("expired %s ago (%s), beyond the clock skew of %s", r.since(exp.Time), stamp(exp.Time), skew),
			fmt.Sprintf("Better Auth's JWTs live 15 minutes unless jwt.expirationTime says otherwise: the client gets a fresh one from %s/token (authClient.token()) before the old one expires, or when an API answers 401 %q", r.s.Issuers[0].Origin+r.s.Issuers[0].BasePath, jwks.ErrExpired.Error()))
	case errors.Is(err, jwks.ErrMissingClaim):
		r.fail("exp", "the token has no exp: betterauthz requires one (Better Auth always sets it)")
	case err != nil:
		r.fail("exp", "exp is not a number of seconds")
	case exp.Before(r.now):
		r.line("ok", "exp", fmt.Sprintf("expired %s ago (%s), within the clock skew of %s: still accepted", r.since(exp.Time), stamp(exp.Time), skew))
	default:
		r.line("ok", "exp", fmt.Sprintf("expires in %s (%s)", r.until(exp.Time), stamp(exp.Time)))
	}
	clocks := "the clock of this machine or of Better Auth's host is off: check both (NTP); clockSkew tolerates up to 5m"
	nbf, _ := c.GetNotBefore()
	switch err := e.NotBefore.Err; {
	case err != nil && nbf == nil:
		r.fail("nbf", "nbf is not a number of seconds")
	case err != nil:
		r.fail("nbf", fmt.Sprintf("not valid until %s (in %s), beyond the clock skew of %s", stamp(nbf.Time), r.until(nbf.Time), skew), clocks)
	case nbf == nil:
		r.line("ok", "nbf", "not set")
	case nbf.After(r.now):
		r.line("ok", "nbf", fmt.Sprintf("valid from %s (in %s), within the clock skew of %s", stamp(nbf.Time), r.until(nbf.Time), skew))
	default:
		r.line("ok", "nbf", fmt.Sprintf("valid since %s (%s ago)", stamp(nbf.Time), r.since(nbf.Time)))
	}
	iat, _ := c.GetIssuedAt()
	switch err := e.IssuedAt.Err; {
	case err != nil && iat == nil:
		r.fail("iat", "iat is not a number of seconds")
	case err != nil:
		r.fail("iat", fmt.Sprintf("issued in the future, %s (in %s), beyond the clock skew of %s", stamp(iat.Time), r.until(iat.Time), skew), clocks)
	case iat == nil:
		r.line("ok", "iat", "not set")
	case iat.After(r.now):
		r.line("ok", "iat", fmt.Sprintf("issued in the future, %s (in %s), within the clock skew of %s", stamp(iat.Time), r.until(iat.Time), skew))
	default:
		r.line("ok", "iat", fmt.Sprintf("issued %s ago (%s)", r.since(iat.Time), stamp(iat.Time)))
	}
}

// originOf is scheme://host of an absolute URL, "" for anything else.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

func hasPath(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Path != "" && u.Path != "/"
}

// sameHost reports whether two URLs name one host name, by another scheme or port.
func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Hostname() != "" && strings.EqualFold(ua.Hostname(), ub.Hostname()) && originOf(a) != originOf(b)
}

func quoted(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
