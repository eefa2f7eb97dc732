package authz

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

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
		policy  func(*Policy)
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
			policy: func(p *Policy) { p.Default = Public },
			reason: ReasonPublic, remove: allIdentity,
		},
		"public with a valid token forwards identity": {
			policy:  func(p *Policy) { p.Default = Public },
			headers: map[string]string{"authorization": "Bearer good"},
			reason:  ReasonPublic,
			set:     []Header{{"x-user-email", "a@example.com"}, {"x-user-id", "u1"}, {"x-user-name", "Alice"}},
			remove:  []string{"x-user-org"},
		},
		"public with a bad token strips identity": {
			policy:  func(p *Policy) { p.Default = Public },
			headers: map[string]string{"authorization": "Bearer forged"},
			reason:  ReasonPublic, remove: allIdentity,
		},
		"public before keys load still passes": {
			policy:  func(p *Policy) { p.Default = Public },
			headers: map[string]string{"authorization": "Bearer early"},
			reason:  ReasonPublic, remove: allIdentity,
		},
		"deny even with a valid token": {
			policy:  func(p *Policy) { p.Default = Deny },
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
		"CORS preflight when turned off": {
			policy:  func(p *Policy) { p.AllowCORSPreflight = false },
			method:  "OPTIONS",
			headers: map[string]string{"origin": "https://app.example.com", "access-control-request-method": "POST"},
			reason:  ReasonMissingToken, desc: "a bearer token is required",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := testPolicy()
			if tc.policy != nil {
				tc.policy(p)
			}
			method := tc.method
			if method == "" {
				method = "GET"
			}
			r, err := Extract(httpCheck(method, "api.example.com", "/things?x=1", tc.headers))
			if err != nil {
				t.Fatal(err)
			}
			d := Decide(context.Background(), &Snapshot{Policy: p, Verifier: v}, r)
			if d.Reason != tc.reason || d.Description != tc.desc {
				t.Fatalf("decision %s %q, want %s %q", d.Reason, d.Description, tc.reason, tc.desc)
			}
			if !slices.Equal(d.Set, tc.set) || !slices.Equal(d.Remove, tc.remove) {
				t.Fatalf("set %v remove %v, want set %v remove %v", d.Set, d.Remove, tc.set, tc.remove)
			}
		})
	}
}

func TestDecideWithAnExpiredContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	r, _ := Extract(httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer good"}))
	d := Decide(ctx, &Snapshot{Policy: testPolicy(), Verifier: fakeVerifier{"good": claims(`{"sub":"u"}`)}}, r)
	if d.Allowed() || d.Reason != ReasonTimeout {
		t.Fatalf("decision %s, want a timeout denial", d.Reason)
	}
}

func TestRawHeaderMap(t *testing.T) {
	// With encode_raw_headers Envoy sends header_map (values as bytes) instead of headers.
	req := httpCheck("GET", "h", "/", nil)
	req.Attributes.Request.Http.Headers = nil
	req.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: "authorization", RawValue: []byte("Bearer good")},
		{Key: "x-user-id", RawValue: []byte("spoofed")},
	}}
	r, err := Extract(req)
	if err != nil {
		t.Fatal(err)
	}
	d := Decide(context.Background(), &Snapshot{Policy: testPolicy(), Verifier: fakeVerifier{"good": claims(`{"sub":"u"}`)}}, r)
	if d.Reason != ReasonAllowed || !slices.Contains(d.Set, Header{"x-user-id", "u"}) {
		t.Fatalf("decision %+v", d)
	}

	// Two Authorization headers are refused, not guessed between.
	req.Attributes.Request.Http.HeaderMap.Headers = append(req.Attributes.Request.Http.HeaderMap.Headers,
		&corev3.HeaderValue{Key: "authorization", RawValue: []byte("Bearer good")})
	r, _ = Extract(req)
	if d := Decide(context.Background(), &Snapshot{Policy: testPolicy(), Verifier: fakeVerifier{}}, r); d.Reason != ReasonInvalidToken {
		t.Fatalf("two Authorization headers: %s", d.Reason)
	}
}

func TestExtractRefusesRequestsWithoutHTTP(t *testing.T) {
	for name, req := range map[string]*authv3.CheckRequest{
		"nil":        nil,
		"empty":      {},
		"no request": {Attributes: &authv3.AttributeContext{}},
		"no http":    {Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{}}},
	} {
		if _, err := Extract(req); err == nil {
			t.Errorf("%s: extracted", name)
		}
	}
}
