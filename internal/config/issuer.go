package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

// issuer reads where Better Auth is and how its tokens are verified: its URL and basePath, the
// JWKS address and refresh, the issuer, audiences, algorithms and clock skew.
func (f *File) issuer(c *checker, s *Settings, getenv func(string) string) {
	urlKey := "betterAuthURL"
	s.BetterAuthURL = f.BetterAuthURL
	if s.BetterAuthURL == "" {
		urlKey = "betterAuthURL (from $BETTER_AUTH_URL)"
		s.BetterAuthURL = getenv("BETTER_AUTH_URL")
	}
	if s.BetterAuthURL == "" {
		urlKey = "betterAuthURL (default)"
		s.BetterAuthURL = DefaultBetterAuthURL
	}
	if origin, err := originOf(s.BetterAuthURL); err != nil {
		c.bad(urlKey, "%v", err)
	} else {
		s.Origin = origin
	}

	s.BasePath = cmp.Or(f.BasePath, DefaultBasePath)
	if !strings.HasPrefix(s.BasePath, "/") || strings.ContainsAny(s.BasePath, "?#") || slices.Contains(strings.Split(s.BasePath, "/"), "..") {
		c.bad("basePath", "%q must be a path starting with / (Better Auth's default is /api/auth)", s.BasePath)
	}
	s.BasePath = strings.TrimRight(s.BasePath, "/")

	f.jwks(c, s)

	s.Issuer = cmp.Or(f.Issuer, s.Origin)
	s.Audiences = f.Audiences
	if len(s.Audiences) == 0 && s.Origin != "" {
		s.Audiences = []string{s.Origin}
	}
	for i, a := range f.Audiences {
		switch a {
		case "":
			c.bad(fmt.Sprintf("audiences[%d]", i), "is empty")
		case jwks.SessionCacheAudience:
			c.bad(fmt.Sprintf("audiences[%d]", i), "%s is the session-cache cookie's audience: that JWT is accepted from its cookie only, with sessions.cookieCache: true", a)
		}
	}

	f.algorithms(c, s)

	s.ClockSkew = deref(f.ClockSkew, DefaultClockSkew)
	if s.ClockSkew < 0 || s.ClockSkew > maxClockSkew {
		c.bad("clockSkew", "%s is outside 0s..%s", s.ClockSkew, maxClockSkew)
	}
}

// jwks reads where the keys are and how they are kept.
func (f *File) jwks(c *checker, s *Settings) {
	s.JWKSURL = f.JWKSURL
	if s.JWKSURL == "" && s.Origin != "" {
		s.JWKSURL = s.Origin + s.BasePath + "/jwks"
	} else if f.JWKSURL != "" {
		if _, err := originOf(f.JWKSURL); err != nil {
			c.bad("jwksURL", "%v", err)
		}
	}

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
	if s.JWKSCAFile != "" && !strings.HasPrefix(strings.ToLower(s.JWKSURL), "https://") {
		c.bad("jwksCAFile", "applies to an https:// jwksURL only (the JWKS is at %s)", s.JWKSURL)
	}
}

func (f *File) algorithms(c *checker, s *Settings) {
	supported := jwks.Algorithms()
	s.Algorithms = f.Algorithms
	if f.Algorithms == nil {
		s.Algorithms = supported
	} else if len(f.Algorithms) == 0 {
		c.bad("algorithms", "must list at least one of %s", strings.Join(supported, ", "))
	}
	for i, a := range f.Algorithms {
		if !slices.Contains(supported, a) {
			c.bad(fmt.Sprintf("algorithms[%d]", i), "%q is not supported; Better Auth signs with %s", a, strings.Join(supported, ", "))
		}
	}
}
