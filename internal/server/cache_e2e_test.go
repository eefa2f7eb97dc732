package server_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// TestCacheOnAndOffDecideAlike sends the core acceptance set — every algorithm, the refusals —
// twice to a server with the verified-token cache on and once to one with it off: every
// CheckResponse must be the same.
func TestCacheOnAndOffDecideAlike(t *testing.T) {
	on := run(t, baseConfig(ba)+policyRoutes, nil)
	off := run(t, baseConfig(ba)+policyRoutes+"cache:\n  maxEntries: 0\n", nil)
	on.waitReady(t, 10*time.Second)
	off.waitReady(t, 10*time.Second)

	var tokens []string
	for _, alg := range []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"} {
		m, err := ba.Mint(betterauth.MintOptions{Alg: alg, User: map[string]any{"role": "admin,user"}})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, m.Token, m.Token+"x", m.SessionToken)
	}
	expired, _ := ba.Mint(betterauth.MintOptions{ExpirationTime: "-10m"})
	otherAud, _ := ba.Mint(betterauth.MintOptions{Audience: "https://elsewhere.example"})
	cacheJWT, _ := ba.Mint(betterauth.MintOptions{SessionCookieCache: true})
	tokens = append(tokens, expired.Token, otherAud.Token, cacheJWT.SessionCacheToken, "")

	paths := []string{"/orders", "/admin/users", "/docs/intro", "/internal/x"}
	for _, tok := range tokens {
		for _, path := range paths {
			h := map[string]string{"x-user-id": "spoofed"}
			if tok != "" {
				h["authorization"] = "Bearer " + tok
			}
			want := off.checkRequest(t, "GET", path, h)
			for round := range 2 {
				got := on.checkRequest(t, "GET", path, h)
				if !proto.Equal(got, want) {
					t.Fatalf("%s round %d: cache on answered\n%v\ncache off answered\n%v", path, round, got, want)
				}
			}
		}
	}
}
