package config

import (
	"cmp"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/introspect"
)

// IntrospectionFile is a resource's introspection section: its opaque access tokens are read
// by asking Better Auth's OAuth provider (POST /oauth2/introspect), as a confidential OAuth
// client of betterauthz's own, linked to the resource.
type IntrospectionFile struct {
	// ClientID names betterauthz's OAuth client at Better Auth: a confidential client, linked to
	// the resource. Required.
	ClientID string `yaml:"clientId"`
	// ClientSecretFile is the file that holds the client's secret (a mounted Secret): read when
	// the config is applied — missing or empty, the config is refused — and again when it
	// changes. Never logged. Required.
	ClientSecretFile string `yaml:"clientSecretFile"`
	// AuthMethod is how the client authenticates, as it was registered
	// (token_endpoint_auth_method): client_secret_basic or client_secret_post. Default:
	// client_secret_basic.
	AuthMethod string `yaml:"authMethod"`
	// URL is Better Auth's introspection endpoint. Default: origin(betterAuthURL) + basePath +
	// /oauth2/introspect, of the resource's issuer.
	URL string `yaml:"url"`
	// MaxConcurrent caps the introspection calls in flight (1..1024): identical ones share one
	// call, and one that finds no free slot waits for one within the check's deadline, then
	// answers 503. Default: 16.
	MaxConcurrent *int `yaml:"maxConcurrent"`
	// CacheTTL is how long an active token is trusted without asking again, never past its exp
	// (1s..1h): a revoked token works that long. Default: 5m.
	CacheTTL *time.Duration `yaml:"cacheTTL"`
	// InactiveTTL is how long an answer that a token is not active is trusted (1s..5m).
	// Default: 5s.
	InactiveTTL *time.Duration `yaml:"inactiveTTL"`
	// MaxEntries bounds the cache of active tokens (1..1000000); refused ones are cached apart,
	// in an eighth of it. Default: 10000.
	MaxEntries *int `yaml:"maxEntries"`
	// Timeout bounds one call to Better Auth (100ms..30s). Default: 2s.
	Timeout *time.Duration `yaml:"timeout"`
	// Namespaces whose Kubernetes objects (betterauthz.io/ annotations) may name the resource
	// and have its opaque tokens introspected; "*": every namespace. Rules of this config and of
	// Envoy's context_extensions always may. Default: none — a rule from an annotation takes
	// the resource's JWT access tokens, never its opaque ones: a team's annotations cannot make
	// its routes take another team's opaque tokens, asking Better Auth with that team's client.
	Namespaces []string `yaml:"namespaces"`
}

// Introspection is a validated introspection section.
type Introspection struct {
	// Key locates the section in the config ("resources[0].introspection"), for the problems
	// found when it is put in force (its secret file).
	Key string
	// URL is Better Auth's introspection endpoint.
	URL              string
	ClientID         string
	ClientSecretFile string
	// PostSecret: the client authenticates with client_secret_post, not client_secret_basic.
	PostSecret bool
	// Issuers are the iss an answer may carry: the issuer's access token issuers, as for JWT
	// access tokens.
	Issuers                        []string
	MaxConcurrent, MaxEntries      int
	CacheTTL, InactiveTTL, Timeout time.Duration
	// Namespaces whose objects' rules may have opaque tokens introspected ("*": all).
	Namespaces []string
	// CAFile: the only CAs trusted for an https URL: the issuer's jwksCAFile ("": the system's).
	CAFile string
}

// Options are the introspect.Options of the section, but for its logger and observer.
func (in *Introspection) Options(resource string) introspect.Options {
	return introspect.Options{
		URL: in.URL, Resource: resource, ClientID: in.ClientID, ClientSecretFile: in.ClientSecretFile,
		PostSecret: in.PostSecret, Issuers: in.Issuers, CAFile: in.CAFile, MaxConcurrent: in.MaxConcurrent,
		Timeout: in.Timeout, CacheTTL: in.CacheTTL, InactiveTTL: in.InactiveTTL, MaxEntries: in.MaxEntries,
	}
}

// Equal reports whether two sections introspect alike (an introspector of one serves the other).
func (in *Introspection) Equal(o *Introspection) bool {
	if in == nil || o == nil {
		return in == o
	}
	return in.URL == o.URL && in.ClientID == o.ClientID && in.ClientSecretFile == o.ClientSecretFile &&
		in.PostSecret == o.PostSecret && strings.Join(in.Issuers, " ") == strings.Join(o.Issuers, " ") &&
		in.MaxConcurrent == o.MaxConcurrent && in.MaxEntries == o.MaxEntries && in.CacheTTL == o.CacheTTL &&
		in.InactiveTTL == o.InactiveTTL && in.Timeout == o.Timeout && in.CAFile == o.CAFile
}

// Bounds of the introspection settings.
const (
	maxIntrospectConcurrent = 1024
	maxIntrospectEntries    = 1_000_000
	maxIntrospectCacheTTL   = time.Hour
	maxIntrospectInactive   = 5 * time.Minute
	minIntrospectTimeout    = 100 * time.Millisecond
	maxIntrospectTimeout    = 30 * time.Second
)

func readIntrospection(c *checker, key string, f *IntrospectionFile, is Issuer) *Introspection {
	if f == nil {
		return nil
	}
	in := &Introspection{
		Key:              key,
		URL:              cmp.Or(f.URL, is.Origin+is.BasePath+"/oauth2/introspect"),
		ClientID:         f.ClientID,
		ClientSecretFile: f.ClientSecretFile,
		Issuers:          is.accessIssuers(),
		CAFile:           is.JWKSCAFile,
		MaxConcurrent:    deref(f.MaxConcurrent, introspect.DefaultMaxConcurrent),
		MaxEntries:       deref(f.MaxEntries, introspect.DefaultMaxEntries),
		CacheTTL:         deref(f.CacheTTL, introspect.DefaultCacheTTL),
		InactiveTTL:      deref(f.InactiveTTL, introspect.DefaultInactiveTTL),
		Timeout:          deref(f.Timeout, introspect.DefaultTimeout),
	}
	if f.ClientID == "" {
		c.bad(key+".clientId", "is required: betterauthz's OAuth client at Better Auth, linked to the resource")
	} else if len(f.ClientID) > 256 || strings.ContainsFunc(f.ClientID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		c.bad(key+".clientId", "must be at most 256 printable characters")
	}
	if f.ClientSecretFile == "" {
		c.bad(key+".clientSecretFile", "is required: the file that holds the client's secret (a mounted Secret)")
	}
	switch f.AuthMethod {
	case "", "client_secret_basic":
	case "client_secret_post":
		in.PostSecret = true
	default:
		c.bad(key+".authMethod", "%q is not client_secret_basic or client_secret_post", f.AuthMethod)
	}
	if f.URL != "" {
		if u, err := url.Parse(f.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			shown := f.URL
			if err == nil {
				shown = redact(u)
			}
			c.bad(key+".url", "%q must be an absolute http:// or https:// URL without credentials, query or fragment", shown)
		}
	}
	if n := in.MaxConcurrent; n < 1 || n > maxIntrospectConcurrent {
		c.bad(key+".maxConcurrent", "%d is outside 1..%d (introspection calls in flight at once)", n, maxIntrospectConcurrent)
	}
	if n := in.MaxEntries; n < 1 || n > maxIntrospectEntries {
		c.bad(key+".maxEntries", "%d is outside 1..%d", n, maxIntrospectEntries)
	}
	if d := in.CacheTTL; d < time.Second || d > maxIntrospectCacheTTL {
		c.bad(key+".cacheTTL", "%s is outside 1s..%s (a revoked token works that long)", d, maxIntrospectCacheTTL)
	}
	if d := in.InactiveTTL; d < time.Second || d > maxIntrospectInactive {
		c.bad(key+".inactiveTTL", "%s is outside 1s..%s", d, maxIntrospectInactive)
	}
	if d := in.Timeout; d < minIntrospectTimeout || d > maxIntrospectTimeout {
		c.bad(key+".timeout", "%s is outside %s..%s", d, minIntrospectTimeout, maxIntrospectTimeout)
	}
	if len(f.Namespaces) > maxIntrospectNamespaces {
		c.bad(key+".namespaces", "lists %d namespaces; at most %d", len(f.Namespaces), maxIntrospectNamespaces)
	}
	for i, ns := range f.Namespaces {
		if ns != "*" && !namespaceName(ns) {
			c.bad(fmt.Sprintf("%s.namespaces[%d]", key, i), "%q is not a namespace name (or *)", policy.Clip(ns))
		}
	}
	in.Namespaces = f.Namespaces
	return in
}

// maxIntrospectNamespaces bounds introspection.namespaces.
const maxIntrospectNamespaces = 1024

// namespaceName reports whether ns is a Kubernetes namespace name (an RFC 1123 label).
func namespaceName(ns string) bool {
	if ns == "" || len(ns) > 63 || ns[0] == '-' || ns[len(ns)-1] == '-' {
		return false
	}
	for _, c := range []byte(ns) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
