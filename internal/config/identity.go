package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/betterauthz/betterauthz/authz"
)

// DefaultIdentityHeaders is used when the config has no identityHeaders key; the map is the
// caller's. With more than one issuer, IssuerHeader is added.
func DefaultIdentityHeaders() map[string]string {
	return map[string]string{"x-user-id": "sub", "x-user-email": "email", "x-user-name": "name"}
}

// OAuthIdentityHeaders are added to the defaults when the config has OAuth resources: the
// client an access token was issued to, its scopes, and whether a user or the client itself
// (client_credentials) is its subject.
func OAuthIdentityHeaders() map[string]string {
	return map[string]string{"x-client-id": "client_id", "x-scope": "scope", "x-subject-kind": authz.SubjectKindClaim}
}

// IssuerHeader is the default identity header of the issuer's name when several issuers are
// trusted, so that an upstream can tell a staging user from a production one.
const IssuerHeader = "x-user-issuer"

func (f *File) identity(c *checker, s *Settings) {
	headers := f.IdentityHeaders
	if headers == nil {
		headers = DefaultIdentityHeaders()
		if len(s.Issuers) > 1 {
			headers[IssuerHeader] = authz.IssuerClaim
		}
		if f.usesOAuth() {
			for name, claim := range OAuthIdentityHeaders() {
				headers[name] = claim
			}
		}
	}
	seen := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		path := "identityHeaders." + name
		claim := headers[name]
		if err := checkIdentityHeader(name); err != nil {
			c.bad(path, "%v", err)
			continue
		}
		if claim == "" {
			c.bad(path, "names no claim")
			continue
		}
		if strings.HasPrefix(claim, "@") && !slices.Contains(authz.OwnClaims, claim) {
			c.bad(path, "%q is not a claim: names starting with @ are betterauthz's own: %s", claim, strings.Join(authz.OwnClaims, ", "))
			continue
		}
		lower := strings.ToLower(name)
		// CGI and WSGI upstreams read "_" as "-": x_user_id and x-user-id would be one header.
		folded := strings.ReplaceAll(lower, "_", "-")
		if prev, ok := seen[folded]; ok {
			if strings.ToLower(prev) == lower {
				c.bad(path, "repeats %s (header names are case-insensitive)", prev)
			} else {
				c.bad(path, "repeats %s (CGI and WSGI upstreams read _ as -)", prev)
			}
			continue
		}
		seen[folded] = name
		s.IdentityHeaders = append(s.IdentityHeaders, authz.IdentityHeader{Name: lower, Claim: claim})
	}
	sort.Slice(s.IdentityHeaders, func(i, j int) bool { return s.IdentityHeaders[i].Name < s.IdentityHeaders[j].Name })
}

// reservedHeaders cannot be identity headers: overwriting them would break or hijack the
// request. So can no x-forwarded-* or x-envoy-* header: proxies and backends trust those.
var reservedHeaders = []string{
	"authorization", "cookie", "host", "content-length", "content-type", "transfer-encoding",
	"connection", "te", "upgrade", "keep-alive", "proxy-authorization", "x-request-id",
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
	if slices.Contains(reservedHeaders, lower) || strings.HasPrefix(lower, "x-envoy-") || strings.HasPrefix(lower, "x-forwarded-") {
		return fmt.Errorf("%q is reserved and cannot carry identity", name)
	}
	return nil
}
