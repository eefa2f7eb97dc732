package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// getSessionCounter sits in front of Better Auth and counts its get-session calls: how many
// were in flight at most, and how many carried each Cookie header. Each call is held for delay
// first, so that a flood has time to pile up.
type getSessionCounter struct {
	url   string
	mu    sync.Mutex
	now   int
	most  int
	calls map[string]int
}

func newGetSessionCounter(t *testing.T, betterAuthURL string, delay time.Duration) *getSessionCounter {
	t.Helper()
	target, err := url.Parse(betterAuthURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	c := &getSessionCounter{calls: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.now++
		c.most = max(c.most, c.now)
		c.calls[r.Header.Get("Cookie")]++
		c.mu.Unlock()
		defer func() { c.mu.Lock(); c.now--; c.mu.Unlock() }()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

func (c *getSessionCounter) stats() (most, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.calls {
		total += n
	}
	return c.most, total
}

func (c *getSessionCounter) callsWith(cookie string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[cookie]
}

// checkWithin sends a CheckRequest with Envoy's kind of deadline; a gRPC error is returned as
// the answer's reason.
func (r *running) checkWithin(d time.Duration, headers map[string]string) string {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	resp, err := r.client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "e2e", Method: "GET", Scheme: "https", Host: "app.example.com", Path: "/orders", Headers: headers,
		}},
	}})
	if err != nil {
		return "gRPC error: " + err.Error()
	}
	return reasonOf(resp)
}

func randomSessionCookie(t *testing.T) string {
	t.Helper()
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	// Better Auth's shape: <token>.<signature>, the signature of someone who lacks the secret.
	return "better-auth.session_token=" + hex.EncodeToString(b[:16]) + "." + hex.EncodeToString(b[16:])
}

// A flood of made-up session tokens is not forwarded one to one to Better Auth: at most
// maxConcurrentLookups get-session calls are in flight, a check that finds no free slot answers
// 503 within its deadline (never 401, never allowed), identical tokens share one call, and a
// real session still passes afterwards.
func TestSessionLookupFloodIsBounded(t *testing.T) {
	t.Parallel()
	s, err := betterauth.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	const slots, flood = 4, 200
	// Each call takes 300 ms and a check may wait 80 % of its 3 s: a slot serves about 8 calls
	// while the flood lasts. (A long deadline leaves room for a loaded machine's scheduling.)
	counter := newGetSessionCounter(t, s.URL, 300*time.Millisecond)
	r := run(t, baseConfig(s)+fmt.Sprintf(`sessions:
  lookup: true
  lookupURL: %s/api/auth/get-session
  maxConcurrentLookups: %d
`, counter.url, slots), nil)
	r.waitReady(t, 10*time.Second)

	var wg sync.WaitGroup
	var mu sync.Mutex
	reasons := map[string]int{}
	for range flood {
		cookie := randomSessionCookie(t)
		wg.Go(func() {
			got := r.checkWithin(3*time.Second, map[string]string{"cookie": cookie})
			mu.Lock()
			reasons[got]++
			mu.Unlock()
		})
	}
	wg.Wait()
	most, total := counter.stats()
	t.Logf("%d checks of made-up tokens: %v; %d get-session calls, at most %d at once", flood, reasons, total, most)
	if most > slots {
		t.Errorf("%d get-session calls in flight at once, cap %d", most, slots)
	}
	if most < slots {
		t.Errorf("at most %d get-session calls in flight: the flood never filled the %d slots, so the cap was not tested", most, slots)
	}
	if total >= flood/2 {
		t.Errorf("%d get-session calls for %d made-up tokens: the flood was forwarded nearly one to one", total, flood)
	}
	for reason, n := range reasons {
		// invalid_token: Better Auth said there is no such session; timeout: no slot within
		// the deadline (503, as for an outage: try again, never "sign in").
		if reason != "invalid_token" && reason != "timeout" {
			t.Errorf("%d checks answered %q, want invalid_token or timeout", n, reason)
		}
	}
	if reasons["timeout"] == 0 {
		t.Error("no check waited in vain for a slot: the flood did not meet the cap")
	}

	// Identical tokens share one call.
	cookie := randomSessionCookie(t)
	for range 50 {
		wg.Go(func() {
			if got := r.checkWithin(5*time.Second, map[string]string{"cookie": cookie}); got != "invalid_token" {
				t.Errorf("one made-up token sent 50 times at once: %s, want invalid_token", got)
			}
		})
	}
	wg.Wait()
	if n := counter.callsWith(cookie); n != 1 {
		t.Errorf("%d get-session calls for 50 concurrent checks of one token, want 1", n)
	}

	// A real session passes once the flood is over.
	b, _ := signedUp(t, s, "Flood Survivor")
	token := b.Cookie("better-auth.session_token")
	if token == "" {
		t.Fatalf("Better Auth set no session token cookie: %q", b.CookieHeader())
	}
	if got := r.checkWithin(5*time.Second, map[string]string{"cookie": "better-auth.session_token=" + token}); got != "allowed" {
		t.Errorf("a real session after the flood: %s", got)
	}
}
