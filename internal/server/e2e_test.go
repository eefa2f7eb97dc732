package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/logbuf"
)

var ba *betterauth.Server

func TestMain(m *testing.M) {
	os.Exit(betterauth.RunTests(m, &ba, func() {
		if kubeSrv != nil {
			kubeSrv.Stop()
		}
	}))
}

// running is a betterauthz started in-process by run.
type running struct {
	grpcAddr, httpAddr string
	checkHTTPAddr      string // "" when the HTTP check endpoint is off
	conn               *grpc.ClientConn
	client             authv3.AuthorizationClient
	health             healthpb.HealthClient
	logs               *logbuf.Buffer
	stop               func() error // cancels the context and returns Run's error
}

// run starts server.Run with a config file holding configYAML, on loopback ports.
func run(t *testing.T, configYAML string, mod func(*server.Options)) *running {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	addrs := make(chan server.Listeners, 1)
	o := server.Options{
		ConfigPath: path,
		GRPCAddr:   "127.0.0.1:0",
		HTTPAddr:   "127.0.0.1:0",
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv:     func(string) string { return "" },
		Listening:  func(l server.Listeners) { addrs <- l },
		// The tests read allowed decisions from the log too.
		LogDecisions: server.LogDecisionsAll,
	}
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, o) }()
	var l server.Listeners
	select {
	case l = <-addrs:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	conn, err := grpc.NewClient(grpcTarget(l.GRPC), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var runErr error
	r := &running{
		grpcAddr: grpcTarget(l.GRPC), httpAddr: l.HTTP.String(), logs: logs, conn: conn,
		client: authv3.NewAuthorizationClient(conn),
		health: healthpb.NewHealthClient(conn),
		stop: func() error {
			once.Do(func() {
				cancel()
				select {
				case runErr = <-done:
				case <-time.After(30 * time.Second):
					runErr = errors.New("Run did not return within 30s of cancel")
				}
				conn.Close()
			})
			return runErr
		},
	}
	if l.CheckHTTP != nil {
		r.checkHTTPAddr = l.CheckHTTP.String()
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
	return r
}

// grpcTarget is the gRPC client target of a listener's address (unix:///path for a socket).
func grpcTarget(a net.Addr) string {
	if a.Network() == "unix" {
		return "unix://" + a.String()
	}
	return a.String()
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + r.httpAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *running) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, body := r.get(t, "/readyz")
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after %s: %d %s", within, code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *running) check(t *testing.T, headers map[string]string) *authv3.CheckResponse {
	t.Helper()
	return r.checkRequest(t, "GET", "/api/things?page=2", headers)
}

func (r *running) checkRequest(t *testing.T, method, path string, headers map[string]string) *authv3.CheckResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := r.client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "e2e", Method: method, Host: "api.example.com", Path: path, Headers: headers,
		}},
	}})
	if err != nil {
		t.Fatalf("Check returned a gRPC error: %v", err)
	}
	return resp
}

func bearer(tok string) map[string]string { return map[string]string{"authorization": "Bearer " + tok} }

func setHeaders(resp *authv3.CheckResponse) map[string]*corev3.HeaderValueOption {
	m := map[string]*corev3.HeaderValueOption{}
	for _, h := range resp.GetOkResponse().GetHeaders() {
		m[h.GetHeader().GetKey()] = h
	}
	return m
}

func deniedHeaders(resp *authv3.CheckResponse) map[string]string {
	m := map[string]string{}
	for _, h := range resp.GetDeniedResponse().GetHeaders() {
		m[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}
	return m
}

func baseConfig(s *betterauth.Server) string {
	return fmt.Sprintf(`betterAuthURL: %s
identityHeaders:
  x-user-id: sub
  x-user-email: email
  x-user-name: name
  x-user-role: role
  x-user-org: activeOrganizationId
`, s.URL)
}

func TestEndToEndWithRealTokens(t *testing.T) {
	r := run(t, baseConfig(ba)+"allowCORSPreflight: true\n", nil)
	r.waitReady(t, 10*time.Second)

	for _, alg := range []string{"EdDSA", "ES256", "ES512", "RS256", "PS256"} {
		t.Run("allow "+alg, func(t *testing.T) {
			m, err := ba.Mint(betterauth.MintOptions{Alg: alg, User: map[string]any{"role": "admin,user"}})
			if err != nil {
				t.Fatal(err)
			}
			// The client sends its own identity headers; they must not survive.
			h := bearer(m.Token)
			h["x-user-id"] = "attacker"
			h["x-user-org"] = "attacker-org"
			resp := r.check(t, h)
			if codes.Code(resp.GetStatus().GetCode()) != codes.OK {
				t.Fatalf("denied: %v", resp)
			}
			set := setHeaders(resp)
			want := map[string]string{"x-user-id": m.UserID, "x-user-email": m.Email, "x-user-name": "Test User", "x-user-role": "admin,user"}
			for name, value := range want {
				h := set[name]
				if h.GetHeader().GetValue() != value {
					t.Errorf("%s = %q, want %q", name, h.GetHeader().GetValue(), value)
				}
				if h.GetAppendAction() != corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD {
					t.Errorf("%s append action %s", name, h.GetAppendAction())
				}
			}
			// x-user-org: the token has no activeOrganizationId; the underscore spellings: a CGI or
			// WSGI upstream would read a client's x_user_id as x-user-id.
			wantRemoved := []string{"x-user-org", "x_user_email", "x_user_id", "x_user_name", "x_user_org", "x_user_role"}
			if rm := resp.GetOkResponse().GetHeadersToRemove(); !slices.Equal(rm, wantRemoved) {
				t.Errorf("headers_to_remove %v, want %v", rm, wantRemoved)
			}
		})
	}

	t.Run("definePayload claim", func(t *testing.T) {
		m, err := ba.Mint(betterauth.MintOptions{Claims: map[string]any{"activeOrganizationId": "org_42"}})
		if err != nil {
			t.Fatal(err)
		}
		resp := r.check(t, bearer(m.Token))
		if got := setHeaders(resp)["x-user-org"].GetHeader().GetValue(); got != "org_42" {
			t.Fatalf("x-user-org = %q", got)
		}
	})

	expired, _ := ba.Mint(betterauth.MintOptions{ExpirationTime: "-10m"})
	otherAud, _ := ba.Mint(betterauth.MintOptions{Audience: "https://elsewhere.example"})
	good, _ := ba.Mint(betterauth.MintOptions{})
	denials := map[string]struct {
		headers map[string]string
		status  int32
		reason  string
		www     string
	}{
		"missing token":  {nil, 401, "missing_token", `Bearer realm="` + ba.URL + `"`},
		"expired":        {bearer(expired.Token), 401, "expired", `Bearer realm="` + ba.URL + `", error="invalid_token", error_description="token expired"`},
		"wrong audience": {bearer(otherAud.Token), 401, "invalid_token", `Bearer realm="` + ba.URL + `", error="invalid_token", error_description="audience not accepted"`},
		"session token":  {bearer(good.SessionToken), 401, "invalid_token", ""},
		"basic auth":     {map[string]string{"authorization": "Basic dXNlcjpwYXNz"}, 401, "invalid_token", ""},
	}
	for name, tc := range denials {
		t.Run("deny "+name, func(t *testing.T) {
			resp := r.check(t, tc.headers)
			if codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
				t.Fatalf("answer %v", resp)
			}
			h := deniedHeaders(resp)
			if tc.www != "" && h["www-authenticate"] != tc.www {
				t.Errorf("www-authenticate %q, want %q", h["www-authenticate"], tc.www)
			}
			if h["content-type"] != "application/json" || !strings.Contains(resp.GetDeniedResponse().GetBody(), `"error"`) {
				t.Errorf("body %q type %q", resp.GetDeniedResponse().GetBody(), h["content-type"])
			}
			if !strings.HasPrefix(resp.GetStatus().GetMessage(), tc.reason+":") {
				t.Errorf("status message %q, want reason %s", resp.GetStatus().GetMessage(), tc.reason)
			}
		})
	}

	t.Run("CORS preflight passes without a token", func(t *testing.T) {
		resp := r.checkRequest(t, "OPTIONS", "/api/things", map[string]string{
			"origin": "https://app.example.com", "access-control-request-method": "POST", "x-user-id": "spoof",
		})
		if resp.GetOkResponse() == nil || len(resp.GetOkResponse().GetHeadersToRemove()) != 10 {
			t.Fatalf("preflight: %v (want the 5 identity headers and their underscore spellings removed)", resp)
		}
		// An opaque origin is never a preflight: anyone can send it.
		resp = r.checkRequest(t, "OPTIONS", "/api/things", map[string]string{"origin": "null", "access-control-request-method": "POST"})
		if got := reasonOf(resp); got != "missing_token" {
			t.Fatalf("Origin: null preflight: %s", got)
		}
	})

	t.Run("ops endpoints", func(t *testing.T) {
		if code, _ := r.get(t, "/healthz"); code != 200 {
			t.Errorf("/healthz %d", code)
		}
		_, metrics := r.get(t, "/metrics")
		for _, want := range []string{
			`betterauthz_checks_total{decision="allow",reason="allowed",route="default",transport="grpc"}`,
			`betterauthz_checks_total{decision="deny",reason="expired",route="default",transport="grpc"} 1`,
			`betterauthz_check_duration_seconds_bucket{decision="allow",transport="grpc"`,
			`betterauthz_jwks_refreshes_total{issuer="default",result="success",trigger="initial"} 1`,
			`betterauthz_jwks_keys{issuer="default"} `,
			`betterauthz_jwks_last_success_timestamp_seconds{issuer="default"} `,
			`betterauthz_config_reloads_total{result="success",source="file"} 1`,
			`betterauthz_ready 1`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		for _, svc := range []string{"", "envoy.service.auth.v3.Authorization"} {
			hr, err := r.health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("grpc health %q: %v %v", svc, hr, err)
			}
		}
	})

	t.Run("logs carry decisions, never credentials", func(t *testing.T) {
		secretCookie := "better-auth.session_token=SECRET-COOKIE-VALUE"
		h := bearer(good.Token)
		h["cookie"] = secretCookie
		r.check(t, h)
		h = bearer(good.Token + "tampered")
		h["cookie"] = secretCookie
		r.check(t, h)
		logs := r.logs.String()
		for _, secret := range []string{good.Token, good.Token[strings.LastIndex(good.Token, ".")+1:], good.SessionToken, expired.Token, "SECRET-COOKIE-VALUE", "Bearer ", "page=2"} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain %q", secret[:min(len(secret), 20)])
			}
		}
		for _, want := range []string{`"reason":"allowed"`, `"reason":"missing_token"`, `"request_id":"e2e"`, `"subject":"` + good.UserID + `"`, `"path":"/api/things"`} {
			if !strings.Contains(logs, want) {
				t.Errorf("logs lack %s", want)
			}
		}
	})
}

func TestNotReadyUntilTheIssuerAnswers(t *testing.T) {
	port, err := betterauth.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	r := run(t, "betterAuthURL: "+url+"\n", nil)
	time.Sleep(300 * time.Millisecond)
	if code, body := r.get(t, "/readyz"); code != 503 || !strings.Contains(body, "signing keys not loaded") {
		t.Fatalf("/readyz %d %q before any key loaded", code, body)
	}
	if hr, _ := r.health.Check(context.Background(), &healthpb.HealthCheckRequest{}); hr.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("grpc health %v before any key loaded", hr.GetStatus())
	}
	// A token naming the issuer cannot be judged before its keys load: 503. One naming no
	// configured issuer can: 401 at once, keys or not.
	forged := forgedKid(t, url)
	resp := r.check(t, bearer(forged))
	if codes.Code(resp.GetStatus().GetCode()) != codes.Unavailable || resp.GetDeniedResponse().GetStatus().GetCode() != 503 || deniedHeaders(resp)["retry-after"] == "" {
		t.Fatalf("before keys: %v", resp)
	}
	if resp := r.check(t, bearer(forgedKid(t, "https://elsewhere.example.com"))); resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Errorf("a token of no configured issuer before keys: %v, want 401", resp)
	}
	if resp := r.check(t, nil); resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Errorf("no token before keys: %v, want 401", resp)
	}

	s, err := betterauth.StartOnPort(port)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	r.waitReady(t, 15*time.Second)
	m, err := s.Mint(betterauth.MintOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if resp := r.check(t, bearer(m.Token)); resp.GetOkResponse() == nil {
		t.Fatalf("after the issuer came up: %v", resp)
	}
}

func TestShutdownGoesNotReadyThenDrains(t *testing.T) {
	r := run(t, baseConfig(ba), func(o *server.Options) { o.ShutdownDelay = 700 * time.Millisecond })
	r.waitReady(t, 10*time.Second)
	m, _ := ba.Mint(betterauth.MintOptions{})
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	time.Sleep(200 * time.Millisecond)
	// During the delay: not ready, but still answering checks.
	if code, body := r.get(t, "/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz during drain: %d %q", code, body)
	}
	if resp := r.check(t, bearer(m.Token)); resp.GetOkResponse() == nil {
		t.Errorf("check during drain: %v", resp)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestInvalidConfigStopsStartNamingTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("betterAuthURL: https://auth.example.com\nclockskew: 30s\n"), 0o644)
	err := server.Run(context.Background(), server.Options{ConfigPath: path, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	var ce *server.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `clockskew: unknown key (did you mean "clockSkew"?) (line 2)`) {
		t.Fatalf("Run: %v", err)
	}
}

func TestRunReturnsWhenItCannotListen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		done <- server.Run(context.Background(), server.Options{
			GRPCAddr: l.Addr().String(), HTTPAddr: "127.0.0.1:0", Getenv: func(string) string { return "" },
		})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "--grpc-addr") {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run hung after failing to listen")
	}
}
