package cli

import (
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// verify knows OAuth access tokens (typ at+jwt) of Better Auth's OAuth provider: it verifies
// them as serve does, with the access token issuer, and shows the OAuth identity headers.
func TestVerifyAnOAuthAccessToken(t *testing.T) {
	s, err := betterauth.StartWith(betterauth.StartOptions{Plugins: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	client, err := s.RegisterOAuthClient(betterauth.OAuthClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.OAuthToken(client, betterauth.TokenRequest{Resource: []string{s.APIResource()}})
	if err != nil {
		t.Fatal(err)
	}
	config := writeFile(t, "c.yaml", "betterAuthURL: "+s.URL+"\nresources:\n  - resource: "+s.APIResource()+"\n")
	code, out := runVerify(t, tok.AccessToken, nil, "", "--config", config, "--token", tok.AccessToken)
	for _, want := range []string{"VALID: betterauthz would accept this token.", "x-subject-kind: client", "x-client-id: " + client.ID, "x-scope: read:tasks write:tasks"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}
