package realnode_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/betterauthz/betterauthz/internal/testenv/realnode"
)

// checkClient is an ext_authz client on the node's network, as Envoy would be: it dials the
// Service's ClusterIP, and kube-proxy's rules pick a pod per connection.
func checkClient(t *testing.T, node *realnode.Node, addr string) authv3.AuthorizationClient {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return node.DialContext(ctx, "tcp", a) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return authv3.NewAuthorizationClient(conn)
}

// check asks about GET /api/orders on api.example.com, with the token when one is given, and
// says what is wrong with the answer ("" when it is the expected one: allowed with the user's
// x-user-id for a token, 401 without).
func check(ctx context.Context, c authv3.AuthorizationClient, token, userID string) string {
	headers := map[string]string{}
	if token != "" {
		headers["authorization"] = "Bearer " + token
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Host: "api.example.com", Path: "/api/orders", Headers: headers, Scheme: "http", Protocol: "HTTP/1.1",
		}},
	}})
	switch {
	case err != nil:
		return "gRPC error: " + err.Error()
	case token != "":
		ok := resp.GetOkResponse()
		if codes.Code(resp.GetStatus().GetCode()) != codes.OK || ok == nil {
			return fmt.Sprintf("token refused: %v %v", resp.GetStatus(), resp.GetDeniedResponse().GetBody())
		}
		for _, h := range ok.GetHeaders() {
			if h.GetHeader().GetKey() == "x-user-id" {
				if h.GetHeader().GetValue() != userID {
					return "x-user-id " + h.GetHeader().GetValue()
				}
				return ""
			}
		}
		return "allowed without x-user-id"
	default:
		if codes.Code(resp.GetStatus().GetCode()) != codes.Unauthenticated || resp.GetDeniedResponse().GetStatus().GetCode() != 401 {
			return fmt.Sprintf("no token: %v, HTTP %v", resp.GetStatus(), resp.GetDeniedResponse().GetStatus().GetCode())
		}
		return ""
	}
}

// stream is a steady stream of checks, half with a token and half without, over several
// connections, each answer checked.
type stream struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	answered atomic.Int64
	mu       sync.Mutex
	failures []string
	failed   int
}

// startStream runs conns connections of checks, one every 20 ms on each.
func startStream(t *testing.T, node *realnode.Node, addr, token, userID string, conns int) *stream {
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{cancel: cancel}
	for i := range conns {
		c := checkClient(t, node, addr)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for n := i; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				tok := ""
				if n%2 == 0 {
					tok = token
				}
				if bad := check(ctx, c, tok, userID); bad != "" && ctx.Err() == nil {
					s.mu.Lock()
					s.failed++
					if len(s.failures) < 10 {
						s.failures = append(s.failures, time.Now().Format("15:04:05.000")+" "+bad)
					}
					s.mu.Unlock()
				} else if bad == "" {
					s.answered.Add(1)
				}
			}
		}()
	}
	return s
}

// waitAnswered waits until the stream has answered n more checks, so that each phase of a
// test is covered by checks, whatever the machine's speed.
func (s *stream) waitAnswered(t *testing.T, n int64) {
	t.Helper()
	target := s.answered.Load() + n
	deadline := time.Now().Add(2 * time.Minute)
	for s.answered.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("the stream answered %d checks in 2 minutes, want %d more", s.answered.Load(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the stream and fails t when any check was lost or wrong.
func (s *stream) stop(t *testing.T, what string) {
	t.Helper()
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed > 0 {
		t.Errorf("%s: %d of %d checks failed; the first:\n%s", what, s.failed, int64(s.failed)+s.answered.Load(), strings.Join(s.failures, "\n"))
	}
	t.Logf("%s: %d checks answered as expected, %d failed", what, s.answered.Load(), s.failed)
}
