package jwks_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/jwks"
)

// outcomes names an Explanation's checks.
func outcomes(e jwks.Explanation) map[string]jwks.Outcome {
	return map[string]jwks.Outcome{
		"form": e.Form, "typ": e.Type, "iss": e.Issuer, "alg": e.Algorithm, "kid": e.Key,
		"signature": e.Signature, "aud": e.Audience, "exp": e.Expiry, "nbf": e.NotBefore, "iat": e.IssuedAt,
	}
}

func TestExplainAValidTokenPassesEveryCheck(t *testing.T) {
	v, ks := verifierFor(t, ba, nil, nil)
	waitLoaded(t, ks, 10*time.Second)
	for _, alg := range []string{"EdDSA", "RS256"} {
		m := mint(t, ba, betterauth.MintOptions{Alg: alg})
		e := v.Explain(context.Background(), m.Token)
		if e.Err != nil {
			t.Fatalf("%s: verdict %v", alg, e.Err)
		}
		for name, o := range outcomes(e) {
			if !o.Checked || o.Err != nil {
				t.Errorf("%s: %s: %+v", alg, name, o)
			}
		}
		if e.Header.Alg != alg || e.Header.Kid == "" || e.Claims.Subject() != m.UserID || e.Trust != "" {
			t.Errorf("%s: header %+v, sub %q, trust %q", alg, e.Header, e.Claims.Subject(), e.Trust)
		}
	}
}

// TestExplainAgreesWithVerify: over the attack set, the verdict is Verify's and some check
// fails with its cause.
func TestExplainAgreesWithVerify(t *testing.T) {
	v, ks := verifierFor(t, ba, nil, nil)
	waitLoaded(t, ks, 10*time.Second)
	for name, tc := range refusalCases(t, mint(t, ba, betterauth.MintOptions{})) {
		t.Run(name, func(t *testing.T) {
			token := tc.token(t)
			_, want := v.Verify(context.Background(), token)
			e := v.Explain(context.Background(), token)
			if e.Err == nil || e.Err.Error() != want.Error() {
				t.Fatalf("verdict %v, Verify %v", e.Err, want)
			}
			cause := tc.cause
			if cause == nil {
				cause = tc.want
			}
			var failed []string
			for name, o := range outcomes(e) {
				if o.Failed() {
					failed = append(failed, name+": "+o.Err.Error())
					if errors.Is(o.Err, cause) {
						return
					}
				}
			}
			t.Fatalf("no check failed with %v; failed: %v", cause, failed)
		})
	}
}

// TestExplainGoesOnPastAFailure: an expired token for another audience fails both, and its
// signature is still checked.
func TestExplainGoesOnPastAFailure(t *testing.T) {
	v, ks := verifierFor(t, ba, nil, nil)
	waitLoaded(t, ks, 10*time.Second)
	tok := mint(t, ba, betterauth.MintOptions{ExpirationTime: "-10m", Audience: "https://api.example.com"}).Token
	e := v.Explain(context.Background(), tok)
	if !errors.Is(e.Expiry.Err, jwks.ErrExpired) || !errors.Is(e.Audience.Err, jwks.ErrAudience) {
		t.Errorf("exp %+v, aud %+v", e.Expiry, e.Audience)
	}
	if !e.Signature.Checked || e.Signature.Err != nil || e.Issuer.Err != nil {
		t.Errorf("signature %+v, iss %+v", e.Signature, e.Issuer)
	}
	// With the wrong iss and one issuer trusted, the rest is checked with that issuer's keys.
	tok = mint(t, ba, betterauth.MintOptions{Issuer: ba.URL + "/api/auth"}).Token
	e = v.Explain(context.Background(), tok)
	if !errors.Is(e.Issuer.Err, jwks.ErrIssuer) || !errors.Is(e.Err, jwks.ErrIssuer) || e.Signature.Err != nil || !e.Signature.Checked {
		t.Errorf("iss %+v, signature %+v, verdict %v", e.Issuer, e.Signature, e.Err)
	}
}

func TestExplainSaysWhatIsMalformed(t *testing.T) {
	v, ks := verifierFor(t, ba, nil, nil)
	waitLoaded(t, ks, 10*time.Second)
	parts := strings.Split(mint(t, ba, betterauth.MintOptions{}).Token, ".")
	cases := map[string]struct{ token, want string }{
		"padding":        {parts[0] + "==." + parts[1] + "." + parts[2], "the header (first part) has = padding"},
		"base64":         {parts[0] + "." + parts[1] + "+/." + parts[2], "the claims (second part) has + or /"},
		"line break":     {parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], "contains spaces or line breaks"},
		"four parts":     {strings.Join(parts, ".") + ".x", "4 parts separated by dots"},
		"header no JSON": {"bm90IGpzb24." + parts[1] + "." + parts[2], "the header (first part) is not one JSON object"},
		"stray bits":     {parts[0] + ".eyJhIjoxfR." + parts[2], "the claims (second part) is not canonical base64url"},
		"a claim twice":  {parts[0] + "." + encodeRaw(`{"sub":"a","sub":"b"}`) + "." + parts[2], "the claims (second part) are not one JSON object with distinct member names: a member name appears twice"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := v.Explain(context.Background(), tc.token)
			if !errors.Is(e.Form.Err, jwks.ErrMalformed) || !strings.Contains(e.Form.Err.Error(), tc.want) {
				t.Fatalf("form %v, want %q", e.Form.Err, tc.want)
			}
			if _, err := v.Verify(context.Background(), tc.token); e.Err.Error() != err.Error() || jwks.Describe(err) != jwks.ErrMalformed.Error() {
				t.Errorf("verdict %v, Verify %v", e.Err, err)
			}
		})
	}
}

func TestStaticKeySet(t *testing.T) {
	keys, problems, err := jwks.FetchSet(context.Background(), ba.JWKSURL(), jwks.FetchOptions{})
	if err != nil || len(problems) > 0 || len(keys) == 0 {
		t.Fatalf("FetchSet: %d keys, %v, %v", len(keys), problems, err)
	}
	m := mint(t, ba, betterauth.MintOptions{})
	ks, err := jwks.NewStaticKeySet("file", keys)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Run(context.Background()); err != nil || !ks.Loaded() || ks.Keys() != len(keys) {
		t.Fatalf("Run %v, loaded %v, %d keys", err, ks.Loaded(), ks.Keys())
	}
	v, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: ba.URL, Audiences: []string{ba.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), m.Token); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// A kid it lacks is unknown at once: there is nothing to refresh.
	empty, _ := jwks.NewStaticKeySet("empty", nil)
	v, _ = jwks.NewVerifier(jwks.VerifierOptions{Keys: empty, Issuer: ba.URL, Audiences: []string{ba.URL}})
	start := time.Now()
	if _, err := v.Verify(context.Background(), m.Token); !errors.Is(err, jwks.ErrUnknownKey) || time.Since(start) > time.Second {
		t.Fatalf("Verify with no keys: %v after %s", err, time.Since(start))
	}
}

func TestFetchSetStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/api/auth/jwks", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	_, _, err := jwks.FetchSet(context.Background(), srv.URL+"/.well-known/jwks.json", jwks.FetchOptions{})
	var se *jwks.StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || !errors.Is(err, jwks.ErrFetchStatus) || jwks.FetchFailure(err) != "status" {
		t.Fatalf("404: %v", err)
	}
	if want := "GET " + srv.URL + "/.well-known/jwks.json: HTTP 404: unexpected HTTP status"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	_, _, err = jwks.FetchSet(context.Background(), srv.URL+"/moved", jwks.FetchOptions{})
	if !errors.As(err, &se) || se.StatusCode != 302 || se.Location != "/api/auth/jwks" || !errors.Is(err, jwks.ErrFetchRedirect) {
		t.Fatalf("redirect: %v", err)
	}
}

func encodeRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
