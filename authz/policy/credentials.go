package policy

import (
	"fmt"
	"strings"
)

// Credentials is a set of credential kinds a rule accepts (RuleSpec.Credentials).
type Credentials uint8

// The kinds of credential a request can carry. Each has one name in rules.
const (
	// CredentialJWT: a Better Auth JWT (from /token) in the Authorization header.
	CredentialJWT Credentials = 1 << iota
	// CredentialSession: Better Auth's session cookies (the session-cache cookie or the
	// session token).
	CredentialSession
	// CredentialAPIKey: an API key (@better-auth/api-key).
	CredentialAPIKey
	// CredentialAccessToken: an OAuth access token of Better Auth's OAuth provider.
	CredentialAccessToken
)

// DefaultCredentials are the kinds a rule that names none accepts: a user's JWT and a browser's
// session. API keys and access tokens open a route only where a rule says so.
const DefaultCredentials = CredentialJWT | CredentialSession

// credentialNames in the order of the constants above.
var credentialNames = []string{"jwt", "session", "apiKey", "accessToken"}

// ParseCredentials reads RuleSpec.Credentials: names from credentialNames, each once. An empty
// list is DefaultCredentials.
func ParseCredentials(names []string) (Credentials, error) {
	if len(names) == 0 {
		return DefaultCredentials, nil
	}
	if len(names) > len(credentialNames) {
		return 0, fmt.Errorf("lists %d kinds; there are %d: %s", len(names), len(credentialNames), strings.Join(credentialNames, ", "))
	}
	var set Credentials
	for _, n := range names {
		k := credentialKind(n)
		if k == 0 {
			return 0, fmt.Errorf("%q is not a kind of credential; the kinds are %s", clip(n), strings.Join(credentialNames, ", "))
		}
		if set&k != 0 {
			return 0, fmt.Errorf("names %q twice", n)
		}
		set |= k
	}
	return set, nil
}

func credentialKind(name string) Credentials {
	for i, n := range credentialNames {
		if n == name {
			return 1 << i
		}
	}
	return 0
}

// Has reports whether every kind of k is in the set.
func (c Credentials) Has(k Credentials) bool { return k != 0 && c&k == k }

// String names the kinds, comma-separated.
func (c Credentials) String() string {
	var names []string
	for i, n := range credentialNames {
		if c&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}
