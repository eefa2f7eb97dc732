package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// reasonOf is the reason code of a CheckResponse ("allowed" for an allow).
func reasonOf(resp *authv3.CheckResponse) string {
	if resp.GetOkResponse() != nil {
		return "allowed"
	}
	reason, _, _ := strings.Cut(resp.GetStatus().GetMessage(), ":")
	return reason
}

// forgedKid is a well-formed token under a kid no JWKS holds: it makes betterauthz wait for a
// key refresh.
func forgedKid(t *testing.T, iss string) string {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	// It names a trusted issuer: the issuer is chosen by iss before any key is looked up.
	signing := enc(`{"alg":"EdDSA","kid":"never-seen-`+fmt.Sprint(time.Now().UnixNano())+`"}`) + "." +
		enc(fmt.Sprintf(`{"sub":"x","iss":%q,"aud":%q,"exp":%d}`, iss, iss, time.Now().Add(time.Hour).Unix()))
	sig, err := jwt.SigningMethodEdDSA.Sign(signing, key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// A check that waits for a key refresh must answer before Envoy's timeout (200 ms by default):
// answered at the deadline, Envoy sees DEADLINE_EXCEEDED — with failure_mode_allow, the request
// passes unauthenticated.
func TestWaitingChecksAnswerBeforeTheCallersDeadline(t *testing.T) {
	t.Parallel()
	s, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := s.Mint(betterauth.MintOptions{}); err != nil {
		t.Fatal(err)
	}
	r := run(t, baseConfig(s), nil)
	r.waitReady(t, 10*time.Second)
	if err := s.SetJWKSMode(betterauth.JWKSSlow); err != nil { // answers after 5 s
		t.Fatal(err)
	}
	for _, timeout := range []time.Duration{200 * time.Millisecond, 50 * time.Millisecond, 25 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		start := time.Now()
		resp, err := r.client.Check(ctx, checkReq("/api/things", bearer(forgedKid(t, s.URL))))
		took := time.Since(start)
		cancel()
		if err != nil {
			t.Fatalf("%s deadline: gRPC error %v after %s, want a 503 CheckResponse", timeout, err, took)
		}
		if reasonOf(resp) != "timeout" || resp.GetDeniedResponse().GetStatus().GetCode() != 503 || deniedHeaders(resp)["retry-after"] == "" {
			t.Fatalf("%s deadline: %v", timeout, resp)
		}
	}
}

// Requests are read the strict way: an absolute-form target is matched as its path, a leading
// "//" also as a network-path reference, and hosts that some component would read as another
// host are refused.
func TestRequestTargetsAndHostsAreReadStrictly(t *testing.T) {
	t.Parallel()
	r := run(t, baseConfig(ba)+`defaultPolicy: public
routes:
  - name: admin
    paths: ["/admin/**"]
    policy: deny
  - name: admin-host
    hosts: [admin.example.com]
    policy: deny
`, nil)
	r.waitReady(t, 10*time.Second)
	send := func(host, path string) *authv3.CheckResponse {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := r.client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Host: host, Path: path}},
		}})
		if err != nil {
			t.Fatalf("gRPC error %v", err)
		}
		return resp
	}
	cases := []struct{ host, path, want string }{
		{"api.example.com", "/public/x", "allowed"},
		{"api.example.com", "/admin/x", "policy_denied"},
		{"api.example.com", "http://api.example.com/admin/x", "policy_denied"},
		{"api.example.com", "http://evil/admin/x", "bad_request"},
		{"api.example.com", "http://user@api.example.com/admin/x", "bad_request"},
		{"api.example.com", "//evil/admin/x", "policy_denied"},
		{"api.example.com", `/\evil\admin\x`, "policy_denied"},
		{"admin.example.com", "/x", "policy_denied"},
		{"ADMIN.example.com.:443", "/x", "policy_denied"},
		{"evil@admin.example.com", "/x", "bad_request"},
		{"admin%2eexample.com", "/x", "bad_request"},
		{"admin.example.com,api.example.com", "/x", "bad_request"},
		{"0x7f.1", "/x", "bad_request"},
	}
	for _, tc := range cases {
		if got := reasonOf(send(tc.host, tc.path)); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.host, tc.path, got, tc.want)
		}
	}
}

// CheckRequests gRPC cannot decode are answered; the receive limit is --grpc-max-request-bytes.
func TestUndecodableAndOversizeCheckRequests(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	r := run(t, baseConfig(ba), func(o *server.Options) { o.GRPCMaxRequestBytes = limit })
	r.waitReady(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	big := func(n int) *authv3.CheckRequest {
		return checkReq("/upload", map[string]string{"x-body": strings.Repeat("b", n)})
	}
	if resp, err := r.client.Check(ctx, big(limit-4096)); err != nil || reasonOf(resp) != "missing_token" {
		t.Fatalf("under the limit: %v %v", resp, err)
	}
	if _, err := r.client.Check(ctx, big(limit+1), grpc.MaxCallSendMsgSize(64<<20)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over the limit: %v, want ResourceExhausted", err)
	}
	wire, err := proto.Marshal(checkReq("/PLACEHOLDER", nil))
	if err != nil {
		t.Fatal(err)
	}
	wire = bytes.Replace(wire, []byte("PLACEHOLDER"), bytes.Repeat([]byte{0xfe}, len("PLACEHOLDER")), 1)
	resp := &authv3.CheckResponse{}
	if err := r.conn.Invoke(ctx, authv3.Authorization_Check_FullMethodName, wire, resp, grpc.ForceCodec(rawBytesCodec{})); err != nil {
		t.Fatalf("invalid UTF-8: gRPC error %v", err)
	}
	if reasonOf(resp) != "bad_request" || resp.GetDeniedResponse().GetStatus().GetCode() != 400 {
		t.Fatalf("invalid UTF-8: %v", resp)
	}
}

type rawBytesCodec struct{}

func (rawBytesCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawBytesCodec) Unmarshal(data []byte, v any) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (rawBytesCodec) Name() string { return "proto" }

// Tokens are read strictly by the running server too. Better Auth never sets crit or sends
// trailing data, so these tokens come from a key the test holds, served as the JWKS.
func TestStrictTokensOverTheServer(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	jwksDoc := fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"k1","x":%q}]}`, base64.RawURLEncoding.EncodeToString(pub))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(jwksDoc)) }))
	defer srv.Close()
	r := run(t, fmt.Sprintf("betterAuthURL: https://auth.example.com\njwksURL: %s\n", srv.URL), nil)
	r.waitReady(t, 10*time.Second)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	token := func(header, payload string) string {
		signing := enc(header) + "." + enc(payload)
		sig, err := jwt.SigningMethodEdDSA.Sign(signing, priv)
		if err != nil {
			t.Fatal(err)
		}
		return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	claims := fmt.Sprintf(`{"iss":"https://auth.example.com","aud":"https://auth.example.com","sub":"user-1","exp":%d}`, time.Now().Add(time.Hour).Unix())
	cases := map[string]struct{ token, reason, description string }{
		"well formed":              {token(`{"alg":"EdDSA","kid":"k1"}`, claims), "allowed", ""},
		"crit":                     {token(`{"alg":"EdDSA","kid":"k1","crit":["exp"],"exp":1}`, claims), "invalid_token", "token header has crit"},
		"a second object":          {token(`{"alg":"EdDSA","kid":"k1"}`, claims+`{"sub":"admin"}`), "invalid_token", "malformed token"},
		"sub twice":                {token(`{"alg":"EdDSA","kid":"k1"}`, strings.Replace(claims, `"sub":"user-1"`, `"sub":"user-1","sub":"admin"`, 1)), "invalid_token", "malformed token"},
		"padding in the signature": {token(`{"alg":"EdDSA","kid":"k1"}`, claims) + "==", "invalid_token", "malformed token"},
	}
	for name, tc := range cases {
		resp := r.check(t, bearer(tc.token))
		if got := reasonOf(resp); got != tc.reason || !strings.Contains(resp.GetStatus().GetMessage(), tc.description) {
			t.Errorf("%s: %s (%s), want %s (%s)", name, got, resp.GetStatus().GetMessage(), tc.reason, tc.description)
		}
	}
}

// Keys not refreshed for maxKeyAge are no longer trusted: 503 keys_stale, not ready, counted;
// a successful refresh ends it.
func TestStaleKeysAreRefusedAndReported(t *testing.T) {
	t.Parallel()
	s, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	m, err := s.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, baseConfig(s)+"jwksRefreshInterval: 10s\nmaxKeyAge: 11s\n", nil)
	r.waitReady(t, 10*time.Second)
	if got := reasonOf(r.check(t, bearer(m.Token))); got != "allowed" {
		t.Fatalf("fresh keys: %s", got)
	}
	if err := s.SetJWKSMode(betterauth.JWKSDown); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() string {
		if code, body := r.get(t, "/readyz"); code != 503 || !strings.Contains(body, "signing keys stale") {
			return fmt.Sprintf("/readyz %d %q", code, body)
		}
		return ""
	})
	resp := r.check(t, bearer(m.Token))
	if reasonOf(resp) != "keys_stale" || resp.GetDeniedResponse().GetStatus().GetCode() != 503 || deniedHeaders(resp)["retry-after"] == "" {
		t.Fatalf("stale keys: %v", resp)
	}
	// Metrics and gRPC health follow fetch events, which a failing key set has every few
	// seconds.
	eventually(t, 15*time.Second, func() string {
		_, metrics := r.get(t, "/metrics")
		for _, want := range []string{`betterauthz_jwks_stale{issuer="default"} 1`, `betterauthz_jwks_refresh_failures_total{failure="status",issuer="default"}`, "betterauthz_ready 0"} {
			if !strings.Contains(metrics, want) {
				return "/metrics lacks " + want
			}
		}
		return ""
	})
	if !strings.Contains(r.logs.String(), "signing keys are stale") {
		t.Error("staleness not logged")
	}

	if err := s.SetJWKSMode(betterauth.JWKSNormal); err != nil {
		t.Fatal(err)
	}
	r.waitReady(t, 15*time.Second)
	if got := reasonOf(r.check(t, bearer(m.Token))); got != "allowed" {
		t.Fatalf("after recovery: %s", got)
	}
}
