package proxies

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// StubAuth is a trivial auth service with betterauthz's HTTP answers, for proving a proxy and
// its config without betterauthz. It records every request it gets. By Authorization:
//
//	Bearer good    200, x-user-id: alice, x-user-name: Alice, x-user-email sent empty
//	Bearer forbid  403, WWW-Authenticate with error="insufficient_scope", JSON body
//	Bearer down    503, Retry-After: 5, JSON body
//	Bearer bad     400, JSON body
//	anything else  401, WWW-Authenticate: Bearer realm="stub", JSON body
type StubAuth struct {
	Addr string // 127.0.0.1:PORT

	mu   sync.Mutex
	reqs []AuthRequest
}

// AuthRequest is one request the auth service got.
type AuthRequest struct {
	Received
	BodyLen int
}

// NewStubAuth starts a StubAuth on a loopback port; it closes with the test.
func NewStubAuth(t testing.TB) *StubAuth {
	s := &StubAuth{}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.Addr = strings.TrimPrefix(srv.URL, "http://")
	return s
}

func (s *StubAuth) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, AuthRequest{Received{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()}, len(body)})
	s.mu.Unlock()
	deny := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":"`+code+`","error_description":"stub"}`) //nolint:errcheck
	}
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		w.Header()["X-User-Id"] = []string{"alice"}
		w.Header()["X-User-Email"] = []string{""}
		w.Header()["X-User-Name"] = []string{"Alice"}
		w.WriteHeader(200)
	case "Bearer forbid":
		w.Header().Set("WWW-Authenticate", `Bearer realm="stub", error="insufficient_scope"`)
		deny(403, "insufficient_scope")
	case "Bearer down":
		w.Header().Set("Retry-After", "5")
		deny(503, "not_ready")
	case "Bearer bad":
		deny(400, "bad_request")
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="stub"`)
		deny(401, "missing_token")
	}
}

// Requests returns what the auth service got since the last Reset, in order.
func (s *StubAuth) Requests() []AuthRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AuthRequest(nil), s.reqs...)
}

// Reset forgets the requests so far.
func (s *StubAuth) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}
