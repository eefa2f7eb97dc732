// Package config reads betterauthz's YAML config (a file or a ConfigMap's config.yaml), applies
// defaults and the BETTER_AUTH_URL environment variable, and validates it. Every problem names
// the key it is about.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// File is the config file's schema. Pointers mark keys whose absence means "default".
type File struct {
	// Issuers are the Better Auths whose tokens are trusted. They replace the one-issuer keys
	// below (betterAuthURL, basePath, jwksURL, issuer, audiences, algorithms); not both.
	Issuers []IssuerFile `yaml:"issuers"`
	// BetterAuthURL is Better Auth's base URL. Default: $BETTER_AUTH_URL, else
	// http://localhost:3000.
	BetterAuthURL string `yaml:"betterAuthURL"`
	// BasePath is Better Auth's basePath. Default: /api/auth.
	BasePath string `yaml:"basePath"`
	// JWKSURL is where the signing keys are fetched. Default: origin(betterAuthURL) + basePath
	// + /jwks.
	JWKSURL string `yaml:"jwksURL"`
	// JWKSRefreshInterval is how often the keys are refreshed in the background (10s..24h).
	// Default: 5m.
	JWKSRefreshInterval *time.Duration `yaml:"jwksRefreshInterval"`
	// JWKSCAFile is a PEM file of the only CAs trusted for an https jwksURL, re-read before
	// each fetch. Default: the system's CAs.
	JWKSCAFile string `yaml:"jwksCAFile"`
	// MaxKeyAge: keys not refreshed successfully for this long are no longer trusted (503
	// keys_stale, not ready). 0s keeps them forever through an outage. Default: 24h.
	MaxKeyAge *time.Duration `yaml:"maxKeyAge"`
	// Issuer is the iss a token must carry. Default: origin(betterAuthURL).
	Issuer string `yaml:"issuer"`
	// Audiences: the token's aud needs one of them. Default: [origin(betterAuthURL)].
	Audiences []string `yaml:"audiences"`
	// AccessTokenIssuer is the iss of OAuth access tokens (typ at+jwt); issuer is accepted too.
	// Default: origin(betterAuthURL) + basePath.
	AccessTokenIssuer string `yaml:"accessTokenIssuer"`
	// Algorithms allowed, a subset of EdDSA, ES256, ES512, RS256, PS256 (Ed25519 is EdDSA);
	// never HS* or none. Default: all five.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is the tolerance on exp, nbf and iat (0s..5m). Default: 30s.
	ClockSkew *time.Duration `yaml:"clockSkew"`
	// IdentityHeaders maps a header to the claim it carries on allowed requests (a dotted path
	// reaches nested claims); every one is stripped when it is not set. "@issuer" is not a claim
	// but the name of the issuer whose keys verified the credential, "@subjectKind" says user
	// or client (an OAuth access token of no user); no other claim name may start with @.
	// Default: x-user-id: sub, x-user-email: email, x-user-name: name; with more than one
	// issuer x-user-issuer: "@issuer"; with OAuth resources (resources, or a route's resource
	// or scopes) x-client-id: client_id, x-scope: scope, x-subject-kind: "@subjectKind".
	IdentityHeaders map[string]string `yaml:"identityHeaders"`
	// AllowCORSPreflight: a browser preflight (OPTIONS with Origin and
	// Access-Control-Request-Method) passes without a token. Default: false.
	AllowCORSPreflight *bool `yaml:"allowCORSPreflight"`
	// DefaultPolicy applies when no rule matches: public, authenticated or deny. Default:
	// authenticated.
	DefaultPolicy string `yaml:"defaultPolicy"`
	// DryRun: every denial is only logged and counted; the request is allowed. Default: false.
	DryRun *bool `yaml:"dryRun"`
	// Routes are per-route rules; the first match wins. Default: none.
	Routes []policy.RuleSpec `yaml:"routes"`
	// Annotations: how far Kubernetes objects may set policy.
	Annotations AnnotationsFile `yaml:"annotations"`
	// Cache: the verified-token cache.
	Cache CacheFile `yaml:"cache"`
	// Sessions: browser sessions by Better Auth's cookies. Off by default.
	Sessions SessionsFile `yaml:"sessions"`
	// Organizations: where JWTs carry Better Auth's organization and admin fields.
	Organizations OrganizationsFile `yaml:"organizations"`
	// APIKeys: API keys of Better Auth's api-key plugin. Off by default.
	APIKeys APIKeysFile `yaml:"apiKeys"`
	// Resources are OAuth protected resources (RFC 9728) whose metadata the HTTP check port
	// serves, and to which a denial on their routes points clients. Default: none.
	Resources []ResourceFile `yaml:"resources"`
}

// CacheFile is the cache section: the verified-token cache.
type CacheFile struct {
	// MaxEntries bounds the verified-token cache; 0 turns it off. Default: 10000.
	MaxEntries *int `yaml:"maxEntries"`
	// MaxBytes bounds the cache's memory. Default: 33554432 (32 MiB).
	MaxBytes *int `yaml:"maxBytes"`
}

// AnnotationsFile is the annotations section: how far Kubernetes objects may set policy.
type AnnotationsFile struct {
	// Enabled: read per-route policy from the betterauthz.io/ annotations of Services,
	// Ingresses and HTTPRoutes. Default true.
	Enabled *bool `yaml:"enabled"`
	// Namespaces to watch; empty: all.
	Namespaces []string `yaml:"namespaces"`
	// AllowPublic: annotations may open routes (public, public-paths, dry runs). Default false:
	// annotation rules add to the config's, so they can tighten a route but never open one.
	AllowPublic *bool `yaml:"allowPublic"`
	// ClusterDomain completes Service host names (name.ns.svc.<domain>). Default cluster.local.
	ClusterDomain string `yaml:"clusterDomain"`
	// IngressClasses: the classes of the Ingress controllers that ask this betterauthz; an
	// Ingress of another class never decides. Empty: every IngressClass that exists.
	IngressClasses []string `yaml:"ingressClasses"`
	// Gateways ("NAMESPACE/NAME") that ask this betterauthz: an HTTPRoute decides only through
	// one of them. Empty: any Gateway that accepted the route.
	Gateways []string `yaml:"gateways"`
}

// Annotations are the validated annotations settings.
type Annotations struct {
	// Enabled: watch Services, Ingresses and HTTPRoutes for betterauthz.io/ annotations.
	Enabled bool
	// Namespaces to watch, sorted; empty means all.
	Namespaces []string
	// AllowPublic: false makes object policies add to the config's (tighten only).
	AllowPublic bool
	// ClusterDomain completes Service host names (name.ns.svc.<domain>).
	ClusterDomain string
	// IngressClasses, sorted: only Ingresses of these classes decide; empty means any class
	// that exists.
	IngressClasses []string
	// Gateways, sorted ("namespace/name"): only HTTPRoutes accepted by one of these decide;
	// empty means any Gateway.
	Gateways []string
}

// Equal reports whether two settings watch and compile the same.
func (a Annotations) Equal(b Annotations) bool {
	return a.Enabled == b.Enabled && slices.Equal(a.Namespaces, b.Namespaces) && a.AllowPublic == b.AllowPublic &&
		a.ClusterDomain == b.ClusterDomain && slices.Equal(a.IngressClasses, b.IngressClasses) && slices.Equal(a.Gateways, b.Gateways)
}

// Defaults, as documented in the README's config reference. Those of the verifier and the key
// set (refresh interval, cache bounds, algorithms) are package jwks's.
const (
	DefaultBetterAuthURL = "http://localhost:3000"
	DefaultBasePath      = "/api/auth"
	DefaultMaxKeyAge     = 24 * time.Hour
	maxMaxKeyAge         = 90 * 24 * time.Hour
	DefaultClockSkew     = 30 * time.Second
	maxClockSkew         = 5 * time.Minute
)

// Settings is a validated config with every default applied.
type Settings struct {
	// Issuers are the Better Auths whose tokens are trusted, at least one; the one-issuer
	// shorthand is one named DefaultIssuerName. A token is verified with the keys of the issuer
	// its iss names.
	Issuers             []Issuer
	JWKSRefreshInterval time.Duration
	// JWKSCAFile, when set, holds the only CAs trusted for an https jwksURL.
	JWKSCAFile string
	// MaxKeyAge: keys not refreshed successfully for this long are no longer trusted (0: never).
	MaxKeyAge          time.Duration
	ClockSkew          time.Duration
	IdentityHeaders    []authz.IdentityHeader // sorted by name
	AllowCORSPreflight bool
	DefaultPolicy      policy.Action
	// DryRun: every denial is only reported (logged and counted); the request is allowed.
	DryRun      bool
	Routes      []*policy.Rule
	Annotations Annotations
	// CacheEntries and CacheBytes bound the verified-token cache (0 entries: off).
	CacheEntries, CacheBytes int
	// Sessions: browser sessions by Better Auth's cookies.
	Sessions Sessions
	// Organizations: the JWT claims of Better Auth's organization and admin fields.
	Organizations Organizations
	// APIKeys: API keys of Better Auth's api-key plugin.
	APIKeys APIKeys
	// Resources: OAuth protected resources (config resources).
	Resources []Resource
}

// Parse reads and validates a config document. getenv supplies BETTER_AUTH_URL. The error, if
// any, joins one *FieldError per problem.
func Parse(data []byte, getenv func(string) string) (*Settings, error) {
	var f File
	d := policy.Decode(data, &f, "")
	c := &checker{d: d, errs: d.Errs}
	s := &Settings{}
	f.issuers(c, s, getenv)
	f.identity(c, s)
	f.annotations(c, s)
	f.cache(c, s)
	f.sessions(c, s)
	f.plugins(c, s)
	f.routes(c, s)
	f.resources(c, s)
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// checker collects a document's problems. Those already found while decoding are reported
// once, not again as bad values.
type checker struct {
	d    *policy.DecodeResult
	errs []error
}

func (c *checker) bad(path, format string, args ...any) {
	key, _, _ := strings.Cut(path, " (")
	if c.d.Failed(key) {
		return
	}
	// A missing key has no line: say where its parent is (the list entry that lacks it).
	line := c.d.Line(key)
	for at := key; line == 0; {
		i := strings.LastIndexAny(at, ".[")
		if i <= 0 {
			break
		}
		at = at[:i]
		line = c.d.Line(at)
	}
	c.errs = append(c.errs, policy.Errorf(path, line, format, args...))
}

func (f *File) routes(c *checker, s *Settings) {
	s.AllowCORSPreflight = deref(f.AllowCORSPreflight, false)
	s.DefaultPolicy = policy.Authenticated
	if f.DefaultPolicy != "" {
		a, err := policy.ParseAction(f.DefaultPolicy)
		if err != nil {
			c.bad("defaultPolicy", "%v", err)
		}
		s.DefaultPolicy = a
	}
	s.DryRun = deref(f.DryRun, false)
	if !c.d.Failed("routes") {
		rules, errs := policy.CompileRules(f.Routes, "routes", policy.SourceConfig, true, c.d.Line)
		c.errs = append(c.errs, errs...)
		s.Routes = rules
		for i, spec := range f.Routes {
			if _, ok := s.IssuerNamed(spec.Issuer); spec.Issuer != "" && !ok {
				c.bad(fmt.Sprintf("routes[%d].issuer", i), "%q names no issuer (%s)", spec.Issuer, strings.Join(s.issuerNames(), ", "))
			}
		}
	}
}

func (f *File) cache(c *checker, s *Settings) {
	s.CacheEntries = deref(f.Cache.MaxEntries, jwks.DefaultCacheEntries)
	if s.CacheEntries < 0 || s.CacheEntries > 10_000_000 {
		c.bad("cache.maxEntries", "%d is outside 0..10000000 (0 turns the cache off)", s.CacheEntries)
	}
	s.CacheBytes = deref(f.Cache.MaxBytes, jwks.DefaultCacheBytes)
	if s.CacheBytes < 1<<20 || s.CacheBytes > 4<<30 {
		c.bad("cache.maxBytes", "%d is outside 1 MiB..4 GiB", s.CacheBytes)
	}
}

// originOf returns scheme://host[:port] of an absolute http(s) URL.
func originOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", raw)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q must be an absolute http:// or https:// URL", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("%q must not carry credentials", redact(u))
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// Compile compiles the settings into the config decisions read.
func (s *Settings) Compile() *authz.Config {
	sessions := s.SessionIssuer()
	issuers := make(map[string]string, len(s.Issuers))
	for _, is := range s.Issuers {
		for _, iss := range is.accessIssuers() {
			issuers[iss] = is.Name
		}
	}
	return &authz.Config{
		Issuers:                issuers,
		IssuerNames:            s.issuerNames(),
		Routes:                 policy.NewRoutes(s.Routes, s.DefaultPolicy),
		IdentityHeaders:        s.IdentityHeaders,
		AllowCORSPreflight:     s.AllowCORSPreflight,
		Realm:                  s.Issuers[0].Issuer,
		AnnotationsOnlyTighten: !s.Annotations.AllowPublic,
		DryRun:                 s.DryRun,
		Resources:              s.compileResources(),
		Browser: authz.Browser{
			CookieCache:    s.Sessions.CookieCache,
			Lookup:         s.Sessions.Lookup,
			CookiePrefix:   s.Sessions.CookiePrefix,
			SecureOnly:     strings.HasPrefix(sessions.Origin, "https://"),
			SignInURL:      s.Sessions.SignInURL,
			TrustedOrigins: append(slices.Clone(s.Sessions.TrustedOrigins), sessions.Origin),
			Issuer:         sessions.Name,

			CookieCacheVersion: s.Sessions.CookieCacheVersion,
		},
		Organizations: authz.Organizations(s.Organizations),
		APIKeys:       s.apiKeys(sessions.Name),
	}
}

func (s *Settings) apiKeys(issuer string) authz.APIKeys {
	if !s.APIKeys.Enabled {
		return authz.APIKeys{}
	}
	return authz.APIKeys{Header: s.APIKeys.Header, Forward: s.APIKeys.Forward, Issuer: issuer}
}
