package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

const answer = `{"session":{"id":"s1","token":"TOKEN","userId":"u1","expiresAt":"2030-01-01T00:00:00.000Z"},
"user":{"id":"u1","email":"ada@example.com","name":"Ada","role":"admin","banned":false}}`

// fakeBetterAuth answers get-session with the given handler and counts its calls.
func fakeBetterAuth(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func newLookup(t *testing.T, url string, o Options) *Lookup {
	t.Helper()
	o.URL = url
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLookupSendsOnlyTheSessionTokenAndReadsTheSession(t *testing.T) {
	var got *http.Request
	srv, _ := fakeBetterAuth(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Add("Set-Cookie", "better-auth.session_data=abc; Path=/; HttpOnly")
		w.Header().Add("Set-Cookie", "better-auth.session_data.0=x; Path=/")
		w.Header().Add("Set-Cookie", "better-auth.session_token=rotated; Path=/")
		w.Header().Add("Set-Cookie", "other=1")
		fmt.Fprint(w, answer)
	})
	l := newLookup(t, srv.URL+"/api/auth/get-session", Options{})
	s, err := l.Lookup(context.Background(), "better-auth.session_token", "TOKEN.SIG")
	if err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/api/auth/get-session" || got.URL.Query().Get("disableCookieCache") != "true" {
		t.Errorf("asked %s", got.URL)
	}
	if c := got.Header.Values("Cookie"); len(c) != 1 || c[0] != "better-auth.session_token=TOKEN.SIG" {
		t.Errorf("Cookie sent = %q, want only the session token", c)
	}
	if got.Header.Get("Authorization") != "" {
		t.Error("an Authorization header was sent")
	}
	if s.Claims.Map()["sub"] != "u1" || s.Claims.Map()["email"] != "ada@example.com" || s.Claims.Map()["role"] != "admin" {
		t.Errorf("claims = %v", s.Claims.Map())
	}
	view, _ := s.Claims.Map()["session"].(map[string]any)
	if view["id"] != "s1" || view["token"] != nil {
		t.Errorf("session view = %v: want its id and never its token", view)
	}
	want := []string{"better-auth.session_data=abc; Path=/; HttpOnly", "better-auth.session_data.0=x; Path=/"}
	if strings.Join(s.SetCookie, "\n") != strings.Join(want, "\n") {
		t.Errorf("SetCookie = %q, want only the session-cache cookies %q", s.SetCookie, want)
	}
}

func TestLookupTellsNoSessionFromAnOutage(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.HandlerFunc
		want error
	}{
		{"null", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "null") }, ErrNoSession},
		{"null with spaces", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, " null\n") }, ErrNoSession},
		{"500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, ErrUnavailable},
		{"401", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(401) }, ErrUnavailable},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
		}, ErrUnavailable},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>") }, ErrUnavailable},
		{"no user", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"session":{}}`) }, ErrUnavailable},
		{"user without id", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"user":{"email":"a@b"}}`) }, ErrUnavailable},
		{"too large", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `{"user":{"id":"u","x":%q}}`, strings.Repeat("a", 70<<10))
		}, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := fakeBetterAuth(t, tc.h)
			l := newLookup(t, srv.URL, Options{})
			s, err := l.Lookup(context.Background(), "c", "t")
			if !errors.Is(err, tc.want) || s != nil {
				t.Fatalf("Lookup = %v, %v; want %v", s, err, tc.want)
			}
			if strings.Contains(err.Error(), "t=") {
				t.Errorf("error %q names the cookie", err)
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		l := newLookup(t, url, Options{})
		if _, err := l.Lookup(context.Background(), "c", "t"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
}

func TestLookupCachesSessionsAndSignOutsButNotOutages(t *testing.T) {
	var mode atomic.Value
	mode.Store("session")
	srv, calls := fakeBetterAuth(t, func(w http.ResponseWriter, _ *http.Request) {
		switch mode.Load() {
		case "session":
			fmt.Fprint(w, answer)
		case "null":
			fmt.Fprint(w, "null")
		default:
			w.WriteHeader(503)
		}
	})
	now := time.Unix(1_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	l := newLookup(t, srv.URL, Options{TTL: 10 * time.Second, Now: clock})
	ctx := context.Background()

	for range 3 {
		if _, err := l.Lookup(ctx, "c", "t"); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls for one session within its TTL, want 1", calls.Load())
	}
	// A sign-out shows once the TTL has passed, and is cached in turn.
	mode.Store("null")
	if _, err := l.Lookup(ctx, "c", "t"); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	advance(10 * time.Second)
	for range 2 {
		if _, err := l.Lookup(ctx, "c", "t"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("after TTL: %v, want ErrNoSession", err)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want 2", calls.Load())
	}
	// An outage is never cached: each lookup asks again.
	advance(10 * time.Second)
	mode.Store("down")
	for range 2 {
		if _, err := l.Lookup(ctx, "c", "t"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("outage: %v", err)
		}
	}
	if calls.Load() != 4 {
		t.Fatalf("%d calls, want 4: outages are not cached", calls.Load())
	}
	// Another token is another entry.
	mode.Store("session")
	if _, err := l.Lookup(ctx, "c", "u"); err != nil || calls.Load() != 5 {
		t.Fatalf("other token: %v, %d calls", err, calls.Load())
	}
}

func TestLookupCoalescesConcurrentLookupsOfOneSession(t *testing.T) {
	release := make(chan struct{})
	srv, calls := fakeBetterAuth(t, func(w http.ResponseWriter, _ *http.Request) {
		<-release
		fmt.Fprint(w, answer)
	})
	l := newLookup(t, srv.URL, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := l.Lookup(context.Background(), "c", "t")
			errs <- err
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls for 50 concurrent lookups of one session, want 1", calls.Load())
	}
}

func TestLookupWaitIsBoundedByTheCallerAndTheCallByTimeout(t *testing.T) {
	block := make(chan struct{})
	srv, _ := fakeBetterAuth(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	defer close(block)
	l := newLookup(t, srv.URL, Options{Timeout: 300 * time.Millisecond})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Lookup(ctx, "c", "t"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("caller's deadline: %v, want ErrTimeout", err)
	}
	// With no deadline of the caller's, the call's own timeout ends it as an outage.
	if _, err := l.Lookup(context.Background(), "c", "u"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("call timeout: %v, want ErrUnavailable", err)
	}
}

func TestCacheStaysWithinItsBounds(t *testing.T) {
	c := newCache(3, 1<<20)
	exp := time.Unix(100, 0)
	s := &Session{Claims: claimsOf(map[string]any{"sub": "u"})}
	for i := range 10 {
		c.put([32]byte{byte(i)}, s, nil, exp)
		if len(c.m) > 3 {
			t.Fatalf("%d entries, bound 3", len(c.m))
		}
	}
	c = newCache(1000, 2000)
	big := &Session{Claims: claimsOf(map[string]any{"sub": strings.Repeat("x", 500)})}
	for i := range 20 {
		c.put([32]byte{byte(i)}, big, nil, exp)
		if c.bytes > 2000 {
			t.Fatalf("%d bytes, bound 2000", c.bytes)
		}
	}
	huge := &Session{Claims: claimsOf(map[string]any{"sub": strings.Repeat("x", 5000)})}
	c.put([32]byte{99}, huge, nil, exp)
	if _, _, ok := c.get([32]byte{99}, time.Unix(0, 0)); ok {
		t.Fatal("an entry larger than the whole cache was kept")
	}
	sum := 0
	for _, e := range c.m {
		sum += e.size
	}
	if sum != c.bytes {
		t.Fatalf("bytes = %d, entries sum to %d", c.bytes, sum)
	}
}

func TestNewRefusesAnEmptyURL(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted no URL")
	}
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{answer, "null", "{}", `{"user":{"id":1}}`, `{"user":{"id":"u"},"session":[]}`, "[", `{"user":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := parseAnswer(body, nil)
		if (s == nil) == (err == nil) {
			t.Fatalf("parseAnswer = %v, %v: want exactly one", s, err)
		}
		if err != nil {
			if !errors.Is(err, ErrNoSession) && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		if sub, ok := s.Claims.Map()["sub"].(string); !ok || sub == "" {
			t.Fatalf("session without sub: %v", s.Claims.Map())
		}
		if v, ok := s.Claims.Map()["session"].(map[string]any); ok {
			if _, has := v["token"]; has {
				t.Fatal("the session token became a claim")
			}
		}
	})
}

// inFlight is a fake get-session that holds every call until released, and records how many
// were in flight at most.
type inFlight struct {
	mu       sync.Mutex
	now, max int
	tokens   map[string]int // calls per Cookie header
	release  chan struct{}
}

func newInFlight(t *testing.T, answer string) (*inFlight, string) {
	f := &inFlight{tokens: map[string]int{}, release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.now++
		f.max = max(f.max, f.now)
		f.tokens[r.Header.Get("Cookie")]++
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.now--; f.mu.Unlock() }()
		select {
		case <-f.release:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, answer)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *inFlight) stats() (now, max, calls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range f.tokens {
		calls += n
	}
	return f.now, f.max, calls
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestLookupCapsTheCallsInFlight(t *testing.T) {
	f, url := newInFlight(t, "null")
	l := newLookup(t, url, Options{MaxConcurrent: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			_, err := l.Lookup(context.Background(), "c", fmt.Sprint("token-", i))
			errs <- err
		})
	}
	waitFor(t, "3 calls in flight", func() bool { now, _, _ := f.stats(); return now == 3 })
	time.Sleep(50 * time.Millisecond)
	if now, _, calls := f.stats(); now != 3 || calls != 3 {
		t.Fatalf("%d calls in flight, %d made, with 20 lookups waiting: want 3 and 3", now, calls)
	}
	close(f.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrNoSession) {
			t.Fatalf("a lookup that waited for a slot: %v, want ErrNoSession", err)
		}
	}
	if _, most, calls := f.stats(); most != 3 || calls != 20 {
		t.Fatalf("%d calls at most in flight, %d made: want 3 and 20", most, calls)
	}
}

func TestLookupWithoutASlotFailsWithinTheCallersDeadlineAndAsksNothing(t *testing.T) {
	f, url := newInFlight(t, answer)
	l := newLookup(t, url, Options{MaxConcurrent: 1})
	held := make(chan error, 1)
	go func() { _, err := l.Lookup(context.Background(), "c", "holder"); held <- err }()
	waitFor(t, "the slot taken", func() bool { now, _, _ := f.stats(); return now == 1 })

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			// The slot stays taken until every one of these has answered: they can only
			// answer by giving up.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := l.Lookup(ctx, "c", fmt.Sprint("flood-", i)); !errors.Is(err, ErrTimeout) {
				t.Errorf("a lookup that found no slot: %v, want ErrTimeout", err)
			}
		})
	}
	wg.Wait()
	close(f.release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // a call wrongly left waiting would take the slot now
	if _, _, calls := f.stats(); calls != 1 {
		t.Fatalf("%d calls: lookups whose callers gave up before a slot was free reached Better Auth", calls)
	}
	// A caller of the same token after they gave up starts afresh.
	if _, err := l.Lookup(context.Background(), "c", "flood-3"); err != nil {
		t.Fatalf("a later lookup of a token whose callers gave up: %v", err)
	}
}

func TestLookupCoalescesIdenticalLookupsWaitingForASlot(t *testing.T) {
	f, url := newInFlight(t, answer)
	l := newLookup(t, url, Options{MaxConcurrent: 1})
	go func() { _, _ = l.Lookup(context.Background(), "c", "holder") }()
	waitFor(t, "the slot taken", func() bool { now, _, _ := f.stats(); return now == 1 })
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if _, err := l.Lookup(context.Background(), "c", "same"); err != nil {
				t.Error(err)
			}
		})
	}
	// Some of them give up; the others still share the one call.
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		if _, err := l.Lookup(ctx, "c", "same"); !errors.Is(err, ErrTimeout) {
			t.Errorf("a caller that gave up: %v", err)
		}
		cancel()
	}
	close(f.release)
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := f.tokens["c=same"]; n != 1 {
		t.Fatalf("%d calls for 35 lookups of one token, want 1", n)
	}
}

func TestRefusedTokensDoNotPushSessionsOut(t *testing.T) {
	srv, calls := fakeBetterAuth(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") == "c=live" {
			fmt.Fprint(w, answer)
			return
		}
		fmt.Fprint(w, "null")
	})
	now := time.Unix(1_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := newLookup(t, srv.URL, Options{MaxEntries: 16, TTL: time.Minute, Now: clock})
	ctx := context.Background()
	if _, err := l.Lookup(ctx, "c", "live"); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := l.Lookup(ctx, "c", fmt.Sprint("bogus-", i)); !errors.Is(err, ErrNoSession) {
			t.Fatal(err)
		}
	}
	if len(l.refused.m) > 2 {
		t.Fatalf("%d refused tokens cached, bound 16/8", len(l.refused.m))
	}
	before := calls.Load()
	if _, err := l.Lookup(ctx, "c", "live"); err != nil || calls.Load() != before {
		t.Fatalf("the live session after a flood of bogus tokens: %v, %d more calls (want it cached)", err, calls.Load()-before)
	}
	// A refused token is remembered for RefusedTTL (5 s), not the session TTL.
	if _, err := l.Lookup(ctx, "c", "bogus-199"); !errors.Is(err, ErrNoSession) || calls.Load() != before {
		t.Fatalf("a refused token again: %v, %d more calls (want it cached)", err, calls.Load()-before)
	}
	mu.Lock()
	now = now.Add(DefaultRefusedTTL)
	mu.Unlock()
	if _, err := l.Lookup(ctx, "c", "bogus-199"); !errors.Is(err, ErrNoSession) || calls.Load() != before+1 {
		t.Fatalf("a refused token after RefusedTTL: %v, %d more calls (want 1)", err, calls.Load()-before)
	}
}

// claimsOf makes claims of a map.
func claimsOf(m map[string]any) jwks.Claims {
	c, err := jwks.ClaimsFromMap(m)
	if err != nil {
		panic(err)
	}
	return c
}
