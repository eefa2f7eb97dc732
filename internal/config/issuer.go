package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

// IssuerFile is one entry of the issuers list: a Better Auth whose tokens are trusted. The
// top-level keys of the same names are its one-issuer shorthand, named DefaultIssuerName.
type IssuerFile struct {
	// Name is a DNS label; rules (issuer: NAME), logs and metrics use it. Required.
	Name string `yaml:"name"`
	// BetterAuthURL is this Better Auth's base URL. Required.
	BetterAuthURL string `yaml:"betterAuthURL"`
	// BasePath is Better Auth's basePath. Default: /api/auth.
	BasePath string `yaml:"basePath"`
	// JWKSURL is where its keys are fetched. Default: origin(betterAuthURL) + basePath + /jwks.
	JWKSURL string `yaml:"jwksURL"`
	// Issuer is the iss its tokens carry. Default: origin(betterAuthURL).
	Issuer string `yaml:"issuer"`
	// Audiences: its token's aud needs one of them. Default: [origin(betterAuthURL)].
	Audiences []string `yaml:"audiences"`
	// AccessTokenIssuer is the iss of its OAuth access tokens (typ at+jwt), which also may
	// carry issuer. Default: origin(betterAuthURL) + basePath, as Better Auth's OAuth provider
	// signs them.
	AccessTokenIssuer string `yaml:"accessTokenIssuer"`
	// Algorithms allowed for its tokens. Default: EdDSA, ES256, ES512, RS256, PS256.
	Algorithms []string `yaml:"algorithms"`
	// JWKSCAFile: PEM CAs trusted for its https jwksURL. Default: the top-level jwksCAFile.
	JWKSCAFile string `yaml:"jwksCAFile"`
}

// Issuer is a validated issuer with every default applied.
type Issuer struct {
	// Name labels the issuer in rules (issuer: NAME), logs and metrics.
	Name string
	// BetterAuthURL as configured (or from $BETTER_AUTH_URL for the shorthand), and its origin.
	BetterAuthURL, Origin string
	BasePath              string
	JWKSURL               string
	// Issuer is the iss its tokens carry; a token is verified with this issuer's keys only.
	Issuer     string
	Audiences  []string
	Algorithms []string
	// AccessTokenIssuer is the iss of its OAuth access tokens (Issuer is accepted too).
	AccessTokenIssuer string
	// JWKSCAFile: the only CAs trusted for an https JWKSURL ("": the system's). Its own, else
	// the top-level jwksCAFile.
	JWKSCAFile string
}

// DefaultIssuerName names the issuer the top-level keys describe.
const DefaultIssuerName = "default"

// maxIssuers bounds the issuers list: each has its key set, refreshed in the background.
const maxIssuers = 32

// shorthandKeys are the top-level keys of the one-issuer shorthand.
var shorthandKeys = []string{"betterAuthURL", "basePath", "jwksURL", "issuer", "audiences", "algorithms", "accessTokenIssuer"}

// issuers reads which Better Auths are trusted — the issuers list, or the top-level shorthand —
// and what applies to all of them: the key refresh, maxKeyAge, jwksCAFile and clock skew.
func (f *File) issuers(c *checker, s *Settings, getenv func(string) string) {
	if f.Issuers == nil && c.d.Line("issuers") == 0 {
		s.Issuers = []Issuer{readIssuer(c, "", IssuerFile{
			Name: DefaultIssuerName, BetterAuthURL: f.BetterAuthURL, BasePath: f.BasePath, JWKSURL: f.JWKSURL,
			Issuer: f.Issuer, Audiences: f.Audiences, Algorithms: f.Algorithms, AccessTokenIssuer: f.AccessTokenIssuer,
		}, getenv)}
	} else {
		var mixed []string
		for _, k := range shorthandKeys {
			if c.d.Line(k) > 0 {
				mixed = append(mixed, k)
			}
		}
		if len(mixed) > 0 {
			c.bad("issuers", "cannot be combined with the one-issuer keys %s: move them into an entry of issuers", strings.Join(mixed, ", "))
		}
		if len(f.Issuers) == 0 {
			c.bad("issuers", "lists no issuer")
		}
		if len(f.Issuers) > maxIssuers {
			c.bad("issuers", "lists %d issuers; at most %d", len(f.Issuers), maxIssuers)
		}
		names := map[string]int{}
		var at []int // the file's index of each of s.Issuers
		for i, fi := range f.Issuers {
			key := fmt.Sprintf("issuers[%d]", i)
			switch prev, dup := names[fi.Name]; {
			case fi.Name == "":
				c.bad(key+".name", "is required: rules, logs and metrics name the issuer by it")
			case !isIssuerName(fi.Name):
				c.bad(key+".name", "%q must be lower-case letters, digits and -, at most 63", fi.Name)
			case dup:
				c.bad(key+".name", "%q is already the name of issuers[%d]", fi.Name, prev)
			default:
				names[fi.Name] = i
			}
			if fi.BetterAuthURL == "" {
				c.bad(key+".betterAuthURL", "is required ($BETTER_AUTH_URL feeds only the one-issuer shorthand)")
				continue
			}
			s.Issuers = append(s.Issuers, readIssuer(c, key+".", fi, nil))
			at = append(at, i)
		}
		iss := map[string]string{}
		for i, is := range s.Issuers {
			if prev, dup := iss[is.Issuer]; dup && is.Issuer != "" {
				c.bad(fmt.Sprintf("issuers[%d].issuer", at[i]), "%q is already trusted by issuer %s: a token names one issuer, and is verified with its keys alone", is.Issuer, prev)
				continue
			}
			iss[is.Issuer] = is.Name
		}
		// Access tokens name one issuer too, in either spelling.
		access := map[string]string{}
		for i, is := range s.Issuers {
			for _, a := range is.accessIssuers() {
				if prev, dup := access[a]; dup && prev != is.Name && iss[is.Issuer] == is.Name {
					c.bad(fmt.Sprintf("issuers[%d].accessTokenIssuer", at[i]), "%q is already an access token issuer of issuer %s: set accessTokenIssuer", a, prev)
					break
				}
				access[a] = is.Name
			}
		}
	}
	f.keyUpkeep(c, s)
	s.ClockSkew = deref(f.ClockSkew, DefaultClockSkew)
	if s.ClockSkew < 0 || s.ClockSkew > maxClockSkew {
		c.bad("clockSkew", "%s is outside 0s..%s", s.ClockSkew, maxClockSkew)
	}
}

// readIssuer reads one issuer written at key prefix at ("" for the shorthand, "issuers[N].").
// getenv, when set, supplies $BETTER_AUTH_URL and the default.
func readIssuer(c *checker, at string, fi IssuerFile, getenv func(string) string) Issuer {
	is := Issuer{Name: fi.Name, BetterAuthURL: fi.BetterAuthURL}
	urlKey := at + "betterAuthURL"
	if getenv != nil && is.BetterAuthURL == "" {
		urlKey = "betterAuthURL (from $BETTER_AUTH_URL)"
		is.BetterAuthURL = getenv("BETTER_AUTH_URL")
		if is.BetterAuthURL == "" {
			urlKey = "betterAuthURL (default)"
			is.BetterAuthURL = DefaultBetterAuthURL
		}
	}
	if origin, err := originOf(is.BetterAuthURL); err != nil {
		c.bad(urlKey, "%v", err)
	} else {
		is.Origin = origin
	}

	is.BasePath = cmp.Or(fi.BasePath, DefaultBasePath)
	if !strings.HasPrefix(is.BasePath, "/") || strings.ContainsAny(is.BasePath, "?#") || slices.Contains(strings.Split(is.BasePath, "/"), "..") {
		c.bad(at+"basePath", "%q must be a path starting with / (Better Auth's default is /api/auth)", is.BasePath)
	}
	is.BasePath = strings.TrimRight(is.BasePath, "/")

	is.JWKSURL = fi.JWKSURL
	if is.JWKSURL == "" && is.Origin != "" {
		is.JWKSURL = is.Origin + is.BasePath + "/jwks"
	} else if fi.JWKSURL != "" {
		if _, err := originOf(fi.JWKSURL); err != nil {
			c.bad(at+"jwksURL", "%v", err)
		}
	}

	is.Issuer = cmp.Or(fi.Issuer, is.Origin)
	// Better Auth's OAuth provider signs access tokens with its base URL and base path as iss
	// (unless jwt.issuer is set, when it is the issuer): both are this issuer's own spellings,
	// never one a token could choose.
	is.AccessTokenIssuer = fi.AccessTokenIssuer
	if is.AccessTokenIssuer == "" && is.Origin != "" {
		is.AccessTokenIssuer = is.Origin + is.BasePath
	} else if fi.AccessTokenIssuer != "" {
		if _, err := originOf(fi.AccessTokenIssuer); err != nil {
			c.bad(at+"accessTokenIssuer", "%v", err)
		}
	}
	is.Audiences = fi.Audiences
	if len(is.Audiences) == 0 && is.Origin != "" {
		is.Audiences = []string{is.Origin}
	}
	for i, a := range fi.Audiences {
		switch a {
		case "":
			c.bad(fmt.Sprintf("%saudiences[%d]", at, i), "is empty")
		case jwks.SessionCacheAudience:
			c.bad(fmt.Sprintf("%saudiences[%d]", at, i), "%s is the session-cache cookie's audience: that JWT is accepted from its cookie only, with sessions.cookieCache: true", a)
		}
	}
	is.Algorithms = readAlgorithms(c, at, fi.Algorithms)
	is.JWKSCAFile = fi.JWKSCAFile
	if is.JWKSCAFile != "" && !strings.HasPrefix(strings.ToLower(is.JWKSURL), "https://") {
		c.bad(at+"jwksCAFile", "applies to an https:// jwksURL only (the JWKS is at %s)", is.JWKSURL)
	}
	return is
}

// accessIssuers are the iss its access tokens may carry: AccessTokenIssuer, and Issuer.
func (is Issuer) accessIssuers() []string {
	if is.AccessTokenIssuer == "" || is.AccessTokenIssuer == is.Issuer {
		return []string{is.Issuer}
	}
	return []string{is.AccessTokenIssuer, is.Issuer}
}

// keyUpkeep reads how every issuer's keys are kept: refreshed, aged, fetched over TLS.
func (f *File) keyUpkeep(c *checker, s *Settings) {
	s.JWKSRefreshInterval = deref(f.JWKSRefreshInterval, jwks.DefaultRefreshInterval)
	if s.JWKSRefreshInterval < 10*time.Second || s.JWKSRefreshInterval > 24*time.Hour {
		c.bad("jwksRefreshInterval", "%s is outside 10s..24h", s.JWKSRefreshInterval)
	}

	s.MaxKeyAge = deref(f.MaxKeyAge, DefaultMaxKeyAge)
	switch {
	case s.MaxKeyAge < 0 || s.MaxKeyAge > maxMaxKeyAge:
		c.bad("maxKeyAge", "%s is outside 0s..%s (0s: keys never go stale)", s.MaxKeyAge, maxMaxKeyAge)
	case s.MaxKeyAge > 0 && s.MaxKeyAge <= s.JWKSRefreshInterval:
		c.bad("maxKeyAge", "%s must be longer than jwksRefreshInterval (%s), or 0s for no limit", s.MaxKeyAge, s.JWKSRefreshInterval)
	}

	s.JWKSCAFile = f.JWKSCAFile
	if s.JWKSCAFile != "" && !slices.ContainsFunc(s.Issuers, func(is Issuer) bool { return strings.HasPrefix(strings.ToLower(is.JWKSURL), "https://") }) {
		var urls []string
		for _, is := range s.Issuers {
			urls = append(urls, is.JWKSURL)
		}
		c.bad("jwksCAFile", "applies to an https:// jwksURL only (the JWKS is at %s)", strings.Join(urls, ", "))
	}
	for i := range s.Issuers {
		s.Issuers[i].JWKSCAFile = cmp.Or(s.Issuers[i].JWKSCAFile, s.JWKSCAFile)
	}
}

// readAlgorithms reads an algorithms list; Ed25519 (RFC 9864's name) is EdDSA.
func readAlgorithms(c *checker, at string, list []string) []string {
	supported := jwks.Algorithms()
	if list == nil {
		return supported
	}
	if len(list) == 0 {
		c.bad(at+"algorithms", "must list at least one of %s", strings.Join(supported, ", "))
	}
	var out []string
	for i, a := range list {
		name := jwks.CanonicalAlgorithm(a)
		if !slices.Contains(supported, name) {
			c.bad(fmt.Sprintf("%salgorithms[%d]", at, i), "%q is not supported; Better Auth signs with %s (or Ed25519, RFC 9864's name for EdDSA)", a, strings.Join(supported, ", "))
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// isIssuerName reports whether s can name an issuer: a DNS label.
func isIssuerName(s string) bool { return isDNSLabel(s) }

// IssuerNamed returns the issuer of that name.
func (s *Settings) IssuerNamed(name string) (Issuer, bool) {
	for _, is := range s.Issuers {
		if is.Name == name {
			return is, true
		}
	}
	return Issuer{}, false
}

func (s *Settings) issuerNames() []string {
	names := make([]string, len(s.Issuers))
	for i, is := range s.Issuers {
		names[i] = is.Name
	}
	return names
}

// SessionIssuer is the issuer of the browser sessions (sessions.issuer, default the first).
func (s *Settings) SessionIssuer() Issuer {
	is, _ := s.IssuerNamed(s.Sessions.Issuer)
	return is
}

// TokenVerifier is how the settings verify access tokens (Bearer credentials), each issuer
// with the key set keys returns for its name: what serve runs, and "betterauthz verify" too.
func (s *Settings) TokenVerifier(keys func(name string) *jwks.KeySet) jwks.VerifierOptions {
	trusts := make([]jwks.Trust, len(s.Issuers))
	for i, is := range s.Issuers {
		trusts[i] = jwks.Trust{Name: is.Name, Keys: keys(is.Name), Issuer: is.Issuer, Audiences: is.Audiences, Algorithms: is.Algorithms}
	}
	return jwks.VerifierOptions{
		Trusts:       trusts,
		ClockSkew:    s.ClockSkew,
		CacheEntries: s.CacheEntries,
		CacheBytes:   s.CacheBytes,
	}
}

// AccessTokenVerifier is how the settings verify OAuth access tokens (typ at+jwt): each issuer
// with its keys, iss its AccessTokenIssuer or Issuer, aud left to the route's resource.
func (s *Settings) AccessTokenVerifier(keys func(name string) *jwks.KeySet) jwks.VerifierOptions {
	trusts := make([]jwks.Trust, len(s.Issuers))
	for i, is := range s.Issuers {
		iss := is.accessIssuers()
		trusts[i] = jwks.Trust{Name: is.Name, Keys: keys(is.Name), Issuer: iss[0], IssuerAliases: iss[1:], Algorithms: is.Algorithms}
	}
	return jwks.VerifierOptions{
		Trusts:       trusts,
		AccessToken:  true,
		ClockSkew:    s.ClockSkew,
		CacheEntries: s.CacheEntries,
		CacheBytes:   s.CacheBytes,
	}
}
