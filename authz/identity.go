package authz

import "github.com/betterauthz/betterauthz/jwks"

// maxIdentityValue bounds an identity header's value: a claim such as a data-URL avatar must not
// push Envoy past its header limits.
const maxIdentityValue = 4096

// IdentityHeader sets header Name from claim Claim on allowed requests.
type IdentityHeader struct {
	Name  string // lower case
	Claim string // a claim name or a dotted path into nested claims
}

// identity computes identity headers from verified claims: each configured header whose claim
// renders to a usable value is set, every other one is removed. A header is never in both lists.
// They are appended to set and remove (the request's scratch memory, or nil); an empty list is
// nil.
func (c *Config) identity(claims jwks.ClaimReader, set []Header, remove []string) ([]Header, []string) {
	for _, h := range c.IdentityHeaders {
		if v, ok := claims.Claim(h.Claim); ok {
			if s, ok := v.String(); ok && validHeaderValue(s) {
				set = append(set, Header{Name: h.Name, Value: s})
				continue
			}
		}
		remove = append(remove, h.Name)
	}
	return nilIfEmpty(set), nilIfEmpty(remove)
}

// Identity is the identity headers a check with these verified claims would set, and those it
// would remove (for tools that explain a decision, e.g. betterauthz verify).
func (c *Config) Identity(claims jwks.ClaimReader) (set []Header, remove []string) {
	return c.identity(claims, nil, nil)
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
