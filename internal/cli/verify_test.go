package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// steps are verify's checks, in the order it prints them.
var steps = []string{"form", "typ", "iss", "alg", "kid", "signature", "aud", "exp", "nbf", "iat"}

// runVerify runs "betterauthz verify args..." and fails the test if its output shows the
// token's signature, or the whole token.
func runVerify(t *testing.T, token string, env map[string]string, stdin string, args ...string) (code int, out string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code = Main(context.Background(), append([]string{"verify"}, args...), envOf(env), strings.NewReader(stdin), &stdout, &stderr)
	all := stdout.String() + stderr.String()
	if token != "" {
		if strings.Contains(all, token) {
			t.Errorf("the output shows the token:\n%s", all)
		}
		if parts := strings.Split(token, "."); len(parts) == 3 && len(parts[2]) > 8 && strings.Contains(all, parts[2]) {
			t.Errorf("the output shows the token's signature:\n%s", all)
		}
	}
	return code, all
}

func mintT(t *testing.T, o betterauth.MintOptions) *betterauth.Minted {
	t.Helper()
	m, err := ba.Mint(o)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jwksWithout is Better Auth's JWKS less the keys of alg, as a file.
func jwksWithout(t *testing.T, alg string) string {
	t.Helper()
	resp, err := http.Get(ba.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var keep []map[string]any
	for _, k := range set.Keys {
		if k["alg"] != alg {
			keep = append(keep, k)
		}
	}
	b, _ := json.Marshal(map[string]any{"keys": keep})
	return writeFile(t, "jwks.json", string(b))
}

// ownToken signs a token that Better Auth's test server cannot make (another alg name, a weak
// key, a crit header) with key, and writes a JWKS file of keys.
func ownToken(t *testing.T, method jwt.SigningMethod, key any, header map[string]any, keys ...map[string]any) (token, jwksFile string) {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(method, jwt.MapClaims{"iss": ba.URL, "aud": ba.URL, "sub": "u1", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return s, writeFile(t, "own.json", string(b))
}

func TestVerifyAValidToken(t *testing.T) {
	ed := mintT(t, betterauth.MintOptions{})
	rs := mintT(t, betterauth.MintOptions{Alg: "RS256"})
	cases := map[string]struct {
		token string
		env   map[string]string
		stdin string
		args  []string
		out   []string
	}{
		"EdDSA, --url":              {token: ed.Token, args: []string{"--url", ba.URL, "--token", ed.Token}, out: []string{"x-user-id: " + ed.UserID, "x-user-email: " + ed.Email}},
		"RS256, $BETTER_AUTH_URL":   {token: rs.Token, env: map[string]string{"BETTER_AUTH_URL": ba.URL}, args: []string{"--token", rs.Token}, out: []string{`(RS256, RSA 2048 bits)`}},
		"token from stdin":          {token: ed.Token, stdin: ed.Token + "\n", args: []string{"--url", ba.URL, "--token", "-"}},
		"token from the env":        {token: ed.Token, env: map[string]string{"BETTERAUTHZ_TOKEN": ed.Token, "BETTERAUTHZ_URL": ba.URL}},
		"a config":                  {token: ed.Token, args: []string{"--config", writeFile(t, "c.yaml", "betterAuthURL: "+ba.URL+"\nidentityHeaders: {x-uid: sub}\n"), "--token", ed.Token}, out: []string{"x-uid: " + ed.UserID}},
		"pasted with Bearer":        {token: ed.Token, args: []string{"--url", ba.URL, "--token", "Bearer " + ed.Token}, out: []string{`note  input      the value began with "Bearer ": that is the Authorization header's scheme`}},
		"pasted as a header, quote": {token: ed.Token, args: []string{"--url", ba.URL, "--token", `"Authorization: Bearer ` + ed.Token + `"`}, out: []string{"the value was in quotes", `began with "Authorization:"`, `began with "Bearer "`}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, out := runVerify(t, tc.token, tc.env, tc.stdin, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			for _, s := range steps {
				if !strings.Contains(out, "\nok    "+s+" ") {
					t.Errorf("step %s is not ok:\n%s", s, out)
				}
			}
			for _, want := range append(tc.out, "VALID: betterauthz would accept this token.") {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "FAIL") || strings.Contains(out, "--    ") {
				t.Errorf("a check failed or did not run:\n%s", out)
			}
		})
	}
}

// TestVerifyExplainsTheUsualMistakes: each refusal says which check failed, why, and the fix.
func TestVerifyExplainsTheUsualMistakes(t *testing.T) {
	base := mintT(t, betterauth.MintOptions{})
	rs := mintT(t, betterauth.MintOptions{Alg: "RS256"})
	expired := mintT(t, betterauth.MintOptions{ExpirationTime: "-10m"})
	otherAud := mintT(t, betterauth.MintOptions{Audience: "https://api.example.com"})
	pathAud := mintT(t, betterauth.MintOptions{Audience: ba.URL + "/api/auth"})
	pathIss := mintT(t, betterauth.MintOptions{Issuer: ba.URL + "/api/auth"})
	cache := mintT(t, betterauth.MintOptions{SessionCookieCache: true})
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edJWK := map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(edKey.Public().(ed25519.PublicKey))}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakTok, weakJWKS := ownToken(t, jwt.SigningMethodRS256, weak, map[string]any{"kid": "weak"}, map[string]any{
		"kty": "RSA", "kid": "weak", "alg": "RS256", "e": "AQAB", "n": base64.RawURLEncoding.EncodeToString(weak.N.Bytes()),
	}, edJWK)
	critTok, critJWKS := ownToken(t, jwt.SigningMethodEdDSA, edKey, map[string]any{"kid": "k1", "crit": []string{"exp"}}, edJWK)
	twoIssuers := writeFile(t, "two.yaml", "issuers:\n  - name: staging\n    betterAuthURL: https://staging.example.com\n  - name: prod\n    betterAuthURL: "+ba.URL+"\n    issuer: "+ba.URL+"/api/auth\n")
	byURL := []string{"--url", ba.URL}

	cases := map[string]struct {
		token string
		args  []string
		env   map[string]string
		code  int
		out   []string
		// hidden must not be printed either
		hidden []string
	}{
		"expired": {
			token: expired.Token, args: append(byURL, "--token", expired.Token), code: 1,
			out: []string{"FAIL  exp        expired 10m", "beyond the clock skew of 30s", "fix: Better Auth's JWTs live 15 minutes", ba.URL + "/api/auth/token (authClient.token())", "ok    signature  valid", "INVALID: betterauthz would refuse it: 401 expired (token expired)."},
		},
		"wrong audience": {
			token: otherAud.Token, args: append(byURL, "--token", otherAud.Token), code: 1,
			out: []string{`FAIL  aud        "https://api.example.com" is not accepted (accepted: "` + ba.URL + `")`, "jwt.audience", "list the token's aud in audiences", "401 invalid_token (audience not accepted)"},
		},
		"audience with a path": {
			token: pathAud.Token, args: append(byURL, "--token", pathAud.Token), code: 1,
			out: []string{"FAIL  aud", "the token's aud has a path: Better Auth's aud is the origin of its baseURL unless jwt.audience is set", `List "` + ba.URL + `/api/auth" in audiences`},
		},
		"accepted audience with a path": {
			token: base.Token, args: []string{"--config", writeFile(t, "aud.yaml", "betterAuthURL: "+ba.URL+"\naudiences: ["+ba.URL+"/api/auth]\n"), "--token", base.Token}, code: 1,
			out: []string{"FAIL  aud", `the accepted audience "` + ba.URL + `/api/auth" has a path, but Better Auth's aud is the origin of BETTER_AUTH_URL`},
		},
		"issuer with a path in the token": {
			token: pathIss.Token, args: append(byURL, "--token", pathIss.Token), code: 1,
			out: []string{`FAIL  iss        "` + ba.URL + `/api/auth" is not the trusted issuer "` + ba.URL + `"`, "the token's iss has a path: Better Auth's iss is the origin of its baseURL (BETTER_AUTH_URL) unless jwt.issuer is set", `Set issuer: "` + ba.URL + `/api/auth"`, "ok    signature  valid", "401 invalid_token (issuer not accepted)"},
		},
		"issuer with a path in the config": {
			token: base.Token, args: []string{"--config", writeFile(t, "iss.yaml", "betterAuthURL: "+ba.URL+"\nissuer: "+ba.URL+"/api/auth\n"), "--token", base.Token}, code: 1,
			out: []string{"FAIL  iss", "the trusted issuer has a path, but Better Auth's iss is the origin of BETTER_AUTH_URL", "leave issuer out"},
		},
		"another Better Auth's URL": {
			token: base.Token, args: []string{"--token", base.Token, "--jwks", jwksWithout(t, "none")}, code: 1,
			out: []string{`FAIL  iss        "` + ba.URL + `" is not the trusted issuer "http://localhost:3000"`, "no --url, --config or $BETTER_AUTH_URL", "use --url " + ba.URL, "ok    signature  valid"},
		},
		"several issuers, iss names one": {
			token: pathIss.Token, args: []string{"--config", twoIssuers, "--token", pathIss.Token}, code: 0,
			out: []string{`ok    iss        "` + ba.URL + `/api/auth": issuer "prod"`, "prod: iss " + ba.URL + "/api/auth", "VALID"},
		},
		"several issuers, iss names none": {
			token: base.Token, args: []string{"--config", twoIssuers, "--token", base.Token}, code: 1,
			out: []string{`FAIL  iss        "` + ba.URL + `" names none of the trusted issuers: staging (https://staging.example.com), prod (` + ba.URL + `/api/auth)`, `set issuer: "` + ba.URL + `" (issuers: name prod)`, "--    kid        not checked: no issuer to take keys from"},
		},
		"unknown kid": {
			token: rs.Token, args: append(byURL, "--token", rs.Token, "--jwks", jwksWithout(t, "RS256")), code: 1,
			out: []string{"FAIL  kid", "is not in the JWKS (it has", "by another Better Auth", "--    signature  not checked: no key", "401 unknown_key (unknown signing key)"},
		},
		"session token": {
			token: base.SessionToken, args: append(byURL, "--token", base.SessionToken), code: 1,
			out: []string{"FAIL  form       not a JWT: it has no dots. A value like this is Better Auth's session token", "fix: send a JWT: GET " + ba.URL + "/api/auth/token with the session (authClient.token() in the client)", "set-auth-jwt"},
		},
		"session token cookie": {
			token: base.SessionToken, args: append(byURL, "--token", "better-auth.session_token="+url.QueryEscape(base.SessionToken+".c2lnbmF0dXJl=")), code: 1,
			out: []string{"the cookie name better-auth.session_token=: that cookie holds Better Auth's session token", "it has one dot, and a JWT has two", "/api/auth/token"},
		},
		"Bearer twice": {
			token: base.Token, args: append(byURL, "--token", "Bearer Bearer "+base.Token), code: 0,
			out: []string{`began with "Bearer " 2 times`, "VALID"},
		},
		"session-cache cookie JWT": {
			token: cache.SessionCacheToken, args: append(byURL, "--token", cache.SessionCacheToken), code: 1, hidden: []string{cache.SessionToken},
			out: []string{`"token": "(the session token: not shown)"`, `FAIL  typ        "better-auth.session-cache+jwt": Better Auth's session-cache cookie (better-auth.session_data), not an API credential`, "sessions.cookieCache: true", "better-auth:session-cache is the session-cache cookie's audience"},
		},
		"malformed": {
			token: base.Token, args: append(byURL, "--token", strings.Replace(base.Token, ".", "==.", 1)), code: 1,
			out: []string{"FAIL  form       malformed: the header (first part) has = padding", "401 invalid_token (malformed token)"},
		},
		"/.well-known/jwks.json": {
			token: base.Token, args: append(byURL, "--token", base.Token, "--jwks", ba.URL+"/.well-known/jwks.json"), code: 2,
			out: []string{"HTTP 404", "Better Auth does not serve /.well-known/jwks.json", ba.JWKSURL() + " answers with a JWKS of", "(--jwks " + ba.JWKSURL() + ")", "--    kid        not checked: the JWKS could not be read", "ok    exp", "NOT VERIFIED"},
		},
		"jwksURL /.well-known/jwks.json in the config": {
			token: expired.Token, args: []string{"--config", writeFile(t, "wk.yaml", "betterAuthURL: "+ba.URL+"\njwksURL: "+ba.URL+"/.well-known/jwks.json\n"), "--token", expired.Token}, code: 1,
			out: []string{"Better Auth does not serve /.well-known/jwks.json", "use it (jwksURL: " + ba.JWKSURL() + " in the config, or leave jwksURL out)", "FAIL  exp", "INVALID: the token fails the checks above (its signature was not checked"},
		},
		"nothing listening": {
			token: base.Token, args: []string{"--url", "http://127.0.0.1:1", "--token", base.Token}, code: 1,
			out: []string{"JWKS unreachable", "nothing answered", "FAIL  iss"},
		},
		"clock skew from the config": {
			token: base.Token, args: []string{"--config", writeFile(t, "skew.yaml", "betterAuthURL: "+ba.URL+"\nclockSkew: 0s\n"), "--token", mintT(t, betterauth.MintOptions{ExpirationTime: "-2s"}).Token}, code: 1,
			out: []string{"clock skew 0s", "beyond the clock skew of 0s"},
		},
		"within the clock skew": {
			token: base.Token, args: append(byURL, "--token", mintT(t, betterauth.MintOptions{ExpirationTime: "-2s"}).Token), code: 0,
			out: []string{"within the clock skew of 30s: still accepted", "VALID"},
		},
		"RSA key under 2048 bits": {
			token: weakTok, args: append(byURL, "--token", weakTok, "--jwks", weakJWKS), code: 1,
			out: []string{`skipped keys[0]: kid "weak": RSA key of 1024 bits is under 2048`, `FAIL  kid        "weak" is not in the JWKS (it has "k1")`, "the JWKS lists it, but it cannot be used"},
		},
		"crit header": {
			token: critTok, args: append(byURL, "--token", critTok, "--jwks", critJWKS), code: 1,
			out: []string{"FAIL  form       the header has crit", "ok    signature  valid", "401 invalid_token (token header has crit"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, out := runVerify(t, tc.token, tc.env, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, h := range tc.hidden {
				if strings.Contains(out, h) {
					t.Errorf("the output shows %q:\n%s", h, out)
				}
			}
			for _, want := range tc.out {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestVerifyEd25519 accepts RFC 9864's name for EdDSA, in the token and in the JWKS.
func TestVerifyEd25519(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	tok, file := ownToken(t, jwt.SigningMethodEdDSA, key, map[string]any{"kid": "k1", "alg": "Ed25519"},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(key.Public().(ed25519.PublicKey))})
	code, out := runVerify(t, tok, nil, "", "--url", ba.URL, "--token", tok, "--jwks", file)
	if code != 0 || !strings.Contains(out, "ok    alg        Ed25519 (RFC 9864's name for EdDSA) is allowed as EdDSA") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestVerifyOffline: with --jwks FILE nothing is fetched.
func TestVerifyOffline(t *testing.T) {
	m := mintT(t, betterauth.MintOptions{})
	file := jwksWithout(t, "none")
	before, err := ba.JWKSFetches()
	if err != nil {
		t.Fatal(err)
	}
	code, out := runVerify(t, m.Token, nil, "", "--config", writeFile(t, "c.yaml", "betterAuthURL: "+ba.URL+"\n"), "--jwks", file, "--token", m.Token)
	if code != 0 || !strings.Contains(out, "Keys: "+file+": ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if after, _ := ba.JWKSFetches(); after != before {
		t.Errorf("%d JWKS fetches during an offline verify", after-before)
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	m := mintT(t, betterauth.MintOptions{})
	cases := map[string]struct {
		args  []string
		stdin string
		code  int
		msg   string
	}{
		"no token":            {args: []string{"--url", ba.URL}, code: 2, msg: "--token is required"},
		"empty stdin":         {args: []string{"--token", "-"}, code: 2, msg: "stdin is empty"},
		"both from stdin":     {args: []string{"--token", "-", "--config", "-"}, stdin: "x", code: 2, msg: "cannot both read stdin"},
		"unknown flag":        {args: []string{"--token", m.Token, "--nope"}, code: 2, msg: "flag provided but not defined: -nope"},
		"stray argument":      {args: []string{"--url", ba.URL, m.Token}, code: 2, msg: "1 unexpected argument after the flags (not shown: it may be a token)"},
		"--token Bearer T":    {args: []string{"--url", ba.URL, "--token", "Bearer", m.Token}, code: 0, msg: `began with "Bearer "`},
		"bad --url":           {args: []string{"--token", m.Token, "--url", "auth.example.com"}, code: 2, msg: `--url "auth.example.com": want Better Auth's base URL`},
		"missing config":      {args: []string{"--token", m.Token, "--config", "/nonexistent.yaml"}, code: 2, msg: "--config: open /nonexistent.yaml"},
		"invalid config":      {args: []string{"--token", m.Token, "--config", writeFile(t, "bad.yaml", "clockSkew: soon\n")}, code: 2, msg: `clockSkew: "soon" is not a duration`},
		"missing JWKS file":   {args: []string{"--token", m.Token, "--url", ba.URL, "--jwks", "/nonexistent.json"}, code: 2, msg: "--jwks: open /nonexistent.json"},
		"--url and --config":  {args: []string{"--token", m.Token, "--url", ba.URL, "--config", writeFile(t, "o.yaml", "betterAuthURL: https://auth.example.com\n")}, code: 2, msg: "name different Better Auths"},
		"JWKS file not JWKS":  {args: []string{"--token", m.Token, "--url", ba.URL, "--jwks", writeFile(t, "x.json", "[]")}, code: 2, msg: "not a JSON Web Key Set"},
		"help":                {args: []string{"-h"}, code: 0, msg: "Usage: betterauthz verify"},
		"--url, same config":  {args: []string{"--token", m.Token, "--url", ba.URL, "--config", writeFile(t, "s.yaml", "betterAuthURL: "+ba.URL+"\n")}, code: 0},
		"config from stdin":   {args: []string{"--token", m.Token, "--config", "-"}, stdin: "betterAuthURL: " + ba.URL + "\n", code: 0},
		"the --jwks file, ok": {args: []string{"--token", m.Token, "--url", ba.URL, "--jwks", jwksWithout(t, "none")}, code: 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, out := runVerify(t, m.Token, nil, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.msg) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s", code, tc.code, tc.msg, out)
			}
		})
	}
}
