package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestInvalidConfigs: one fixture per invalid config; its "# want:" lines are the exact
// problems reported, in any order.
func TestInvalidConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = append(want, w)
				}
			}
			// The "# want:" lines sit above the config, so line numbers count them too.
			_, err = Parse(data, env(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			var got []string
			for _, p := range Problems(err) {
				got = append(got, p.Error())
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

func TestDefaultsFollowBetterAuth(t *testing.T) {
	s, err := Parse(nil, env(map[string]string{"BETTER_AUTH_URL": "https://auth.example.com/"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Settings{
		Issuers: []Issuer{{
			Name:          "default",
			BetterAuthURL: "https://auth.example.com/",
			Origin:        "https://auth.example.com",
			BasePath:      "/api/auth",
			JWKSURL:       "https://auth.example.com/api/auth/jwks",
			Issuer:        "https://auth.example.com",
			Audiences:     []string{"https://auth.example.com"},
			Algorithms:    []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"},
		}},
		JWKSRefreshInterval: 5 * time.Minute,
		ClockSkew:           30 * time.Second,
		IdentityHeaders: []authz.IdentityHeader{
			{Name: "x-user-email", Claim: "email"}, {Name: "x-user-id", Claim: "sub"}, {Name: "x-user-name", Claim: "name"},
		},
		// Secure defaults (issue 18): no CORS preflight lets anything through without a token.
		AllowCORSPreflight: false,
		DefaultPolicy:      policy.Authenticated,
	}
	if !equalSettings(s, want) {
		t.Fatalf("got  %+v\nwant %+v", s, want)
	}

	s, err = Parse(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if s.Issuers[0].JWKSURL != "http://localhost:3000/api/auth/jwks" || s.Issuers[0].Issuer != "http://localhost:3000" {
		t.Fatalf("without BETTER_AUTH_URL: %+v", s)
	}
}

func TestValidConfigs(t *testing.T) {
	cases := map[string]struct {
		env   map[string]string
		check func(t *testing.T, s *Settings)
	}{
		"full.yaml": {check: func(t *testing.T, s *Settings) {
			if s.Issuers[0].JWKSURL != "https://auth.example.com/auth/keys" || s.Issuers[0].Issuer != "https://auth.example.com" {
				t.Errorf("jwks %s issuer %s", s.Issuers[0].JWKSURL, s.Issuers[0].Issuer)
			}
			if !slices.Equal(s.Issuers[0].Audiences, []string{"https://app.example.com", "https://admin.example.com"}) {
				t.Errorf("audiences %v", s.Issuers[0].Audiences)
			}
			if !slices.Equal(s.Issuers[0].Algorithms, []string{"EdDSA", "ES256"}) || s.ClockSkew != 0 || s.AllowCORSPreflight {
				t.Errorf("algorithms %v skew %s cors %v", s.Issuers[0].Algorithms, s.ClockSkew, s.AllowCORSPreflight)
			}
			if s.DefaultPolicy != policy.Deny || s.JWKSRefreshInterval != time.Minute {
				t.Errorf("policy %s refresh %s", s.DefaultPolicy, s.JWKSRefreshInterval)
			}
			want := []authz.IdentityHeader{{Name: "x-org", Claim: "activeOrganizationId"}, {Name: "x-user-id", Claim: "sub"}, {Name: "x-user-role", Claim: "role"}}
			if !slices.Equal(s.IdentityHeaders, want) {
				t.Errorf("identity headers %v", s.IdentityHeaders)
			}
		}},
		"config-url-beats-env.yaml": {
			env: map[string]string{"BETTER_AUTH_URL": "https://env.example.com"},
			check: func(t *testing.T, s *Settings) {
				if s.Issuers[0].Issuer != "https://file.example.com" {
					t.Errorf("issuer %s", s.Issuers[0].Issuer)
				}
			},
		},
		"custom-base-path.yaml": {check: func(t *testing.T, s *Settings) {
			if s.Issuers[0].JWKSURL != "http://better-auth.auth.svc.cluster.local:3000/auth/jwks" {
				t.Errorf("jwks %s", s.Issuers[0].JWKSURL)
			}
		}},
		"no-identity-headers.yaml": {check: func(t *testing.T, s *Settings) {
			if len(s.IdentityHeaders) != 0 {
				t.Errorf("identity headers %v", s.IdentityHeaders)
			}
		}},
		"routes.yaml": {check: func(t *testing.T, s *Settings) {
			var names []string
			for _, r := range s.Routes {
				names = append(names, r.Name+":"+r.Action.String())
			}
			if !slices.Equal(names, []string{"health:public", "admin:authenticated", "internal:deny"}) {
				t.Errorf("routes %v", names)
			}
		}},
		"annotations.yaml": {check: func(t *testing.T, s *Settings) {
			want := Annotations{Enabled: true, Namespaces: []string{"billing", "shop"}, AllowPublic: true, ClusterDomain: "corp.internal",
				IngressClasses: []string{"internal.example.com", "nginx"}, Gateways: []string{"gateways/public", "infra/internal"}}
			if !s.Annotations.Equal(want) {
				t.Errorf("annotations %+v", s.Annotations)
			}
		}},
		"jwks-tls.yaml": {check: func(t *testing.T, s *Settings) {
			if s.JWKSCAFile != "/etc/betterauthz/jwks-ca/ca.crt" || s.MaxKeyAge != 72*time.Hour {
				t.Errorf("CA file %q, max key age %s", s.JWKSCAFile, s.MaxKeyAge)
			}
		}},
		"issuers.yaml": {check: func(t *testing.T, s *Settings) {
			if len(s.Issuers) != 2 {
				t.Fatalf("issuers %+v", s.Issuers)
			}
			prod, staging := s.Issuers[0], s.Issuers[1]
			if prod.Name != "production" || prod.Issuer != "https://auth.example.com" || prod.JWKSURL != "https://auth.example.com/api/auth/jwks" ||
				!slices.Equal(prod.Audiences, []string{"https://auth.example.com"}) || len(prod.Algorithms) != 5 {
				t.Errorf("production %+v", prod)
			}
			// Ed25519 is RFC 9864's name for EdDSA.
			if staging.Name != "staging" || staging.Issuer != "https://auth.staging.example.com" ||
				staging.JWKSURL != "https://auth.staging.example.com/auth/jwks" ||
				!slices.Equal(staging.Algorithms, []string{"EdDSA", "ES256"}) {
				t.Errorf("staging %+v", staging)
			}
			c := s.Compile()
			if c.Issuers["https://auth.example.com"] != "production" || c.Issuers["https://auth.staging.example.com"] != "staging" {
				t.Errorf("authz issuers %v", c.Issuers)
			}
			if s.Sessions.Issuer != "staging" || c.Browser.Issuer != "staging" || s.Sessions.LookupURL != "https://auth.staging.example.com/auth/get-session" {
				t.Errorf("sessions %+v / %+v", s.Sessions, c.Browser)
			}
			if len(s.Routes) != 1 || s.Routes[0].Spec.Issuer != "production" {
				t.Errorf("routes %+v", s.Routes)
			}
			// With more than one issuer, the default identity headers name the issuer too.
			want := []authz.IdentityHeader{
				{Name: "x-user-email", Claim: "email"}, {Name: "x-user-id", Claim: "sub"},
				{Name: "x-user-issuer", Claim: "@issuer"}, {Name: "x-user-name", Claim: "name"},
			}
			if !slices.Equal(s.IdentityHeaders, want) {
				t.Errorf("identity headers %v, want %v", s.IdentityHeaders, want)
			}
		}},
		"issuers-own-identity-headers.yaml": {check: func(t *testing.T, s *Settings) {
			// Identity headers written out are exactly those, with several issuers too; one of
			// them may name the issuer.
			want := []authz.IdentityHeader{{Name: "x-tenant", Claim: "@issuer"}, {Name: "x-user-id", Claim: "sub"}}
			if len(s.Issuers) != 2 || !slices.Equal(s.IdentityHeaders, want) {
				t.Errorf("identity headers %v, want %v", s.IdentityHeaders, want)
			}
		}},
		"dry-run.yaml": {check: func(t *testing.T, s *Settings) {
			if !s.DryRun || !s.Compile().DryRun || len(s.Routes) != 1 || !s.Routes[0].DryRun() {
				t.Errorf("dry run %v, rules %+v", s.DryRun, s.Routes)
			}
		}},
		"sessions.yaml": {check: func(t *testing.T, s *Settings) {
			want := Sessions{CookieCache: true, Lookup: true, LookupTTL: 10 * time.Second, CookiePrefix: "myapp",
				LookupURL: "http://better-auth.auth.svc.cluster.local:3000/api/get-session",
				SignInURL: "https://app.example.com/sign-in?from=mesh", Issuer: "default", TrustedOrigins: []string{"https://app.example.com", "http://localhost:3000"},
				MaxConcurrentLookups: 16}
			if !reflect.DeepEqual(s.Sessions, want) {
				t.Errorf("sessions %+v", s.Sessions)
			}
			got := s.Compile().Browser
			if !got.SecureOnly || !slices.Equal(got.TrustedOrigins, []string{"https://app.example.com", "http://localhost:3000", "https://auth.example.com"}) {
				t.Errorf("authz sessions %+v: want __Secure- names only (https) and Better Auth's origin trusted", got)
			}
		}},
		"resources-issuers.yaml": {check: func(t *testing.T, s *Settings) {
			// A resource takes access tokens of its own issuer only (the first by default).
			got := s.Compile().Resources
			if got["https://api.example.com/tasks"].IssuerName != "prod" || got["https://api.staging.example.com/staging-tasks"].IssuerName != "staging" {
				t.Errorf("resources' issuers: %+v, %+v", got["https://api.example.com/tasks"], got["https://api.staging.example.com/staging-tasks"])
			}
		}},
		"introspection.yaml": {check: func(t *testing.T, s *Settings) {
			if len(s.Resources) != 3 || s.Resources[2].Introspection != nil {
				t.Fatalf("resources %+v: want introspection off unless configured", s.Resources)
			}
			issuers := []string{"https://auth.example.com/api/auth", "https://auth.example.com"}
			want := &Introspection{Key: "resources[0].introspection", URL: "https://auth.example.com/api/auth/oauth2/introspect",
				ClientID: "betterauthz", ClientSecretFile: "/etc/betterauthz/introspection/client-secret", Issuers: issuers,
				MaxConcurrent: 16, MaxEntries: 10000, CacheTTL: 5 * time.Minute, InactiveTTL: 5 * time.Second, Timeout: 2 * time.Second}
			if got := s.Resources[0].Introspection; !reflect.DeepEqual(got, want) {
				t.Errorf("defaults %+v, want %+v", got, want)
			}
			want = &Introspection{Key: "resources[1].introspection", URL: "http://better-auth.auth.svc.cluster.local:3000/api/auth/oauth2/introspect",
				ClientID: "betterauthz-mcp", ClientSecretFile: "/etc/betterauthz/introspection/mcp-secret", PostSecret: true, Issuers: issuers,
				MaxConcurrent: 8, MaxEntries: 500, CacheTTL: 30 * time.Second, InactiveTTL: 2 * time.Second, Timeout: time.Second,
				Namespaces: []string{"team-a", "*"}}
			if got := s.Resources[1].Introspection; !reflect.DeepEqual(got, want) {
				t.Errorf("set %+v, want %+v", got, want)
			}
		}},
		"empty.yaml": {check: func(t *testing.T, s *Settings) {
			if !reflect.DeepEqual(s.Sessions, Sessions{CookiePrefix: "better-auth", LookupTTL: 30 * time.Second, LookupURL: "http://localhost:3000/api/auth/get-session", Issuer: "default", MaxConcurrentLookups: 64}) {
				t.Errorf("sessions %+v: want off", s.Sessions)
			}
			if s.MaxKeyAge != 24*time.Hour || s.JWKSCAFile != "" {
				t.Errorf("max key age %s, CA file %q", s.MaxKeyAge, s.JWKSCAFile)
			}
			if len(s.IdentityHeaders) != 3 || s.DefaultPolicy != policy.Authenticated ||
				!s.Annotations.Equal(Annotations{Enabled: true, AllowPublic: false, ClusterDomain: "cluster.local"}) {
				t.Errorf("%+v", s)
			}
		}},
	}
	for file, tc := range cases {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "valid", file))
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(data, env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestBadBetterAuthURLFromEnvironmentNamesIt(t *testing.T) {
	_, err := Parse(nil, env(map[string]string{"BETTER_AUTH_URL": "auth.example.com"}))
	if err == nil || !strings.Contains(err.Error(), "betterAuthURL (from $BETTER_AUTH_URL)") {
		t.Fatalf("error %v", err)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, env(nil))
		if err != nil {
			for _, p := range Problems(err) {
				if p.Msg == "" {
					t.Fatalf("problem without a message: %#v", p)
				}
			}
			return
		}
		if s.Issuers[0].Issuer == "" || len(s.Issuers[0].Audiences) == 0 || len(s.Issuers[0].Algorithms) == 0 || s.Issuers[0].JWKSURL == "" {
			t.Fatalf("accepted config lacks essentials: %+v", s)
		}
		s.Compile()
	})
}

func equalSettings(a, b *Settings) bool {
	return slices.EqualFunc(a.Issuers, b.Issuers, func(x, y Issuer) bool {
		return x.Name == y.Name && x.BetterAuthURL == y.BetterAuthURL && x.Origin == y.Origin && x.BasePath == y.BasePath &&
			x.JWKSURL == y.JWKSURL && x.Issuer == y.Issuer && slices.Equal(x.Audiences, y.Audiences) &&
			slices.Equal(x.Algorithms, y.Algorithms)
	}) && a.JWKSRefreshInterval == b.JWKSRefreshInterval && a.ClockSkew == b.ClockSkew && slices.Equal(a.IdentityHeaders, b.IdentityHeaders) &&
		a.AllowCORSPreflight == b.AllowCORSPreflight && a.DefaultPolicy == b.DefaultPolicy
}
