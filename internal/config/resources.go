package config

import (
	"fmt"
	"strings"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
)

// ResourceFile is one entry of resources: an OAuth protected resource (RFC 9728) behind the
// proxy, whose access tokens Better Auth's OAuth provider issues.
type ResourceFile struct {
	// Resource is its identifier, the URL access tokens for it name in aud (routes name it in
	// resource). Required.
	Resource string `yaml:"resource"`
	// Issuer names the issuer (issuers[].name) whose OAuth provider issues its tokens. Default:
	// the first.
	Issuer string `yaml:"issuer"`
	// Scopes it knows, published as scopes_supported. Default: none published.
	Scopes []string `yaml:"scopes"`
	// Introspection reads its opaque access tokens by asking Better Auth (RFC 7662), as an
	// OAuth client of betterauthz's own. Default: off, opaque access tokens are refused.
	Introspection *IntrospectionFile `yaml:"introspection"`
}

// Resource is a validated resources entry.
type Resource struct {
	Resource string
	// AuthorizationServer is the issuer of its access tokens: the issuer's AccessTokenIssuer.
	AuthorizationServer string
	// IssuerName is that issuer's name: access tokens of another issuer are not for it.
	IssuerName string
	Scopes     []string
	// Introspection, when set, reads its opaque access tokens.
	Introspection *Introspection
}

// maxResources bounds the resources list.
const maxResources = 256

func (f *File) resources(c *checker, s *Settings) {
	if len(f.Resources) > maxResources {
		c.bad("resources", "lists %d resources; at most %d", len(f.Resources), maxResources)
		return
	}
	paths := map[string]string{}
	for i, rf := range f.Resources {
		key := fmt.Sprintf("resources[%d]", i)
		if rf.Resource == "" {
			c.bad(key+".resource", "is required: the URL its access tokens name in aud")
			continue
		}
		if err := policy.CheckResource(rf.Resource); err != nil {
			c.bad(key+".resource", "%v", err)
			continue
		}
		is := s.Issuers[0]
		if rf.Issuer != "" {
			var ok bool
			if is, ok = s.IssuerNamed(rf.Issuer); !ok {
				c.bad(key+".issuer", "%q names no issuer (%s)", rf.Issuer, strings.Join(s.issuerNames(), ", "))
				continue
			}
		}
		r, err := authz.NewResource(rf.Resource, nil, nil)
		if err != nil {
			c.bad(key+".resource", "%v", err)
			continue
		}
		if prev, dup := paths[r.MetadataPath]; dup {
			c.bad(key+".resource", "has its metadata at %s, as %s does: the path tells them apart, give them different paths", r.MetadataPath, prev)
			continue
		}
		paths[r.MetadataPath] = key
		for j, sc := range rf.Scopes {
			if strings.ContainsAny(sc, " \"\\") || sc == "" {
				c.bad(fmt.Sprintf("%s.scopes[%d]", key, j), "%q is not a scope", sc)
			}
		}
		s.Resources = append(s.Resources, Resource{Resource: rf.Resource, AuthorizationServer: is.AccessTokenIssuer, IssuerName: is.Name, Scopes: rf.Scopes,
			Introspection: readIntrospection(c, key+".introspection", rf.Introspection, is)})
	}
}

func (s *Settings) compileResources() map[string]*authz.Resource {
	if len(s.Resources) == 0 {
		return nil
	}
	out := make(map[string]*authz.Resource, len(s.Resources))
	for _, r := range s.Resources {
		res, err := authz.NewResource(r.Resource, []string{r.AuthorizationServer}, r.Scopes)
		if err == nil { // checked when read
			res.IssuerName = r.IssuerName
			if r.Introspection != nil {
				res.IntrospectionNamespaces = r.Introspection.Namespaces
			}
			out[r.Resource] = res
		}
	}
	return out
}

// usesOAuth: the config speaks of OAuth resources, so the default identity headers carry
// the client and scopes of access tokens too.
func (f *File) usesOAuth() bool {
	if len(f.Resources) > 0 {
		return true
	}
	for _, r := range f.Routes {
		if r.Resource != "" || len(r.Scopes) > 0 {
			return true
		}
	}
	return false
}
