package extauthz

import (
	"context"
	"encoding/json"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

// fakeVerifier answers from a table (token -> jwks.Claims, an error, or a func): the real
// verifier is tested in package jwks and end to end in internal/server.
type fakeVerifier map[string]any

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

// testLive is a config with Better Auth's defaults: every path authenticated, four identity
// headers, CORS preflights allowed.
func testLive(v authz.TokenVerifier) *authz.Snapshot {
	return &authz.Snapshot{
		Config: &authz.Config{
			Routes: policy.NewRoutes(nil, policy.Authenticated),
			IdentityHeaders: []authz.IdentityHeader{
				{Name: "x-user-email", Claim: "email"},
				{Name: "x-user-id", Claim: "sub"},
				{Name: "x-user-name", Claim: "name"},
				{Name: "x-user-org", Claim: "activeOrganizationId"},
			},
			AllowCORSPreflight: true,
			Realm:              "https://auth.example.com",
		},
		Verifier: v,
	}
}

// httpCheck builds a CheckRequest as Envoy sends it.
func httpCheck(method, host, path string, headers map[string]string) *authv3.CheckRequest {
	if headers == nil {
		headers = map[string]string{}
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "req-1", Method: method, Host: host, Path: path, Headers: headers,
		}},
	}}
}
