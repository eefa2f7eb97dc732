package config

import (
	"cmp"
	"strings"
	"time"

	"github.com/betterauthz/betterauthz/session"
)

// OrganizationsFile is the organizations section: where a JWT carries the session fields of
// Better Auth's organization and admin plugins. Session cookies carry them under Better Auth's
// own names; a /token JWT only when jwt.definePayload adds them.
type OrganizationsFile struct {
	// ActiveOrganizationClaim is the JWT claim holding the active organization's id. Default:
	// activeOrganizationId.
	ActiveOrganizationClaim string `yaml:"activeOrganizationClaim"`
	// RoleClaim is the JWT claim holding the caller's role in the active organization
	// (comma-joined). Default: none — a JWT then meets no orgRoles condition.
	RoleClaim string `yaml:"roleClaim"`
	// ImpersonatedByClaim is the JWT claim holding the impersonating admin's id. Default:
	// impersonatedBy.
	ImpersonatedByClaim string `yaml:"impersonatedByClaim"`
}

// APIKeysFile is the apiKeys section: API keys of Better Auth's api-key plugin, resolved through
// get-session (the plugin's enableSessionForAPIKeys must be on).
type APIKeysFile struct {
	// Enabled reads API keys; a route takes them only where a rule lists apiKey in its
	// credentials. Default: false.
	Enabled *bool `yaml:"enabled"`
	// Header carries the key. Default: x-api-key.
	Header string `yaml:"header"`
	// TTL is how long a key's answer is trusted (1s..10m): a revoked key works that long, and
	// each call to Better Auth spends one of the key's requests (10 a day by default). Default:
	// 60s.
	TTL *time.Duration `yaml:"ttl"`
	// Forward passes the key header on to the upstream. Default: false (stripped).
	Forward *bool `yaml:"forward"`
}

// Organizations are the validated organizations settings (claim names; "" for none).
type Organizations struct {
	ActiveOrganizationClaim, RoleClaim, ImpersonatedByClaim string
}

// APIKeys are the validated apiKeys settings.
type APIKeys struct {
	Enabled bool
	Header  string // lower case
	TTL     time.Duration
	Forward bool
}

// DefaultAPIKeyHeader is the api-key plugin's default header.
const DefaultAPIKeyHeader = "x-api-key"

func (f *File) plugins(c *checker, s *Settings) {
	o := f.Organizations
	s.Organizations = Organizations{
		ActiveOrganizationClaim: cmp.Or(o.ActiveOrganizationClaim, "activeOrganizationId"),
		RoleClaim:               o.RoleClaim,
		ImpersonatedByClaim:     cmp.Or(o.ImpersonatedByClaim, "impersonatedBy"),
	}
	for _, kv := range [][2]string{
		{"organizations.activeOrganizationClaim", o.ActiveOrganizationClaim},
		{"organizations.roleClaim", o.RoleClaim},
		{"organizations.impersonatedByClaim", o.ImpersonatedByClaim},
	} {
		key, v := kv[0], kv[1]
		if len(v) > 256 || strings.HasPrefix(v, "@") || strings.ContainsAny(v, " \t\r\n") {
			c.bad(key, "%q is not a claim name (a dotted path reaches a nested claim)", v)
		}
	}
	a := f.APIKeys
	s.APIKeys = APIKeys{
		Enabled: deref(a.Enabled, false),
		Header:  strings.ToLower(cmp.Or(a.Header, DefaultAPIKeyHeader)),
		TTL:     deref(a.TTL, session.DefaultAPIKeyTTL),
		Forward: deref(a.Forward, false),
	}
	if err := checkIdentityHeader(s.APIKeys.Header); err != nil {
		c.bad("apiKeys.header", "%q cannot carry API keys: it is reserved, or no header name", a.Header)
	}
	if s.APIKeys.TTL < minLookupTTL || s.APIKeys.TTL > maxLookupTTL {
		c.bad("apiKeys.ttl", "%s is outside %s..%s (a revoked key works within it)", s.APIKeys.TTL, minLookupTTL, maxLookupTTL)
	}
	for _, h := range s.IdentityHeaders {
		if s.APIKeys.Enabled && strings.ReplaceAll(h.Name, "_", "-") == strings.ReplaceAll(s.APIKeys.Header, "_", "-") {
			c.bad("apiKeys.header", "%q is also an identity header", s.APIKeys.Header)
		}
	}
}
