package authz

import (
	"context"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/session"
)

type fakeRoles map[string]any // organization id -> role or error

func (f fakeRoles) MemberRole(_ context.Context, _, _, org, _ string) (string, error) {
	switch v := f[org].(type) {
	case string:
		return v, nil
	case error:
		return "", v
	}
	return "", nil
}

type fakeAPIKeys map[string]any // key -> claims JSON or error

func (f fakeAPIKeys) APIKey(_ context.Context, _, key string) (*session.Session, error) {
	switch v := f[key].(type) {
	case string:
		return &session.Session{Claims: claims(v)}, nil
	case error:
		return nil, v
	}
	return nil, session.ErrNoSession
}

func standingLive(t *testing.T) *Snapshot {
	t.Helper()
	yes, no := true, false
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "admin", Paths: []string{"/admin/**"}, OrgRoles: []string{"admin", "owner"}},
		{Name: "support", Paths: []string{"/support/**"}, Impersonated: &yes},
		{Name: "billing", Paths: []string{"/billing/**"}, Impersonated: &no, Anonymous: &no},
		{Name: "api", Paths: []string{"/api/**"}, Credentials: []string{"apiKey"}},
		{Name: "home", Paths: []string{"/"}, Policy: "public"},
	}, "routes", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := testPolicy()
	c.Routes = rules
	c.IdentityHeaders = []IdentityHeader{
		{Name: "x-api-key-id", Claim: APIKeyIDClaim},
		{Name: "x-impersonated-by", Claim: ImpersonatedByClaim},
		{Name: "x-org", Claim: OrganizationClaim},
		{Name: "x-org-role", Claim: OrganizationRole},
		{Name: "x-user-id", Claim: "sub"},
	}
	l := c.live(fakeVerifier{
		"jwt-admin":  claims(`{"sub":"u1","activeOrganizationId":"o1","orgRole":"member,admin"}`),
		"jwt-plain":  claims(`{"sub":"u2","activeOrganizationId":"o1"}`),
		"jwt-banned": claims(`{"sub":"u3","banned":true}`),
		"jwt-ban-over": claims(`{"sub":"u4","banned":true,"banExpires":"` +
			time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `"}`),
		"jwt-ban-later": claims(`{"sub":"u5","banned":true,"banExpires":"` +
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`),
		"jwt-imp": claims(`{"sub":"u6","impersonatedBy":"adm"}`),
	}, nil)
	l.Config.Organizations = Organizations{ActiveOrganizationClaim: "activeOrganizationId", RoleClaim: "orgRole", ImpersonatedByClaim: "impersonatedBy"}
	l.Config.Browser = Browser{CookieCache: true, Lookup: true, CookiePrefix: "better-auth", CookieCacheVersion: "2"}
	l.Config.APIKeys = APIKeys{Header: "x-api-key"}
	l.SessionVerifier = fakeVerifier{
		"c-owner":  claims(`{"sub":"u7","@cookieCacheVersion":"2","session":{"activeOrganizationId":"o1"}}`),
		"c-member": claims(`{"sub":"u8","@cookieCacheVersion":"2","session":{"activeOrganizationId":"o2"}}`),
		"c-down":   claims(`{"sub":"u8","@cookieCacheVersion":"2","session":{"activeOrganizationId":"o3"}}`),
		"c-anon":   claims(`{"sub":"u9","@cookieCacheVersion":"2","isAnonymous":true}`),
		"c-imp":    claims(`{"sub":"u6","@cookieCacheVersion":"2","session":{"impersonatedBy":"adm"}}`),
		"c-old":    claims(`{"sub":"u7","@cookieCacheVersion":"1"}`),
	}
	l.Sessions = fakeLookup{"better-auth.session_token=tok": `{"sub":"looked-up"}`}
	l.Roles = fakeRoles{"o1": "owner", "o2": "member", "o3": session.ErrUnavailable}
	l.APIKeys = fakeAPIKeys{
		"key-good":   `{"sub":"u1","session":{"id":"key-1"}}`,
		"key-banned": `{"sub":"u1","banned":true,"session":{"id":"key-2"}}`,
		"key-slow":   session.ErrRateLimited,
	}
	return l
}

func TestStanding(t *testing.T) {
	l := standingLive(t)
	bearer := func(tok string) map[string]string { return map[string]string{"authorization": "Bearer " + tok} }
	cookie := func(data string) map[string]string {
		return map[string]string{"cookie": "better-auth.session_data=" + data + "; better-auth.session_token=tok"}
	}
	cacheOnly := func(data string) map[string]string {
		return map[string]string{"cookie": "better-auth.session_data=" + data}
	}
	key := func(k string) map[string]string { return map[string]string{"x-api-key": k} }
	for name, tc := range map[string]struct {
		path    string
		headers map[string]string
		want    Reason
		set     map[string]string
	}{
		"JWT role claim, comma-joined":     {"/admin/x", bearer("jwt-admin"), ReasonAllowed, map[string]string{"x-org-role": "member,admin", "x-org": "o1"}},
		"JWT without the role claim":       {"/admin/x", bearer("jwt-plain"), ReasonInsufficientClaims, nil},
		"banned JWT, everywhere":           {"/other", bearer("jwt-banned"), ReasonBanned, nil},
		"ban over":                         {"/other", bearer("jwt-ban-over"), ReasonAllowed, nil},
		"ban not over":                     {"/other", bearer("jwt-ban-later"), ReasonBanned, nil},
		"banned on a public route":         {"/", bearer("jwt-banned"), ReasonPublic, nil},
		"JWT impersonation claim":          {"/support/x", bearer("jwt-imp"), ReasonAllowed, map[string]string{"x-impersonated-by": "adm"}},
		"impersonated refused":             {"/billing/x", bearer("jwt-imp"), ReasonInsufficientClaims, nil},
		"not impersonated refused":         {"/support/x", bearer("jwt-plain"), ReasonInsufficientClaims, nil},
		"cookie role asked: owner":         {"/admin/x", cookie("c-owner"), ReasonAllowed, map[string]string{"x-org-role": "owner", "x-org": "o1"}},
		"cookie role asked: member":        {"/admin/x", cookie("c-member"), ReasonInsufficientClaims, nil},
		"cookie role: Better Auth down":    {"/admin/x", cookie("c-down"), ReasonSessionUnavailable, nil},
		"cookie without its token: no ask": {"/admin/x", cacheOnly("c-owner"), ReasonInsufficientClaims, nil},
		"anonymous refused":                {"/billing/x", cookie("c-anon"), ReasonInsufficientClaims, nil},
		"cookie impersonation":             {"/support/x", cacheOnly("c-imp"), ReasonAllowed, map[string]string{"x-impersonated-by": "adm"}},
		"other cookie version, alone":      {"/other", cacheOnly("c-old"), ReasonInvalidToken, nil},
		"other cookie version, looked up":  {"/other", cookie("c-old"), ReasonAllowed, map[string]string{"x-user-id": "looked-up"}},
		"API key":                          {"/api/x", key("key-good"), ReasonAllowed, map[string]string{"x-api-key-id": "key-1", "x-user-id": "u1"}},
		"API key of a banned user":         {"/api/x", key("key-banned"), ReasonBanned, nil},
		"API key unknown":                  {"/api/x", key("key-unknown"), ReasonInvalidToken, nil},
		"API key rate-limited":             {"/api/x", key("key-slow"), ReasonSessionUnavailable, nil},
		"API key on a browser route":       {"/other", key("key-good"), ReasonNotAccepted, nil},
		"API key malformed":                {"/api/x", key("a b"), ReasonInvalidToken, nil},
		"API key and no role":              {"/admin/x", key("key-good"), ReasonNotAccepted, nil},
	} {
		d := Decide(context.Background(), l, httpCheck("GET", "app.example.com", tc.path, tc.headers))
		if d.Reason != tc.want {
			t.Errorf("%s: %s (%s), want %s", name, d.Reason, d.Description, tc.want)
			continue
		}
		got := map[string]string{}
		for _, h := range d.Set {
			got[h.Name] = h.Value
		}
		for k, v := range tc.set {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q (set %v)", name, k, got[k], v, d.Set)
			}
		}
		if d.Allowed() && tc.headers["x-api-key"] == "" {
			continue
		}
		if d.Allowed() {
			stripped := false
			for _, n := range d.Remove {
				stripped = stripped || n == "x-api-key"
			}
			if !stripped {
				t.Errorf("%s: the API key header is not stripped: %v", name, d.Remove)
			}
		}
	}
}

func TestBanInForce(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for js, want := range map[string]bool{
		`{}`:                                    true,
		`{"banExpires":null}`:                   true,
		`{"banExpires":"2026-12-06T23:00:00Z"}`: false,
		`{"banExpires":"2026-12-07T01:00:00.5Z"}`: true,
		`{"banExpires":1796590800}`:               false, // seconds, past
		`{"banExpires":1796590800000}`:            false, // milliseconds, past
		`{"banExpires":4102444800000}`:            true,
		`{"banExpires":"next tuesday"}`:           true, // unreadable: fail closed
		`{"banExpires":{}}`:                       true,
	} {
		if got := banInForce(claims(js), now); got != want {
			t.Errorf("%s: %t, want %t", js, got, want)
		}
	}
}

func FuzzBanInForce(f *testing.F) {
	for _, s := range []string{`{"banExpires":"2026-12-06T23:00:00Z"}`, `{"banExpires":1796590800}`, `{"banExpires":null}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		c, err := jwks.ParseClaims([]byte(js))
		if err != nil {
			return
		}
		_ = banInForce(c, time.Now())
	})
}

// A JWT that does not say whether it is impersonated or anonymous fails a rule that asks, and
// a user's "scope" field is not an access token's scopes.
func TestUnsaidStandingFailsClosed(t *testing.T) {
	c := testPolicy()
	rules, errs := policy.CompileRules([]policy.RuleSpec{
		{Name: "billing", Paths: []string{"/billing"}, Impersonated: new(bool)},
		{Name: "members", Paths: []string{"/members"}, Anonymous: new(bool)},
		{Name: "scoped", Paths: []string{"/scoped"}, Scopes: []string{"read"}, Credentials: []string{"jwt"}},
	}, "r", policy.SourceConfig, true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c.Routes = rules
	s := c.live(fakeVerifier{
		"silent": claims(`{"sub":"u1","scope":"read"}`),
		"says":   claims(`{"sub":"u1","impersonatedBy":null,"isAnonymous":false}`),
	}, nil)
	s.Config.Organizations.ImpersonatedByClaim = "impersonatedBy"
	for _, tc := range []struct {
		path, token string
		want        Reason
	}{
		{"/billing", "silent", ReasonInsufficientClaims},
		{"/billing", "says", ReasonAllowed},
		{"/members", "silent", ReasonInsufficientClaims},
		{"/members", "says", ReasonAllowed},
		{"/scoped", "silent", ReasonInsufficientScope}, // the JWT's own "scope" field counts for nothing
	} {
		d := Decide(context.Background(), s, httpCheck("GET", "api.example.com", tc.path, map[string]string{"authorization": "Bearer " + tc.token}))
		if d.Reason != tc.want {
			t.Errorf("%s with %s: %s (%s), want %s", tc.path, tc.token, d.Reason, d.Description, tc.want)
		}
	}
}
