package authz

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// OAuth protected resources (RFC 9728): what a client that was refused learns of the route it
// asked for — where the resource's metadata is, and from it which authorization server issues
// its tokens, with which scopes.

// WellKnownResourcePath is where RFC 9728 §3.1 puts a resource's metadata: this, then the
// resource identifier's path.
const WellKnownResourcePath = "/.well-known/oauth-protected-resource"

// Resource is one protected resource's metadata (config resources[]).
type Resource struct {
	// Resource is the identifier, an absolute URL; access tokens for it name it in aud.
	Resource string
	// AuthorizationServers are the issuers (iss) of its access tokens.
	AuthorizationServers []string
	// IssuerName names the issuer (config issuers[].name) whose tokens it takes; "": any
	// configured issuer's.
	IssuerName string
	// IntrospectionNamespaces are the namespaces whose objects' rules may have its opaque
	// tokens introspected ("*": every one); rules of the config and of context_extensions
	// always may.
	IntrospectionNamespaces []string
	// Scopes are the scopes it knows (scopes_supported); none: left out.
	Scopes []string
	// MetadataURL is where clients fetch the metadata: the resource's origin, the well-known
	// path, the resource's path.
	MetadataURL string
	// MetadataPath is MetadataURL's path, which the HTTP check port serves.
	MetadataPath string

	document []byte
}

// NewResource describes a resource (its identifier checked by the caller).
func NewResource(resource string, authorizationServers, scopes []string) (*Resource, error) {
	u, err := url.Parse(resource)
	if err != nil {
		return nil, err
	}
	path := WellKnownResourcePath + strings.TrimRight(u.EscapedPath(), "/")
	r := &Resource{Resource: resource, AuthorizationServers: authorizationServers, Scopes: scopes,
		MetadataURL: u.Scheme + "://" + u.Host + path, MetadataPath: path}
	r.document, err = json.Marshal(struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		Scopes               []string `json:"scopes_supported,omitempty"`
		BearerMethods        []string `json:"bearer_methods_supported"`
	}{resource, authorizationServers, scopes, []string{"header"}})
	return r, err
}

// introspectsFor reports whether a rule naming the resource from an object of namespace ns
// ("": not an object's rule) may have its opaque tokens introspected.
func (r *Resource) introspectsFor(ns string) bool {
	return ns == "" || slices.Contains(r.IntrospectionNamespaces, ns) || slices.Contains(r.IntrospectionNamespaces, "*")
}

// Document is the metadata as JSON (RFC 9728 §2).
func (r *Resource) Document() []byte { return r.document }

// ResourceMetadata finds the resource whose metadata lives at path (nil: none).
func (c *Config) ResourceMetadata(path string) *Resource {
	if c == nil {
		return nil
	}
	for _, r := range c.Resources {
		if r.MetadataPath == path {
			return r
		}
	}
	return nil
}

// ResourceMetadata finds, in the config in force, the resource whose metadata lives at path.
func (a *Authorizer) ResourceMetadata(path string) *Resource {
	s := a.snapshot.Load()
	if s == nil {
		return nil
	}
	return s.Config.ResourceMetadata(path)
}

// metadataURL is the metadata URL of a route's resource, when the config describes it.
func (c *Config) metadataURL(resource string) string {
	if r := c.Resources[resource]; r != nil {
		return r.MetadataURL
	}
	return ""
}
