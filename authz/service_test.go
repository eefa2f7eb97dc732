package authz

import (
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
	"google.golang.org/protobuf/proto"

	"github.com/betterauthz/betterauthz/jwks"
)

type recorder struct {
	mu        sync.Mutex
	decisions []Decision
}

func (r *recorder) Decided(_ context.Context, _ *Request, d *Decision, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.decisions = append(r.decisions, *d)
}

// serve runs svc on a loopback gRPC server and returns a client.
func serve(t *testing.T, svc *Service) authv3.AuthorizationClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, svc)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

func TestCheckAlwaysAnswersWithACheckResponse(t *testing.T) {
	panicky := fakeVerifier{"boom": func(context.Context) (jwks.Claims, error) { panic("bug with token data") }}
	panicky["good"] = claims(`{"sub":"u1"}`)
	rec := &recorder{}
	svc := NewService(&Snapshot{Policy: testPolicy(), Verifier: panicky}, rec)
	var stacks int
	svc.OnPanic = func([]byte) { stacks++ }
	client := serve(t, svc)

	cases := map[string]struct {
		req    *authv3.CheckRequest
		code   codes.Code
		status int
		reason Reason
	}{
		"allowed":         {httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer good"}), codes.OK, 200, ReasonAllowed},
		"empty request":   {&authv3.CheckRequest{}, codes.InvalidArgument, 400, ReasonBadRequest},
		"no http":         {&authv3.CheckRequest{Attributes: &authv3.AttributeContext{}}, codes.InvalidArgument, 400, ReasonBadRequest},
		"verifier panics": {httpCheck("GET", "h", "/", map[string]string{"authorization": "Bearer boom"}), codes.Internal, 500, ReasonInternal},
		"missing token":   {httpCheck("GET", "h", "/", nil), codes.Unauthenticated, 401, ReasonMissingToken},
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
		return nil, jwks.ErrTimeout
	}}
	svc := NewService(&Snapshot{Policy: testPolicy(), Verifier: blocking}, nil)
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
	svc := NewService(&Snapshot{Policy: testPolicy(), Verifier: v}, nil)
	req := httpCheck("GET", "h", "/", nil)
	resp, _ := svc.Check(context.Background(), req)
	if resp.GetOkResponse() != nil {
		t.Fatal("allowed without a token")
	}
	p := testPolicy()
	p.Default = Public
	svc.Swap(&Snapshot{Policy: p, Verifier: v})
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
	svc := NewService(&Snapshot{Policy: testPolicy(), Verifier: fakeVerifier{"good": claims(`{"sub":"u1","email":"e"}`)}}, nil)
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
				if tok, err := bearerToken(r, 1<<14); err != nil || tok != "good" {
					t.Fatal("identity without the valid token")
				}
			}
		} else if resp.GetDeniedResponse() == nil {
			t.Fatal("denied without DeniedResponse")
		}
	})
}
