// Package config reads betterauthz's YAML config (a file or a ConfigMap's config.yaml), applies
// defaults and the BETTER_AUTH_URL environment variable, and validates it. Every problem names
// the key it is about.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/internal/strictyaml"
	"github.com/betterauthz/betterauthz/jwks"
)

// File is the config file's schema. Pointers mark keys whose absence means "default".
type File struct {
	BetterAuthURL       string            `yaml:"betterAuthURL"`
	BasePath            string            `yaml:"basePath"`
	JWKSURL             string            `yaml:"jwksURL"`
	JWKSRefreshInterval *time.Duration    `yaml:"jwksRefreshInterval"`
	JWKSCAFile          string            `yaml:"jwksCAFile"`
	MaxKeyAge           *time.Duration    `yaml:"maxKeyAge"`
	Issuer              string            `yaml:"issuer"`
	Audiences           []string          `yaml:"audiences"`
	Algorithms          []string          `yaml:"algorithms"`
	ClockSkew           *time.Duration    `yaml:"clockSkew"`
	IdentityHeaders     map[string]string `yaml:"identityHeaders"`
	AllowCORSPreflight  *bool             `yaml:"allowCORSPreflight"`
	DefaultPolicy       string            `yaml:"defaultPolicy"`
	Routes              []authz.RuleSpec  `yaml:"routes"`
	Annotations         AnnotationsFile   `yaml:"annotations"`
	Cache               CacheFile         `yaml:"cache"`
}

// CacheFile is the cache section: the verified-token cache.
type CacheFile struct {
	MaxEntries *int `yaml:"maxEntries"`
	MaxBytes   *int `yaml:"maxBytes"`
}

// AnnotationsFile is the annotations section: how far Kubernetes objects may set policy.
type AnnotationsFile struct {
	Enabled       *bool    `yaml:"enabled"`
	Namespaces    []string `yaml:"namespaces"`
	AllowPublic   *bool    `yaml:"allowPublic"`
	ClusterDomain string   `yaml:"clusterDomain"`
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
}

// Equal reports whether two settings watch and compile the same.
func (a Annotations) Equal(b Annotations) bool {
	return a.Enabled == b.Enabled && slices.Equal(a.Namespaces, b.Namespaces) && a.AllowPublic == b.AllowPublic && a.ClusterDomain == b.ClusterDomain
}

// Defaults, as documented in the README's config reference.
const (
	DefaultBetterAuthURL       = "http://localhost:3000"
	DefaultBasePath            = "/api/auth"
	DefaultJWKSRefreshInterval = 5 * time.Minute
	DefaultMaxKeyAge           = 24 * time.Hour
	maxMaxKeyAge               = 90 * 24 * time.Hour
	DefaultClockSkew           = 30 * time.Second
	DefaultCacheEntries        = 10000
	DefaultCacheBytes          = 32 << 20
	maxClockSkew               = 5 * time.Minute
)

// DefaultIdentityHeaders is used when the config has no identityHeaders key.
var DefaultIdentityHeaders = map[string]string{
	"x-user-id":    "sub",
	"x-user-email": "email",
	"x-user-name":  "name",
}

// Settings is a validated config with every default applied.
type Settings struct {
	// BetterAuthURL as configured (or from $BETTER_AUTH_URL), and its origin.
	BetterAuthURL, Origin string
	BasePath              string
	JWKSURL               string
	JWKSRefreshInterval   time.Duration
	// JWKSCAFile, when set, holds the only CAs trusted for an https jwksURL.
	JWKSCAFile string
	// MaxKeyAge: keys not refreshed successfully for this long are no longer trusted (0: never).
	MaxKeyAge          time.Duration
	Issuer             string
	Audiences          []string
	Algorithms         []string
	ClockSkew          time.Duration
	IdentityHeaders    []authz.IdentityHeader // sorted by name
	AllowCORSPreflight bool
	DefaultPolicy      authz.Action
	Routes             []*authz.Rule
	Annotations        Annotations
	// CacheEntries and CacheBytes bound the verified-token cache (0 entries: off).
	CacheEntries, CacheBytes int
}

// Parse reads and validates a config document. getenv supplies BETTER_AUTH_URL. The error, if
// any, joins one *FieldError per problem.
func Parse(data []byte, getenv func(string) string) (*Settings, error) {
	var f File
	d := strictyaml.Decode(data, &f, "")
	return f.settings(getenv, d)
}

// settings applies defaults and checks values. Problems already found while decoding are
// reported once, not again as bad values.
func (f *File) settings(getenv func(string) string, d *strictyaml.Result) (*Settings, error) {
	errs := d.Errs
	bad := func(path, format string, args ...any) {
		key, _, _ := strings.Cut(path, " (")
		if d.Failed(key) {
			return
		}
		errs = append(errs, strictyaml.Errorf(path, d.Line(key), format, args...))
	}
	s := &Settings{}

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
		bad(urlKey, "%v", err)
	} else {
		s.Origin = origin
	}

	s.BasePath = cmp.Or(f.BasePath, DefaultBasePath)
	if !strings.HasPrefix(s.BasePath, "/") || strings.ContainsAny(s.BasePath, "?#") || slices.Contains(strings.Split(s.BasePath, "/"), "..") {
		bad("basePath", "%q must be a path starting with / (Better Auth's default is /api/auth)", s.BasePath)
	}
	s.BasePath = strings.TrimRight(s.BasePath, "/")

	s.JWKSURL = f.JWKSURL
	if s.JWKSURL == "" && s.Origin != "" {
		s.JWKSURL = s.Origin + s.BasePath + "/jwks"
	} else if f.JWKSURL != "" {
		if _, err := originOf(f.JWKSURL); err != nil {
			bad("jwksURL", "%v", err)
		}
	}

	s.JWKSRefreshInterval = deref(f.JWKSRefreshInterval, DefaultJWKSRefreshInterval)
	if s.JWKSRefreshInterval < 10*time.Second || s.JWKSRefreshInterval > 24*time.Hour {
		bad("jwksRefreshInterval", "%s is outside 10s..24h", s.JWKSRefreshInterval)
	}

	s.MaxKeyAge = deref(f.MaxKeyAge, DefaultMaxKeyAge)
	switch {
	case s.MaxKeyAge < 0 || s.MaxKeyAge > maxMaxKeyAge:
		bad("maxKeyAge", "%s is outside 0s..%s (0s: keys never go stale)", s.MaxKeyAge, maxMaxKeyAge)
	case s.MaxKeyAge > 0 && s.MaxKeyAge <= s.JWKSRefreshInterval:
		bad("maxKeyAge", "%s must be longer than jwksRefreshInterval (%s), or 0s for no limit", s.MaxKeyAge, s.JWKSRefreshInterval)
	}

	s.JWKSCAFile = f.JWKSCAFile
	if s.JWKSCAFile != "" && !strings.HasPrefix(strings.ToLower(s.JWKSURL), "https://") {
		bad("jwksCAFile", "applies to an https:// jwksURL only (the JWKS is at %s)", s.JWKSURL)
	}

	s.Issuer = cmp.Or(f.Issuer, s.Origin)

	s.Audiences = f.Audiences
	if len(s.Audiences) == 0 && s.Origin != "" {
		s.Audiences = []string{s.Origin}
	}
	for i, a := range f.Audiences {
		if a == "" {
			bad(fmt.Sprintf("audiences[%d]", i), "is empty")
		}
	}

	s.Algorithms = f.Algorithms
	if f.Algorithms == nil {
		s.Algorithms = slices.Clone(jwks.Algorithms)
	} else if len(f.Algorithms) == 0 {
		bad("algorithms", "must list at least one of %s", strings.Join(jwks.Algorithms, ", "))
	}
	for i, a := range f.Algorithms {
		if !slices.Contains(jwks.Algorithms, a) {
			bad(fmt.Sprintf("algorithms[%d]", i), "%q is not supported; Better Auth signs with %s", a, strings.Join(jwks.Algorithms, ", "))
		}
	}

	s.ClockSkew = deref(f.ClockSkew, DefaultClockSkew)
	if s.ClockSkew < 0 || s.ClockSkew > maxClockSkew {
		bad("clockSkew", "%s is outside 0s..%s", s.ClockSkew, maxClockSkew)
	}

	headers := f.IdentityHeaders
	if headers == nil {
		headers = DefaultIdentityHeaders
	}
	names := slices.Sorted(maps.Keys(headers))
	seen := map[string]string{}
	for _, name := range names {
		path := "identityHeaders." + name
		claim := headers[name]
		if err := checkIdentityHeader(name); err != nil {
			bad(path, "%v", err)
			continue
		}
		if claim == "" {
			bad(path, "names no claim")
			continue
		}
		lower := strings.ToLower(name)
		if prev, ok := seen[lower]; ok {
			bad(path, "repeats %s (header names are case-insensitive)", prev)
			continue
		}
		seen[lower] = name
		s.IdentityHeaders = append(s.IdentityHeaders, authz.IdentityHeader{Name: lower, Claim: claim})
	}
	sort.Slice(s.IdentityHeaders, func(i, j int) bool { return s.IdentityHeaders[i].Name < s.IdentityHeaders[j].Name })

	s.AllowCORSPreflight = deref(f.AllowCORSPreflight, true)

	s.DefaultPolicy = authz.Authenticated
	if f.DefaultPolicy != "" {
		a, err := authz.ParseAction(f.DefaultPolicy)
		if err != nil {
			bad("defaultPolicy", "%v", err)
		}
		s.DefaultPolicy = a
	}

	s.Annotations = Annotations{
		Enabled:       deref(f.Annotations.Enabled, true),
		AllowPublic:   deref(f.Annotations.AllowPublic, true),
		ClusterDomain: cmp.Or(strings.TrimSuffix(f.Annotations.ClusterDomain, "."), "cluster.local"),
	}
	for i, ns := range f.Annotations.Namespaces {
		if !isDNSLabel(ns) {
			bad(fmt.Sprintf("annotations.namespaces[%d]", i), "%q is not a namespace name", ns)
			continue
		}
		if !slices.Contains(s.Annotations.Namespaces, ns) {
			s.Annotations.Namespaces = append(s.Annotations.Namespaces, ns)
		}
	}
	slices.Sort(s.Annotations.Namespaces)
	for _, label := range strings.Split(s.Annotations.ClusterDomain, ".") {
		if !isDNSLabel(label) {
			bad("annotations.clusterDomain", "%q is not a DNS domain", f.Annotations.ClusterDomain)
			break
		}
	}

	s.CacheEntries = deref(f.Cache.MaxEntries, DefaultCacheEntries)
	if s.CacheEntries < 0 || s.CacheEntries > 10_000_000 {
		bad("cache.maxEntries", "%d is outside 0..10000000 (0 turns the cache off)", s.CacheEntries)
	}
	s.CacheBytes = deref(f.Cache.MaxBytes, DefaultCacheBytes)
	if s.CacheBytes < 1<<20 || s.CacheBytes > 4<<30 {
		bad("cache.maxBytes", "%d is outside 1 MiB..4 GiB", s.CacheBytes)
	}

	if !d.Failed("routes") {
		rules, rerrs := authz.CompileRules(f.Routes, "routes", "config", true, d.Line)
		errs = append(errs, rerrs...)
		s.Routes = rules
	}

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
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

// reservedHeaders cannot be identity headers: overwriting them would break or hijack the request.
var reservedHeaders = []string{
	"authorization", "cookie", "host", "content-length", "content-type", "transfer-encoding",
	"connection", "te", "upgrade", "keep-alive", "proxy-authorization", "x-forwarded-for",
	"x-forwarded-proto", "x-forwarded-host", "x-request-id", "x-envoy-original-path",
}

func checkIdentityHeader(name string) error {
	if name == "" {
		return errors.New("header name is empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return fmt.Errorf("%q is not a valid HTTP header name", name)
		}
	}
	lower := strings.ToLower(name)
	if slices.Contains(reservedHeaders, lower) || strings.HasPrefix(lower, "x-envoy-") {
		return fmt.Errorf("%q is reserved and cannot carry identity", name)
	}
	return nil
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// Policy builds the request policy these settings describe.
func (s *Settings) Policy() *authz.Policy {
	return &authz.Policy{
		AnnotationsOnlyTighten: !s.Annotations.AllowPublic,
		Routes:                 s.Routes,
		Default:                s.DefaultPolicy,
		IdentityHeaders:        s.IdentityHeaders,
		AllowCORSPreflight:     s.AllowCORSPreflight,
		Realm:                  s.Issuer,
		MaxTokenBytes:          jwks.DefaultMaxTokenBytes,
	}
}

// isDNSLabel: lower-case letters, digits and '-', 1..63, not starting or ending with '-'.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
