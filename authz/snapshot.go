package authz

import (
	"context"
	"sync"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
)

// Snapshot is everything one decision reads. It is published whole — a new config or a new
// index of Kubernetes objects makes a new Snapshot — so that a request never sees half of an old
// config and half of a new one. A nil Snapshot, or one without a Config, means no config has
// been loaded yet: every check answers 503.
type Snapshot struct {
	Config   *Config
	Verifier TokenVerifier
	// AccessVerifier verifies OAuth access tokens (typ at+jwt) in the Authorization header;
	// nil: none are accepted.
	AccessVerifier TokenVerifier
	// SessionVerifier verifies the session-cache cookie JWT; nil when sessions.cookieCache is
	// off.
	SessionVerifier TokenVerifier
	// Sessions resolves session token cookies; nil when sessions.lookup is off.
	Sessions SessionLookup
	// Roles asks Better Auth for organization roles; nil when sessions.lookup is off.
	Roles MemberRoleLookup
	// APIKeys resolves API keys; nil when apiKeys are off.
	APIKeys APIKeyLookup
	// Introspectors read opaque access tokens, by resource identifier: the resources with
	// introspection configured (config resources[].introspection). None: opaque tokens are
	// refused.
	Introspectors map[string]Introspector
	// Objects are the rules of the Kubernetes objects that serve requests; nil when
	// annotation policies are off.
	Objects *policy.ObjectIndex
}

// Config is a compiled config: its rules and how to answer. Immutable.
type Config struct {
	// Routes are the config's rules and default policy.
	Routes *policy.Routes
	// IdentityHeaders, sorted by Name: set on allow when the claim is present, stripped
	// otherwise.
	IdentityHeaders []IdentityHeader
	// AllowCORSPreflight lets browser preflights through without a token.
	AllowCORSPreflight bool
	// Realm for WWW-Authenticate.
	Realm string
	// AnnotationsOnlyTighten (config annotations.allowPublic: false) makes Kubernetes objects'
	// rules add to the config's instead of replacing them: a request must satisfy both, so
	// annotations can tighten a route but never open it.
	AnnotationsOnlyTighten bool
	// Issuers names the trusted issuers by the iss their tokens carry (rules may require one:
	// policy.RuleSpec.Issuer).
	Issuers map[string]string
	// IssuerNames are the trusted issuers' names: a context_extensions rule naming another is
	// invalid. Nil: not checked.
	IssuerNames []string
	// DryRun allows every request a rule would deny, reporting the denial instead (config
	// dryRun); rules can be dry runs one by one too (policy.RuleSpec.DryRun).
	DryRun bool
	// Browser says how browser sessions are read — Better Auth's cookies, the sign-in
	// redirect, the origins trusted with cookies; the zero value reads none.
	Browser Browser
	// Organizations names the JWT claims of the organization and admin plugins' fields.
	Organizations Organizations
	// APIKeys says how API keys are read; the zero value reads none.
	APIKeys APIKeys
	// Resources are the OAuth protected resources the config describes (RFC 9728), by resource
	// identifier: their metadata is served, and a denial on a route of one points a client at
	// it (WWW-Authenticate resource_metadata).
	Resources map[string]*Resource

	extensions policy.Extensions // parsed context_extensions, per config

	underscoreOnce sync.Once
	underscore     []string // see underscoreNames
}

// TokenVerifier checks a token; errors follow package jwks's sentinels. jwks.Verifier is one:
// a token it verified before comes from its cache, and allocates nothing.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (jwks.Claims, error)
}

// SessionLookup resolves a session token cookie; errors follow package session's sentinels.
type SessionLookup interface {
	Lookup(ctx context.Context, cookieName, token string) (*session.Session, error)
}

func (s *Snapshot) realm() string {
	if s == nil || s.Config == nil {
		return ""
	}
	return s.Config.Realm
}
