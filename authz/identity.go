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

// Identity computes identity headers from verified claims: each configured header whose claim
// renders to a usable value is set, every other one is removed. A header is never in both lists.
func (c *Config) Identity(claims jwks.Claims) (set []Header, remove []string) {
	for _, h := range c.IdentityHeaders {
		if v, ok := claims.Lookup(h.Claim); ok {
			if s, ok := jwks.String(v); ok && validHeaderValue(s) {
				set = append(set, Header{Name: h.Name, Value: s})
				continue
			}
		}
		remove = append(remove, h.Name)
	}
	return set, remove
}

func (c *Config) identityNames() []string {
	names := make([]string, len(c.IdentityHeaders))
	for i, h := range c.IdentityHeaders {
		names[i] = h.Name
	}
	return names
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
