package authz

import (
	"slices"
	"strings"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// Step 5 of a decision: write the identity headers. They follow the credential alone — never
// the rules, never a dry run: an allowed request with a valid credential gets them set from
// its claims, any other allowed request gets them all stripped, so that a client's own
// x-user-id never reaches the upstream.

// writeIdentity writes d's identity headers, when d lets the request through, from cred.
func (c *Config) writeIdentity(d Decision, r *Request, cred credential) Decision {
	if !d.Allowed() {
		return d // a denial sets and strips nothing: the request goes nowhere
	}
	set, names := r.identityBuffers()
	if cred.valid && !cred.crossSite {
		d.Subject = cred.subject
		d.Set, d.Remove = c.identity(cred.claims, cred.issuer, cred.subjectKind, &cred.facts, set, names)
		d.ResponseHeaders = setCookies(cred.setCookie)
	} else {
		d.Subject = ""
		d.Set, d.ResponseHeaders = nil, nil
		d.Remove = c.identityNames(names)
	}
	if k := &c.APIKeys; k.Header != "" && !k.Forward {
		// The key is a credential for Better Auth, not the upstream's to see (nor to replay).
		d.Remove = append(d.Remove, k.Header)
	}
	d.Underscored = c.underscoreNames()
	return d
}

// identityBuffers are where a decision collects identity headers: the request's Scratch, or
// nothing (append allocates).
func (r *Request) identityBuffers() ([]Header, []string) {
	if r.Scratch == nil {
		return nil, nil
	}
	return r.Scratch.set[:0], r.Scratch.names[:0]
}

func setCookies(cookies []string) []Header {
	if len(cookies) == 0 {
		return nil
	}
	out := make([]Header, len(cookies))
	for i, v := range cookies {
		out[i] = Header{Name: "set-cookie", Value: v}
	}
	return out
}

// maxIdentityValue bounds an identity header's value: a claim such as a data-URL avatar must not
// push Envoy past its header limits.
const maxIdentityValue = 4096

// IdentityHeader sets header Name from claim Claim on allowed requests.
type IdentityHeader struct {
	Name  string // lower case
	Claim string // a claim name or a dotted path into nested claims, or IssuerClaim
}

// IssuerClaim is not a claim of the credential: as an identity header's Claim, it stands for the
// name (config issuers[].name) of the issuer whose keys verified the credential. Claim names that
// start with "@" are betterauthz's own: Better Auth's claims (user fields, JavaScript
// identifiers) never do.
const IssuerClaim = "@issuer"

// SubjectKindClaim is not a claim either: as an identity header's Claim, it stands for the kind
// of the credential's subject: "user", or "client" for an OAuth access token of no user
// (client_credentials).
const SubjectKindClaim = "@subjectKind"

// identity computes identity headers from a verified credential — its claims, and issuer, the
// name of the issuer it is of: each configured header whose value is usable is set, every other
// one is removed. A header is never in both lists. They are appended to set and remove (the
// request's scratch memory, or nil); an empty list is nil.
func (c *Config) identity(claims jwks.Claims, issuer, subjectKind string, f *facts, set []Header, remove []string) ([]Header, []string) {
	for _, h := range c.IdentityHeaders {
		if s, ok := identityValue(claims, issuer, subjectKind, f, h.Claim); ok && validHeaderValue(s) {
			set = append(set, Header{Name: h.Name, Value: s})
			continue
		}
		remove = append(remove, h.Name)
	}
	return nilIfEmpty(set), nilIfEmpty(remove)
}

func identityValue(claims jwks.Claims, issuer, subjectKind string, f *facts, claim string) (string, bool) {
	switch claim {
	case IssuerClaim:
		return issuer, issuer != ""
	case SubjectKindClaim:
		return subjectKind, subjectKind != ""
	case OrganizationClaim:
		return f.Organization, f.Organization != ""
	case OrganizationRole:
		return f.Role, f.Role != ""
	case ImpersonatedByClaim:
		return f.impersonator, f.impersonator != ""
	case APIKeyIDClaim:
		return f.apiKeyID, f.apiKeyID != ""
	case "sub":
		if subjectKind != policy.SubjectUser {
			// A machine token's sub is its client's id, not a user's: a header an app reads as
			// the user (x-user-id) is stripped rather than given a client id — or an id nobody
			// can tell is a user's. x-client-id says who called.
			return "", false
		}
	}
	if v, ok := claims.Claim(claim); ok {
		return v.String()
	}
	return "", false
}

// Identity is the identity headers a check with these verified claims would set, and those it
// would remove (for tools that explain a decision, e.g. betterauthz verify). The issuer is the
// one the claims' iss names; accessToken: the claims are an OAuth access token's.
func (c *Config) Identity(claims jwks.Claims, accessToken bool) (set []Header, remove []string) {
	kind := policy.CredentialJWT
	if accessToken {
		kind = policy.CredentialAccessToken
	}
	cred := credential{valid: true, claims: claims, kind: kind}
	c.readFacts(&cred)
	return c.identity(claims, c.Issuers[claims.StringClaim("iss")], SubjectKind(claims, accessToken), &cred.facts, nil, nil)
}

// underscoreNames is the underscore spelling of every identity header with a "-" in its name
// ("x_user_id" for "x-user-id"): CGI and WSGI servers read both spellings as one variable
// (HTTP_X_USER_ID), so a client's x_user_id would pass for ours. A spelling that is itself an
// identity header is left out (it is set or removed as one). Computed once per Config.
func (c *Config) underscoreNames() []string {
	c.underscoreOnce.Do(func() {
		for _, h := range c.IdentityHeaders {
			u := strings.ReplaceAll(h.Name, "-", "_")
			if u == h.Name || slices.ContainsFunc(c.IdentityHeaders, func(o IdentityHeader) bool { return o.Name == u }) {
				continue
			}
			c.underscore = append(c.underscore, u)
		}
		if k := &c.APIKeys; k.Header != "" && !k.Forward && strings.Contains(k.Header, "-") {
			c.underscore = append(c.underscore, strings.ReplaceAll(k.Header, "-", "_"))
		}
	})
	return c.underscore
}

// identityNames lists every identity header, appended to names (scratch memory, or nil).
func (c *Config) identityNames(names []string) []string {
	if names == nil {
		names = make([]string, 0, len(c.IdentityHeaders))
	}
	for _, h := range c.IdentityHeaders {
		names = append(names, h.Name)
	}
	return names
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// validHeaderValue refuses values Envoy would reject or that could split a header: control
// characters (other than tab), and oversize values. UTF-8 passes through.
func validHeaderValue(s string) bool {
	if s == "" || len(s) > maxIdentityValue {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
