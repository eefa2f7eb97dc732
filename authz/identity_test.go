package authz

import (
	"context"
	"slices"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
)

// With IssuerClaim, an identity header carries the name of the issuer whose keys verified the
// credential: of a Bearer token, the issuer its iss names; of a session cookie or a looked-up
// session token, sessions.issuer. Never a claim of the token, even one named "@issuer".
func TestIdentityHeaderOfTheIssuer(t *testing.T) {
	l := sessionsLive(t, func(s *Browser) { s.Issuer = "staging" })
	l.Config.IdentityHeaders = []IdentityHeader{{Name: "x-user-id", Claim: "sub"}, {Name: "x-user-issuer", Claim: IssuerClaim}}
	l.Config.Issuers = map[string]string{"https://auth.example.com": "production", "https://auth.staging.example.com": "staging"}
	l.Verifier = fakeVerifier{
		"prod":    claims(`{"sub":"p1","iss":"https://auth.example.com","@issuer":"forged"}`),
		"staging": claims(`{"sub":"s1","iss":"https://auth.staging.example.com"}`),
	}
	cases := map[string]struct {
		headers map[string]string
		issuer  string
	}{
		"a production token":            {map[string]string{"authorization": "Bearer prod"}, "production"},
		"a staging token":               {map[string]string{"authorization": "Bearer staging"}, "staging"},
		"a session-cache cookie":        {map[string]string{"cookie": "better-auth.session_data=cookie-alice"}, "staging"},
		"a session token looked up":     {map[string]string{"cookie": "better-auth.session_token=tok-bob"}, "staging"},
		"anonymous on a public route":   {map[string]string{}, ""},
		"a bad token on a public route": {map[string]string{"authorization": "Bearer nope"}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			path := "/orders"
			if tc.issuer == "" {
				path = "/" // public
			}
			d := Decide(context.Background(), l, httpCheck("GET", "api.example.com", path, tc.headers))
			if !d.Allowed() {
				t.Fatalf("%s: %s", d.Reason, d.Description)
			}
			got := ""
			for _, h := range d.Set {
				if h.Name == "x-user-issuer" {
					got = h.Value
				}
			}
			if got != tc.issuer {
				t.Errorf("x-user-issuer %q, want %q (set %v)", got, tc.issuer, d.Set)
			}
			if removed := slices.Contains(d.Remove, "x-user-issuer"); removed != (tc.issuer == "") {
				t.Errorf("x-user-issuer removed: %v (remove %v)", removed, d.Remove)
			}
		})
	}
	if set, _ := l.Config.Identity(claims(`{"sub":"s1","iss":"https://auth.staging.example.com"}`), false); !slices.Contains(set, Header{"x-user-issuer", "staging"}) {
		t.Errorf("Identity (betterauthz verify) sets %v, want x-user-issuer: staging", set)
	}
}

// The underscore spelling of an identity header is removed from allowed requests, unless it is
// an identity header itself: a header is never both set and removed.
func TestUnderscoreSpellings(t *testing.T) {
	p := testPolicy()
	p.Default = policy.Public
	p.IdentityHeaders = []IdentityHeader{
		{Name: "plain", Claim: "email"},     // no "-": no other spelling
		{Name: "x-user-id", Claim: "sub"},   // x_user_id
		{Name: "x_legacy_id", Claim: "sub"}, // an underscore name already
		{Name: "x-role", Claim: "role"},     // x_role is configured below, and set
		{Name: "x_role", Claim: "role"},
	}
	l := p.live(fakeVerifier{"good": claims(`{"sub":"u1","email":"a@example.com","role":"admin"}`)}, nil)
	for _, headers := range []map[string]string{{"authorization": "Bearer good"}, nil} {
		d := Decide(context.Background(), l, httpCheck("GET", "api.example.com", "/", headers))
		if !slices.Equal(d.Underscored, []string{"x_user_id"}) {
			t.Errorf("underscored %v, want [x_user_id]", d.Underscored)
		}
		for _, h := range d.Set {
			if slices.Contains(d.Underscored, h.Name) || slices.Contains(d.Remove, h.Name) {
				t.Errorf("%s is both set and removed", h.Name)
			}
		}
	}
}
