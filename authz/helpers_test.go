package authz

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// fakeVerifier answers from a table: unit tests only; the real verifier is tested in package
// jwks and end to end in internal/server against a real Better Auth server.
type fakeVerifier map[string]any // token -> jwks.Claims or error

func (f fakeVerifier) Verify(ctx context.Context, token string) (jwks.Claims, error) {
	switch v := f[token].(type) {
	case jwks.Claims:
		return v, nil
	case error:
		return jwks.Claims{}, v
	case func(context.Context) (jwks.Claims, error):
		return v(ctx)
	default:
		return jwks.Claims{}, jwks.ErrInvalidToken
	}
}

func claims(js string) jwks.Claims {
	var c jwks.Claims
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		panic(err)
	}
	return c
}

// testConfig is a config as tests change it; live compiles it.
type testConfig struct {
	Routes                 []*policy.Rule
	Default                policy.Action
	IdentityHeaders        []IdentityHeader
	AllowCORSPreflight     bool
	Realm                  string
	AnnotationsOnlyTighten bool
}

func testPolicy() *testConfig {
	return &testConfig{
		Default: policy.Authenticated,
		IdentityHeaders: []IdentityHeader{
			{Name: "x-user-email", Claim: "email"},
			{Name: "x-user-id", Claim: "sub"},
			{Name: "x-user-name", Claim: "name"},
			{Name: "x-user-org", Claim: "activeOrganizationId"},
		},
		AllowCORSPreflight: true,
		Realm:              "https://auth.example.com",
	}
}

// live is what a decision reads with this config, v verifying tokens and objects (may be
// nil) serving requests.
func (c *testConfig) live(v TokenVerifier, objects *policy.ObjectIndex) *Snapshot {
	return &Snapshot{
		Config: &Config{
			Routes:                 policy.NewRoutes(c.Routes, c.Default),
			IdentityHeaders:        c.IdentityHeaders,
			AllowCORSPreflight:     c.AllowCORSPreflight,
			Realm:                  c.Realm,
			AnnotationsOnlyTighten: c.AnnotationsOnlyTighten,
		},
		Verifier: v,
		Objects:  objects,
	}
}

// httpCheck builds a request as Envoy describes it.
func httpCheck(method, host, path string, headers map[string]string) *Request {
	return &Request{Transport: "test", ID: "req-1", Method: method, Host: host, Path: path, Headers: HeaderMap(headers)}
}
