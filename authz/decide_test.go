package authz

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

func TestDecide(t *testing.T) {
	alice := claims(`{"sub":"u1","email":"a@example.com","name":"Alice","image":null}`)
	v := fakeVerifier{
		"good":    alice,
		"expired": jwks.ErrExpired,
		"forged":  fmt.Errorf("%w: %w", jwks.ErrInvalidToken, jwks.ErrSignature),
		"newkid":  jwks.ErrUnknownKey,
		"early":   jwks.ErrNotReady,
		"slow":    jwks.ErrTimeout,
		"evil":    claims(`{"sub":"u2","name":"Eve\r\nx-admin: 1","email":"e@example.com"}`),
	}
	allIdentity := []string{"x-user-email", "x-user-id", "x-user-name", "x-user-org"}
	cases := map[string]struct {
		config  func(*testConfig)
		method  string
		headers map[string]string
		reason  Reason
		desc    string
		set     []Header
		remove  []string
	}{
		"valid token": {
			headers: map[string]string{"authorization": "Bearer good"},
			reason:  ReasonAllowed,
			set:     []Header{{"x-user-email", "a@example.com"}, {"x-user-id", "u1"}, {"x-user-name", "Alice"}},
			remove:  []string{"x-user-org"},
		},
		"no token": {
			reason: ReasonMissingToken, desc: "a bearer token is required",
		},
		"basic auth": {
			headers: map[string]string{"authorization": "Basic dTpw"},
			reason:  ReasonInvalidToken, desc: "authorization scheme is not Bearer",
		},
		"two tokens": {
			headers: map[string]string{"authorization": "Bearer good,Bearer good"},
			reason:  ReasonInvalidToken, desc: "more than one credential in the request",
		},
		"expired":         {headers: map[string]string{"authorization": "Bearer expired"}, reason: ReasonExpired, desc: "token expired"},
		"bad signature":   {headers: map[string]string{"authorization": "Bearer forged"}, reason: ReasonInvalidToken, desc: "signature invalid"},
		"unknown key":     {headers: map[string]string{"authorization": "Bearer newkid"}, reason: ReasonUnknownKey, desc: "unknown signing key"},
		"keys not loaded": {headers: map[string]string{"authorization": "Bearer early"}, reason: ReasonNotReady, desc: "signing keys not loaded yet"},
		"key wait timed out": {
			headers: map[string]string{"authorization": "Bearer slow"}, reason: ReasonTimeout, desc: "timed out waiting for signing keys",
		},
		"header injection in a claim is dropped": {
			headers: map[string]string{"authorization": "Bearer evil"},
			reason:  ReasonAllowed,
			set:     []Header{{"x-user-email", "e@example.com"}, {"x-user-id", "u2"}},
			remove:  []string{"x-user-name", "x-user-org"},
		},
		"public without token strips identity": {
			config: func(p *testConfig) { p.Default = policy.Public },
			reason: ReasonPublic, remove: allIdentity,
		},
		"public with a valid token forwards identity": {
			config:  func(p *testConfig) { p.Default = policy.Public },
			headers: map[string]string{"authorization": "Bearer good"},
			reason:  ReasonPublic,
			set:     []Header{{"x-user-email", "a@example.com"}, {"x-user-id", "u1"}, {"x-user-name", "Alice"}},
			remove:  []string{"x-user-org"},
		},
		"public with a bad token strips identity": {
			config:  func(p *testConfig) { p.Default = policy.Public },
			headers: map[string]string{"authorization": "Bearer forged"},
			reason:  ReasonPublic, remove: allIdentity,
		},
		"public before keys load still passes": {
			config:  func(p *testConfig) { p.Default = policy.Public },
			headers: map[string]string{"authorization": "Bearer early"},
			reason:  ReasonPublic, remove: allIdentity,
		},
		"deny even with a valid token": {
			config:  func(p *testConfig) { p.Default = policy.Deny },
			headers: map[string]string{"authorization": "Bearer good"},
			reason:  ReasonPolicyDenied, desc: "this route is closed",
		},
		"CORS preflight": {
			method:  "OPTIONS",
			headers: map[string]string{"origin": "https://app.example.com", "access-control-request-method": "POST"},
			reason:  ReasonCORSPreflight, remove: allIdentity,
		},
		"plain OPTIONS is not a preflight": {
			method: "OPTIONS", reason: ReasonMissingToken, desc: "a bearer token is required",
		},
		"Origin: null is never a preflight": {
			method:  "OPTIONS",
			headers: map[string]string{"origin": "null", "access-control-request-method": "POST"},
			reason:  ReasonMissingToken, desc: "a bearer token is required",
		},
		"an empty Origin is never a preflight": {
			method:  "OPTIONS",
			headers: map[string]string{"origin": " ", "access-control-request-method": "POST"},
			reason:  ReasonMissingToken, desc: "a bearer token is required",
		},
		"CORS preflight when turned off": {
			config:  func(p *testConfig) { p.AllowCORSPreflight = false },
			method:  "OPTIONS",
			headers: map[string]string{"origin": "https://app.example.com", "access-control-request-method": "POST"},
			reason:  ReasonMissingToken, desc: "a bearer token is required",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := testPolicy()
			if tc.config != nil {
				tc.config(p)
			}
			method := tc.method
			if method == "" {
				method = "GET"
			}
			r := httpCheck(method, "api.example.com", "/things?x=1", tc.headers)
			d := Decide(context.Background(), p.live(v, nil), r)
			if d.Reason != tc.reason || d.Description != tc.desc {
				t.Fatalf("decision %s %q, want %s %q", d.Reason, d.Description, tc.reason, tc.desc)
			}
			if !slices.Equal(d.Set, tc.set) || !slices.Equal(d.Remove, tc.remove) {
				t.Fatalf("set %v remove %v, want set %v remove %v", d.Set, d.Remove, tc.set, tc.remove)
			}
			// An allowed request also loses a client's underscore spellings (a CGI upstream
			// reads x_user_id as x-user-id); a denied one goes nowhere.
			var underscored []string
			if d.Allowed() {
				underscored = []string{"x_user_email", "x_user_id", "x_user_name", "x_user_org"}
			}
			if !slices.Equal(d.Underscored, underscored) {
				t.Fatalf("underscored %v, want %v", d.Underscored, underscored)
			}
		})
	}
}

func TestDecideWithAnExpiredContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	r := httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer good"})
	d := Decide(ctx, testPolicy().live(fakeVerifier{"good": claims(`{"sub":"u"}`)}, nil), r)
	if d.Allowed() || d.Reason != ReasonTimeout {
		t.Fatalf("decision %s, want a timeout denial", d.Reason)
	}
}
