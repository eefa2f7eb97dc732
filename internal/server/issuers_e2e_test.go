package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// issuersConfig trusts two Better Auths, each with its own algorithm, and keeps /main/ for the
// first one's tokens.
func issuersConfig(main, second *betterauth.Server, extra string) string {
	return fmt.Sprintf(`issuers:
  - name: main
    betterAuthURL: %s
    algorithms: [EdDSA]
  - name: second
    betterAuthURL: %s
    algorithms: [ES256]
%sidentityHeaders:
  x-user-id: sub
routes:
  - name: main-only
    paths: [/main/*]
    issuer: main
`, main.URL, second.URL, extra)
}

// TestSeveralIssuers runs two real Better Auth servers that sign with different algorithms: each
// one's tokens verify with its own keys, a token of one re-labelled with the other's iss (and
// audience) is refused, each issuer keeps its algorithms, a rule that names an issuer refuses
// the other's tokens with 403, and the JWKS metrics say which issuer they are about.
func TestSeveralIssuers(t *testing.T) {
	second, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	r := run(t, issuersConfig(ba, second, ""), nil)
	r.waitReady(t, 15*time.Second)

	mine, err := ba.Mint(betterauth.MintOptions{Alg: "EdDSA"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := second.Mint(betterauth.MintOptions{Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	// Signed by main's keys, but claiming to be second's: verified with second's keys, it fails.
	relabelled, err := ba.Mint(betterauth.MintOptions{Alg: "ES256", Issuer: second.URL, Audience: second.URL})
	if err != nil {
		t.Fatal(err)
	}
	mainWrongAlg, err := ba.Mint(betterauth.MintOptions{Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		token, path, want, user string
	}{
		"main's token":                    {token: mine.Token, path: "/x", want: "allowed", user: mine.UserID},
		"second's token":                  {token: theirs.Token, path: "/x", want: "allowed", user: theirs.UserID},
		"main's token re-labelled":        {token: relabelled.Token, path: "/x", want: "denied 401"},
		"main's token, second's alg":      {token: mainWrongAlg.Token, path: "/x", want: "denied 401"},
		"main's token on main's route":    {token: mine.Token, path: "/main/a", want: "allowed", user: mine.UserID},
		"second's token on main's route":  {token: theirs.Token, path: "/main/a", want: "denied 403"},
		"re-labelled token, main's route": {token: relabelled.Token, path: "/main/a", want: "denied 401"},
	} {
		t.Run(name, func(t *testing.T) {
			h := bearer(tc.token)
			h["x-user-id"] = "spoofed"
			resp := r.checkRequest(t, "GET", tc.path, h)
			if got := answer(resp); got != tc.want {
				t.Fatalf("%s, want %s", got, tc.want)
			}
			if got := setHeaders(resp)["x-user-id"].GetHeader().GetValue(); tc.want == "allowed" && got != tc.user {
				t.Errorf("x-user-id %q, want %q", got, tc.user)
			}
		})
	}
	if logs := r.logs.String(); !strings.Contains(logs, `this route takes tokens of issuer \"main\" only`) {
		t.Errorf("the issuer mismatch is not explained in the log:\n%s", grepLines(logs, "main-only"))
	}
	if _, routes := r.get(t, "/debug/routes"); !strings.Contains(routes, "authenticated (issuer main)") {
		t.Errorf("/debug/routes does not show the rule's issuer:\n%s", routes)
	}
	_, metrics := r.get(t, "/metrics")
	for _, want := range []string{
		`betterauthz_jwks_keys{issuer="main"}`, `betterauthz_jwks_keys{issuer="second"}`,
		`betterauthz_jwks_refreshes_total{issuer="main",result="success",trigger="initial"} 1`,
		`betterauthz_jwks_refreshes_total{issuer="second",result="success",trigger="initial"} 1`,
		`betterauthz_jwks_key_age_seconds{issuer="main"}`, `betterauthz_jwks_key_age_seconds{issuer="second"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// With several issuers and the default identity headers, x-user-issuer names the issuer whose
// keys verified the token (a client's own copy, and its underscore spelling, never pass).
func TestSeveralIssuersNameTheIssuer(t *testing.T) {
	t.Parallel()
	second, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	r := run(t, fmt.Sprintf(`issuers:
  - name: production
    betterAuthURL: %s
  - name: staging
    betterAuthURL: %s
allowCORSPreflight: true
`, ba.URL, second.URL), nil)
	r.waitReady(t, 15*time.Second)
	for issuer, s := range map[string]*betterauth.Server{"production": ba, "staging": second} {
		m, err := s.Mint(betterauth.MintOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := bearer(m.Token)
		h["x-user-issuer"], h["x_user_issuer"] = "production", "production"
		resp := r.check(t, h)
		set := setHeaders(resp)
		if got := set["x-user-issuer"].GetHeader().GetValue(); got != issuer {
			t.Errorf("%s's token: x-user-issuer %q, want %q", issuer, got, issuer)
		}
		if got := set["x-user-id"].GetHeader().GetValue(); got != m.UserID {
			t.Errorf("%s's token: x-user-id %q, want %q", issuer, got, m.UserID)
		}
		if rm := resp.GetOkResponse().GetHeadersToRemove(); !slices.Contains(rm, "x_user_issuer") {
			t.Errorf("%s's token: headers_to_remove %v lacks x_user_issuer", issuer, rm)
		}
	}
	// Without a credential the header is stripped like every identity header.
	resp := r.checkRequest(t, "OPTIONS", "/x", map[string]string{"origin": "https://app.example.com", "access-control-request-method": "GET", "x-user-issuer": "production"})
	if rm := resp.GetOkResponse().GetHeadersToRemove(); !slices.Contains(rm, "x-user-issuer") || !slices.Contains(rm, "x_user_issuer") {
		t.Errorf("a preflight: headers_to_remove %v, want x-user-issuer and x_user_issuer", rm)
	}
}

// TestOneIssuerDownLeavesTheOthersServing: an issuer whose JWKS does not answer does not hold
// readiness back once it has been tried; its tokens answer 503 while the other issuer's are
// allowed.
func TestOneIssuerDownLeavesTheOthersServing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close() // nothing answers there
	r := run(t, fmt.Sprintf(`issuers:
  - name: up
    betterAuthURL: %s
  - name: down
    betterAuthURL: %s
`, ba.URL, down), nil)
	r.waitReady(t, 15*time.Second)
	mine, _ := ba.Mint(betterauth.MintOptions{})
	if got := answer(r.check(t, bearer(mine.Token))); got != "allowed" {
		t.Errorf("the issuer that is up: %s", got)
	}
	// A token naming the issuer that is down (signed by the one that is up: it cannot tell yet).
	forDown, _ := ba.Mint(betterauth.MintOptions{Issuer: down, Audience: down})
	if got := answer(r.check(t, bearer(forDown.Token))); got != "denied 503" {
		t.Errorf("a token of the issuer that is down: %s, want 503", got)
	}
	_, metrics := r.get(t, "/metrics")
	if !strings.Contains(metrics, `betterauthz_jwks_refresh_failures_total{failure="unreachable",issuer="down"}`) {
		t.Errorf("/metrics does not say which issuer fails:\n%s", grepLines(metrics, "refresh_failures"))
	}
}

// TestReloadAddsAndRemovesIssuers: a reload that adds an issuer keeps the key sets of the others
// (no new fetch of their JWKS), serves the new one once its keys load, and a reload that removes
// one stops its key set and drops its gauges.
func TestReloadAddsAndRemovesIssuers(t *testing.T) {
	second, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	one := fmt.Sprintf("issuers:\n  - name: main\n    betterAuthURL: %s\n", ba.URL)
	r, path := startWithConfig(t, one)
	before, err := ba.JWKSFetches()
	if err != nil {
		t.Fatal(err)
	}
	theirs, _ := second.Mint(betterauth.MintOptions{})
	if got := answer(r.check(t, bearer(theirs.Token))); got != "denied 401" {
		t.Fatalf("an untrusted issuer's token: %s", got)
	}
	writeAtomically(t, path, one+fmt.Sprintf("  - name: second\n    betterAuthURL: %s\n", second.URL))
	eventually(t, 15*time.Second, func() string {
		if got := answer(r.check(t, bearer(theirs.Token))); got != "allowed" {
			return "the added issuer's token: " + got
		}
		return ""
	})
	mine, _ := ba.Mint(betterauth.MintOptions{})
	if got := answer(r.check(t, bearer(mine.Token))); got != "allowed" {
		t.Errorf("the kept issuer's token: %s", got)
	}
	if after, _ := ba.JWKSFetches(); after != before {
		t.Errorf("adding an issuer refetched the kept issuer's JWKS (%d fetches, then %d)", before, after)
	}

	writeAtomically(t, path, one)
	eventually(t, 15*time.Second, func() string {
		if got := answer(r.check(t, bearer(theirs.Token))); got != "denied 401" {
			return "the removed issuer's token: " + got
		}
		return ""
	})
	_, metrics := r.get(t, "/metrics")
	if strings.Contains(metrics, `betterauthz_jwks_keys{issuer="second"}`) {
		t.Error("the removed issuer's gauges are still exported")
	}
	if !strings.Contains(metrics, `betterauthz_jwks_keys{issuer="main"}`) {
		t.Error("the kept issuer's gauges are gone")
	}
}

// TestRFC9864Ed25519: a Better Auth configured with RFC 9864's name, keyPairConfig.alg
// "Ed25519", publishes JWKs and signs tokens under that name; they verify whether the
// algorithms list names Ed25519, EdDSA or nothing.
func TestRFC9864Ed25519(t *testing.T) {
	m, err := ba.Mint(betterauth.MintOptions{Alg: "Ed25519"})
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(m.Token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(head)
	var hdr struct{ Alg string }
	if err := json.Unmarshal(raw, &hdr); err != nil || hdr.Alg != "Ed25519" {
		t.Fatalf("Better Auth signed with alg %q (%v), want Ed25519", hdr.Alg, err)
	}
	resp, err := http.Get(ba.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"alg":"Ed25519"`) {
		t.Fatalf("the JWKS has no key with alg Ed25519: %s", body)
	}
	for _, algorithms := range []string{"", "algorithms: [Ed25519]\n", "algorithms: [EdDSA]\n"} {
		t.Run(strings.TrimSpace(algorithms), func(t *testing.T) {
			r := run(t, baseConfig(ba)+algorithms, nil)
			r.waitReady(t, 10*time.Second)
			if got := answer(r.check(t, bearer(m.Token))); got != "allowed" {
				t.Errorf("an Ed25519 token: %s", got)
			}
		})
	}
}

// hangingJWKS is an address that accepts connections and never answers.
func hangingJWKS(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return "http://" + l.Addr().String()
}

// TestReloadsThatWaitForKeys: a config whose keys cannot load does not take over, however it
// is reached — a second edit of a config still waiting, a rename (the shorthand moved into
// issuers) with a wrong jwksURL — and adding an issuer whose JWKS hangs neither drops
// readiness nor waits for ever; a change of the refresh settings is not held back by an issuer
// that is down.
func TestReloadsThatWaitForKeys(t *testing.T) {
	m, _ := ba.Mint(betterauth.MintOptions{})
	stillServing := func(t *testing.T, r *running) {
		t.Helper()
		time.Sleep(time.Second)
		if got := answer(r.check(t, bearer(m.Token))); got != "allowed" {
			t.Errorf("a token while the new config waits: %s", got)
		}
		if code, body := r.get(t, "/readyz"); code != 200 {
			t.Errorf("/readyz %d while the new config waits: %s", code, body)
		}
	}
	t.Run("a waiting config edited again", func(t *testing.T) {
		r, path := startWithConfig(t, baseConfig(ba))
		bad := baseConfig(ba) + "jwksURL: http://127.0.0.1:1/api/auth/jwks\n"
		writeAtomically(t, path, bad)
		time.Sleep(500 * time.Millisecond)
		writeAtomically(t, path, bad+"defaultPolicy: public\n")
		stillServing(t, r)
		if got := answer(r.check(t, nil)); got != "denied 401" {
			t.Errorf("the edited waiting config took over: %s", got)
		}
		writeAtomically(t, path, baseConfig(ba)+"defaultPolicy: public\n")
		eventually(t, 5*time.Second, func() string {
			if got := answer(r.check(t, nil)); got != "allowed" {
				return "the corrected config: " + got
			}
			return ""
		})
	})
	t.Run("the shorthand moved into issuers, with a wrong jwksURL", func(t *testing.T) {
		r, path := startWithConfig(t, baseConfig(ba))
		writeAtomically(t, path, fmt.Sprintf("issuers:\n  - name: production\n    betterAuthURL: %s\n    jwksURL: http://127.0.0.1:1/jwks\ndefaultPolicy: public\n", ba.URL))
		stillServing(t, r)
		if got := answer(r.check(t, nil)); got != "denied 401" {
			t.Errorf("the renamed issuer without keys took over: %s", got)
		}
	})
	t.Run("an issuer whose JWKS hangs is added", func(t *testing.T) {
		r, path := startWithConfig(t, baseConfig(ba))
		hang := hangingJWKS(t)
		writeAtomically(t, path, fmt.Sprintf("issuers:\n  - name: default\n    betterAuthURL: %s\n  - name: slow\n    betterAuthURL: %s\ndefaultPolicy: public\n", ba.URL, hang))
		// While its first fetch hangs (up to the 5 s fetch timeout), the config in force answers
		// and stays ready; then the new one takes over, the slow issuer without keys.
		stillServing(t, r)
		eventually(t, 15*time.Second, func() string {
			if got := answer(r.check(t, nil)); got != "allowed" {
				return "the config with the slow issuer never took over: " + got
			}
			return ""
		})
		if code, body := r.get(t, "/readyz"); code != 200 {
			t.Errorf("/readyz %d with one issuer down: %s", code, body)
		}
	})
	t.Run("refresh settings change while an issuer is down", func(t *testing.T) {
		cfg := fmt.Sprintf("issuers:\n  - name: up\n    betterAuthURL: %s\n  - name: down\n    betterAuthURL: http://127.0.0.1:1\n", ba.URL)
		r, path := startWithConfig(t, cfg)
		writeAtomically(t, path, cfg+"jwksRefreshInterval: 1m\ndefaultPolicy: public\n")
		eventually(t, 10*time.Second, func() string {
			if got := answer(r.check(t, nil)); got != "allowed" {
				return "the new refresh settings wait for the issuer that is down: " + got
			}
			return ""
		})
		if got := answer(r.check(t, bearer(m.Token))); got != "allowed" {
			t.Errorf("the issuer that is up, after the change: %s", got)
		}
	})
}
