package extauthz

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/betterauthz/betterauthz/authz"
	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/jwks"
)

type recorder struct {
	mu        sync.Mutex
	decisions []authz.Decision
}

func (r *recorder) Decided(_ context.Context, _ *authz.Request, d *authz.Decision, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decisions = append(r.decisions, *d)
}

// serve runs svc on a loopback gRPC server, registered as in production, and returns a client.
func serve(t *testing.T, svc *Server) authv3.AuthorizationClient {
	t.Helper()
	return authv3.NewAuthorizationClient(serveConn(t, svc, DefaultMaxRequestBytes))
}

func serveConn(t *testing.T, svc *Server, maxRequestBytes int) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(ServerOptions(maxRequestBytes)...)
	svc.Register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rawCodec sends bytes as they are, so a test can send what no protobuf library would marshal.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { return proto.Unmarshal(data, v.(proto.Message)) }
func (rawCodec) Name() string                       { return "proto" }

// Requests gRPC cannot decode must still get a CheckResponse: a gRPC error is what Envoy's
// failure_mode_allow lets through.
func TestCheckAnswersWhatGRPCCannotDecode(t *testing.T) {
	const limit = 1 << 20
	rec := &recorder{}
	svc := NewServer(authz.NewAuthorizer(testLive(fakeVerifier{}), rec))
	conn := serveConn(t, svc, limit)
	client := authv3.NewAuthorizationClient(conn)
	withHeader := func(size int) *authv3.CheckRequest {
		return httpCheck("POST", "h", "/upload", map[string]string{"x-big": strings.Repeat("a", size)})
	}
	placeholder := httpCheck("GET", "h", "/PLACEHOLDER", nil)
	wire, err := proto.Marshal(placeholder)
	if err != nil {
		t.Fatal(err)
	}
	invalidUTF8 := bytes.Replace(wire, []byte("PLACEHOLDER"), bytes.Repeat([]byte{0xff}, len("PLACEHOLDER")), 1)

	cases := map[string]struct {
		send   func() (*authv3.CheckResponse, error)
		status int
		reason authz.Reason
	}{
		"just under the limit": {
			send: func() (*authv3.CheckResponse, error) {
				return client.Check(context.Background(), withHeader(limit-1024))
			},
			status: 401, reason: authz.ReasonMissingToken,
		},
		"invalid UTF-8 in a string field": {
			send: func() (*authv3.CheckResponse, error) {
				resp := &authv3.CheckResponse{}
				err := conn.Invoke(context.Background(), authv3.Authorization_Check_FullMethodName, invalidUTF8, resp, grpc.ForceCodec(rawCodec{}))
				return resp, err
			},
			status: 400, reason: authz.ReasonBadRequest,
		},
		"not protobuf": {
			send: func() (*authv3.CheckResponse, error) {
				resp := &authv3.CheckResponse{}
				err := conn.Invoke(context.Background(), authv3.Authorization_Check_FullMethodName, []byte{0xff, 0xff, 0xff}, resp, grpc.ForceCodec(rawCodec{}))
				return resp, err
			},
			status: 400, reason: authz.ReasonBadRequest,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, err := tc.send()
			if err != nil {
				t.Fatalf("gRPC error %v: every outcome must be a CheckResponse", err)
			}
			if got := int(resp.GetDeniedResponse().GetStatus().GetCode()); got != tc.status {
				t.Fatalf("HTTP %d (%s), want %d", got, resp.GetStatus().GetMessage(), tc.status)
			}
			if !strings.HasPrefix(resp.GetStatus().GetMessage(), string(tc.reason)+":") {
				t.Fatalf("status message %q, want reason %s", resp.GetStatus().GetMessage(), tc.reason)
			}
		})
	}
	rec.mu.Lock()
	if len(rec.decisions) != len(cases) {
		t.Errorf("observer saw %d decisions, want %d", len(rec.decisions), len(cases))
	}
	rec.mu.Unlock()

	// Over the limit, gRPC refuses the request unread (ResourceExhausted): memory stays bounded,
	// and the README tells Envoy users to keep max_request_bytes under it. The connection lives.
	if _, err := client.Check(context.Background(), withHeader(limit+1)); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over the limit: %v, want ResourceExhausted", err)
	}
	if resp, err := client.Check(context.Background(), httpCheck("GET", "h", "/", nil)); err != nil || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Fatalf("after an oversize request: %v, %v", resp, err)
	}
}

func TestCheckAlwaysAnswersWithACheckResponse(t *testing.T) {
	panicky := fakeVerifier{"boom": func(context.Context) (jwks.Claims, error) { panic("bug with token data") }}
	panicky["good"] = claims(`{"sub":"u1"}`)
	rec := &recorder{}
	a := authz.NewAuthorizer(testLive(panicky), rec)
	svc := NewServer(a)
	var stacks int
	a.OnPanic = func([]byte) { stacks++ }
	client := serve(t, svc)

	cases := map[string]struct {
		req    *authv3.CheckRequest
		code   codes.Code
		status int
		reason authz.Reason
	}{
		"allowed":         {httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer good"}), codes.OK, 200, authz.ReasonAllowed},
		"empty request":   {&authv3.CheckRequest{}, codes.InvalidArgument, 400, authz.ReasonBadRequest},
		"no http":         {&authv3.CheckRequest{Attributes: &authv3.AttributeContext{}}, codes.InvalidArgument, 400, authz.ReasonBadRequest},
		"verifier panics": {httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer boom"}), codes.Internal, 500, authz.ReasonInternal},
		"missing token":   {httpCheck("GET", "h", "/", nil), codes.Unauthenticated, 401, authz.ReasonMissingToken},
		"relative path":   {httpCheck("GET", "h", "docs/a", nil), codes.InvalidArgument, 400, authz.ReasonBadRequest},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, err := client.Check(context.Background(), tc.req)
			if err != nil {
				t.Fatalf("gRPC error %v: every outcome must be a CheckResponse", err)
			}
			if codes.Code(resp.GetStatus().GetCode()) != tc.code {
				t.Fatalf("code %d, want %s", resp.GetStatus().GetCode(), tc.code)
			}
			if tc.code != codes.OK && int(resp.GetDeniedResponse().GetStatus().GetCode()) != tc.status {
				t.Fatalf("HTTP %d, want %d", resp.GetDeniedResponse().GetStatus().GetCode(), tc.status)
			}
			if strings.Contains(resp.String(), "token data") {
				t.Fatal("the panic value leaked into the response")
			}
		})
	}
	if stacks != 1 {
		t.Errorf("OnPanic called %d times, want 1", stacks)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.decisions) != len(cases) {
		t.Errorf("observer saw %d decisions, want %d", len(rec.decisions), len(cases))
	}
}

func TestCheckWithATimedOutContextFailsClosed(t *testing.T) {
	blocking := fakeVerifier{"slow": func(ctx context.Context) (jwks.Claims, error) {
		<-ctx.Done()
		return jwks.Claims{}, jwks.ErrTimeout
	}}
	svc := NewServer(authz.NewAuthorizer(testLive(blocking), nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	resp, err := svc.Check(ctx, httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer slow"}))
	if err != nil {
		t.Fatal(err)
	}
	if codes.Code(resp.GetStatus().GetCode()) != codes.Unavailable || resp.GetDeniedResponse().GetStatus().GetCode() != 503 {
		t.Fatalf("timed out check answered %v", resp)
	}
	// Already past the deadline on arrival: denied without verifying.
	resp, _ = svc.Check(ctx, httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer good"}))
	if resp.GetOkResponse() != nil {
		t.Fatal("allowed after the deadline")
	}
}

func TestSwapChangesPolicyForLaterChecks(t *testing.T) {
	v := fakeVerifier{}
	a := authz.NewAuthorizer(testLive(v), nil)
	svc := NewServer(a)
	req := httpCheck("GET", "h", "/", nil)
	resp, _ := svc.Check(context.Background(), req)
	if resp.GetOkResponse() != nil {
		t.Fatal("allowed without a token")
	}
	public := testLive(v)
	public.Config.Routes = policy.NewRoutes(nil, policy.Public)
	a.Publish(public)
	resp, _ = svc.Check(context.Background(), req)
	if resp.GetOkResponse() == nil {
		t.Fatal("public after swap, but denied")
	}
}

// FuzzCheck decodes arbitrary bytes as a CheckRequest and checks it: always a CheckResponse,
// never allowed without the one valid token, never a header both set and removed.
func FuzzCheck(f *testing.F) {
	seed := func(r *authv3.CheckRequest) {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	seed(httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer good"}))
	seed(httpCheck("OPTIONS", "h", "/", map[string]string{"origin": "o", "access-control-request-method": "GET"}))
	seed(httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer a,Bearer b", "x-user-id": "spoof"}))
	seed(&authv3.CheckRequest{})
	svc := NewServer(authz.NewAuthorizer(testLive(fakeVerifier{"good": claims(`{"sub":"u1","email":"e"}`)}), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &authv3.CheckRequest{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		resp, err := svc.Check(context.Background(), req)
		if err != nil || resp == nil || resp.GetStatus() == nil {
			t.Fatalf("Check = %v, %v", resp, err)
		}
		ok := resp.GetOkResponse()
		if codes.Code(resp.GetStatus().GetCode()) == codes.OK {
			if ok == nil {
				t.Fatal("OK without OkResponse")
			}
			set := map[string]bool{}
			for _, h := range ok.GetHeaders() {
				set[h.GetHeader().GetKey()] = true
			}
			for _, h := range ok.GetHeadersToRemove() {
				if set[h] {
					t.Fatalf("%s set and removed", h)
				}
			}
			if set["x-user-id"] {
				r, _ := Extract(req)
				v, n := r.Header("authorization")
				scheme, tok, _ := strings.Cut(strings.Trim(v, " \t"), " ")
				if n != 1 || !strings.EqualFold(scheme, "bearer") || strings.TrimLeft(tok, " ") != "good" {
					t.Fatal("identity without the valid token")
				}
			}
		} else if resp.GetDeniedResponse() == nil {
			t.Fatal("denied without DeniedResponse")
		}
	})
}
