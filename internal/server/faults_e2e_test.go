package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/faultjwks"
)

// signedBy is a token with Better Auth's claims for s, under kid, signed by key.
func signedBy(t *testing.T, s *betterauth.Server, method jwt.SigningMethod, alg, kid string, key any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]any{"alg": alg, "kid": kid}) + "." +
		enc(map[string]any{"iss": s.URL, "aud": s.URL, "sub": "intruder", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	sig, err := method.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// TestJWKSFaults puts each fault between betterauthz and the real Better Auth server's JWKS:
// decisions stay right, the last good keys stay, readiness and metrics say what happened, and
// the next good answer is picked up within seconds. DuplicateKid is not a failed fetch: see
// TestRotationDuringADuplicatedKid.
func TestJWKSFaults(t *testing.T) {
	t.Parallel()
	valid, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	realKid := kidOf(t, valid.Token)
	cases := map[faultjwks.Mode]struct {
		failure string // the failure kind counted; "" when the fetch succeeds
		// forged are tokens an attacker makes from what the fault serves: never allowed.
		forged func(f *faultjwks.Server) string
	}{
		faultjwks.Status500: {failure: "status"},
		faultjwks.Hang:      {failure: "unreachable"},
		faultjwks.SlowDrip:  {failure: "unreachable"},
		faultjwks.Garbage:   {failure: "invalid"},
		faultjwks.Truncated: {failure: "invalid"},
		faultjwks.Huge:      {failure: "too_large"},
		faultjwks.Reset:     {failure: "unreachable"},
		faultjwks.Redirect: {failure: "redirect", forged: func(f *faultjwks.Server) string {
			kid, key := f.AttackerKey()
			return signedBy(t, ba, jwt.SigningMethodEdDSA, "EdDSA", kid, key)
		}},
		faultjwks.DuplicateMember: {failure: "invalid", forged: func(f *faultjwks.Server) string {
			_, key := f.AttackerKey()
			return signedBy(t, ba, jwt.SigningMethodEdDSA, "EdDSA", realKid, key)
		}},
		faultjwks.UnsupportedBeside: {forged: func(f *faultjwks.Server) string {
			kid, key := f.WeakRSAKey()
			return signedBy(t, ba, jwt.SigningMethodRS256, "RS256", kid, key)
		}},
		faultjwks.DuplicateKidSame: {},
	}
	for mode, tc := range cases {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			f, err := faultjwks.Start(ba.JWKSURL())
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := run(t, baseConfig(ba)+"jwksURL: "+f.URL+"\n", nil)
			r.waitReady(t, 10*time.Second)
			if got := reasonOf(r.check(t, bearer(valid.Token))); got != "allowed" {
				t.Fatalf("before the fault: %s", got)
			}

			f.Set(mode)
			// A token with a kid nobody has seen makes betterauthz ask the JWKS now.
			got := reasonOf(r.check(t, bearer(forgedKid(t, ba.URL))))
			if tc.failure != "" {
				if got != "keys_unavailable" && got != "timeout" {
					t.Errorf("unknown kid while the JWKS fails: %s, want keys_unavailable or timeout", got)
				}
				eventually(t, 15*time.Second, func() string {
					_, metrics := r.get(t, "/metrics")
					if want := fmt.Sprintf(`betterauthz_jwks_refresh_failures_total{failure=%q,issuer="default"}`, tc.failure); !strings.Contains(metrics, want) {
						return "/metrics lacks " + want
					}
					return ""
				})
			} else if got != "unknown_key" {
				t.Errorf("unknown kid while the JWKS answers: %s, want unknown_key", got)
			}
			if got := reasonOf(r.check(t, bearer(valid.Token))); got != "allowed" {
				t.Errorf("a valid token during the fault: %s (the last good keys must stay)", got)
			}
			if tc.forged != nil {
				if got := reasonOf(r.check(t, bearer(tc.forged(f)))); got == "allowed" {
					t.Errorf("a token signed with the key the fault slipped in was allowed")
				}
			}
			if code, body := r.get(t, "/readyz"); code != 200 {
				t.Errorf("/readyz %d %q during the fault: the last good keys are still good", code, body)
			}
			if f.RedirectsFollowed() != 0 {
				t.Error("the JWKS redirect was followed")
			}

			f.Set(faultjwks.Normal)
			eventually(t, 10*time.Second, func() string {
				if got := reasonOf(r.check(t, bearer(forgedKid(t, ba.URL)))); got != "unknown_key" {
					return "unknown kid after the fault: " + got
				}
				return ""
			})
			if got := reasonOf(r.check(t, bearer(valid.Token))); got != "allowed" {
				t.Errorf("a valid token after the fault: %s", got)
			}
		})
	}
}

// An empty set is what Better Auth serves once every key's grace period has ended: the keys
// are gone, so their tokens are refused (not a fault to ride out), and betterauthz stays ready.
func TestJWKSEmptySetRetiresTheKeys(t *testing.T) {
	t.Parallel()
	valid, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := faultjwks.Start(ba.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := run(t, baseConfig(ba)+"jwksURL: "+f.URL+"\n", nil)
	r.waitReady(t, 10*time.Second)
	f.Set(faultjwks.Empty)
	_ = r.check(t, bearer(forgedKid(t, ba.URL))) // triggers the fetch
	eventually(t, 10*time.Second, func() string {
		if got := reasonOf(r.check(t, bearer(valid.Token))); got != "unknown_key" {
			return "a token of a retired key: " + got
		}
		return ""
	})
	if code, _ := r.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz %d with an empty key set", code)
	}
}

// A key rotated in while the JWKS is failing: its tokens get 503 (try again), never 401, and
// verify within seconds of the JWKS answering again.
func TestRotationDuringAJWKSFault(t *testing.T) {
	t.Parallel()
	s, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := s.Mint(betterauth.MintOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := faultjwks.Start(s.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := run(t, baseConfig(s)+"jwksURL: "+f.URL+"\n", nil)
	r.waitReady(t, 10*time.Second)
	f.Set(faultjwks.Reset)
	if err := s.Rotate("EdDSA"); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := reasonOf(r.check(t, bearer(fresh.Token))); got != "keys_unavailable" {
		t.Fatalf("a new key's token during the fault: %s, want keys_unavailable", got)
	}
	f.Set(faultjwks.Normal)
	eventually(t, 5*time.Second, func() string {
		if got := reasonOf(r.check(t, bearer(fresh.Token))); got != "allowed" {
			return "a new key's token after the fault: " + got
		}
		return ""
	})
}

// A JWKS served over TLS by a private CA: trusted through jwksCAFile, and refused without it.
func TestJWKSWithAPrivateCA(t *testing.T) {
	t.Parallel()
	valid, err := ba.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := faultjwks.StartTLS(ba.JWKSURL(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := run(t, baseConfig(ba)+"jwksURL: "+f.URL+"\njwksCAFile: "+f.CAFile+"\n", nil)
	r.waitReady(t, 10*time.Second)
	if got := reasonOf(r.check(t, bearer(valid.Token))); got != "allowed" {
		t.Fatalf("through the private CA: %s", got)
	}

	untrusted := run(t, baseConfig(ba)+"jwksURL: "+f.URL+"\n", nil)
	eventually(t, 10*time.Second, func() string {
		_, metrics := untrusted.get(t, "/metrics")
		if !strings.Contains(metrics, `betterauthz_jwks_refresh_failures_total{failure="unreachable",issuer="default"}`) {
			return "no TLS failure counted"
		}
		return ""
	})
	if code, body := untrusted.get(t, "/readyz"); code != 503 || !strings.Contains(body, "not loaded") {
		t.Errorf("/readyz %d %q without the CA", code, body)
	}
}

// A JWKS that lists a real kid twice — the attacker's key beside the real one — is not refused
// whole: neither key of that kid is trusted, and the rest of the set is, so a key rotated in
// during the attack verifies at once instead of answering 503 for as long as it lasts.
func TestRotationDuringADuplicatedKid(t *testing.T) {
	t.Parallel()
	s, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	old, err := s.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldKid := kidOf(t, old.Token)
	f, err := faultjwks.Start(s.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := run(t, baseConfig(s)+"jwksURL: "+f.URL+"\n", nil)
	r.waitReady(t, 10*time.Second)
	if got := reasonOf(r.check(t, bearer(old.Token))); got != "allowed" {
		t.Fatalf("before the attack: %s", got)
	}

	f.Set(faultjwks.DuplicateKid)
	if err := s.Rotate("EdDSA"); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	freshKid := kidOf(t, fresh.Token)
	if freshKid == oldKid {
		t.Fatal("the rotation did not change the signing key")
	}
	// The premise: the fault serves the old kid twice and the new one once.
	if counts := servedKids(t, f.URL); counts[oldKid] != 2 || counts[freshKid] != 1 {
		t.Fatalf("the fault serves kids %v; want %s twice and %s once", counts, oldKid, freshKid)
	}

	// The new key's first token asks for the set now, and verifies with it.
	if got := reasonOf(r.check(t, bearer(fresh.Token))); got != "allowed" {
		t.Fatalf("a token of the key rotated in during the attack: %s, want allowed", got)
	}
	_, attacker := f.AttackerKey()
	forged := signedBy(t, s, jwt.SigningMethodEdDSA, "EdDSA", oldKid, attacker)
	for name, token := range map[string]string{"the attacker's": forged, "the real key's": old.Token} {
		if got := reasonOf(r.check(t, bearer(token))); got != "unknown_key" {
			t.Errorf("%s token under the duplicated kid: %s, want unknown_key (neither key is trusted)", name, got)
		}
	}
	if code, body := r.get(t, "/readyz"); code != 200 {
		t.Errorf("/readyz %d %q: the set is usable", code, body)
	}
	_, metrics := r.get(t, "/metrics")
	if strings.Contains(metrics, "betterauthz_jwks_refresh_failures_total{") {
		t.Error("a refresh failure was counted: the set is usable, only the duplicated kid is not")
	}
	// slog's JSON escapes the quotes around the kid.
	if logs := r.logs.String(); !strings.Contains(logs, `kid \"`+oldKid+`\" names two different keys: neither is trusted`) {
		t.Error("the duplicated kid was not logged")
	}

	// The attack over, the old key verifies again (after the 5 s its kid is remembered absent).
	f.Set(faultjwks.Normal)
	eventually(t, 15*time.Second, func() string {
		if got := reasonOf(r.check(t, bearer(old.Token))); got != "allowed" {
			return "the old key's token after the attack: " + got
		}
		return ""
	})
	if got := reasonOf(r.check(t, bearer(forged))); got == "allowed" {
		t.Error("the attacker's token was allowed after the attack")
	}
	if got := reasonOf(r.check(t, bearer(fresh.Token))); got != "allowed" {
		t.Errorf("the new key's token after the attack: %s", got)
	}
}

// servedKids counts the kids of the key set served at url.
func servedKids(t *testing.T, url string) map[string]int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ Keys []struct{ Kid string } }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, k := range doc.Keys {
		counts[k.Kid]++
	}
	return counts
}
