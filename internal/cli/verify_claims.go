package cli

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/jwks"
)

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
