package introspect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rateLimit answers as Better Auth's rate limiter does.
func rateLimit(w http.ResponseWriter) {
	w.Header().Set("X-Retry-After", "60")
	w.WriteHeader(http.StatusTooManyRequests)
}

// While Better Auth rate-limits introspection (a limit anyone can fill), an active token keeps
// working past CacheTTL — up to 2 × CacheTTL after its answer, never past its exp — but a
// token Better Auth has since called inactive does not, nor does any token during another
// kind of outage.
func TestIntrospectServesActiveAnswersStaleWhileRateLimited(t *testing.T) {
	f, u := newFake(t)
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	at := func(d time.Duration) { clock.Store(start.Add(d).UnixNano()) }
	in := newIntrospector(t, u, Options{CacheTTL: time.Minute, Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	ask := func(tok string, want error) {
		t.Helper()
		_, err := in.Introspect(context.Background(), tok)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("%s at %s: %v, want %v", tok, time.Duration(clock.Load()-start.UnixNano()), err, want)
		}
	}
	soon := fmt.Sprint(start.Add(100 * time.Second).Unix())
	f.answers.Store("known", activeAnswer(""))
	f.answers.Store("short", fmt.Sprintf(`{"active":true,"iss":%q,"client_id":"c","exp":%s}`, issuer, soon))
	f.answers.Store("revoked", activeAnswer(""))
	f.answers.Store("down", activeAnswer(""))
	for _, tok := range []string{"known", "short", "revoked", "down"} {
		ask(tok, nil)
	}
	// Past CacheTTL, before any 429: asked again, as ever.
	at(70 * time.Second)
	f.answers.Store("revoked", `{"active":false}`)
	ask("revoked", ErrInactive)
	f.answers.Store("down", http.StatusBadGateway)
	ask("down", ErrUnavailable) // another outage: nothing stale
	at(80 * time.Second)
	for _, tok := range []string{"known", "short", "revoked", "new"} {
		f.answers.Store(tok, rateLimit)
	}
	calls := f.calls.Load()
	ask("known", nil) // asked, 429: served stale
	if f.calls.Load() != calls+1 {
		t.Fatalf("%d calls, want 1", f.calls.Load()-calls)
	}
	ask("short", nil)              // within the backoff, stale, not asked
	ask("revoked", ErrUnavailable) // Better Auth said inactive: never served stale
	ask("new", ErrUnavailable)     // nothing to serve
	if n := f.calls.Load(); n != calls+1 {
		t.Fatalf("%d calls within the backoff, want 1", n-calls)
	}
	at(101 * time.Second)
	ask("short", ErrUnavailable) // past its exp
	ask("known", nil)
	at(121 * time.Second)
	ask("known", ErrUnavailable) // 2 × CacheTTL after its answer
}

// Calls queued for a slot when Better Auth rate-limits another ask nothing: they fail as
// rate-limited, and RetryAfter says how long the backoff has yet to run.
func TestIntrospectQueuedCallsHonourTheBackoff(t *testing.T) {
	f, u := newFake(t)
	f.release = make(chan struct{})
	in := newIntrospector(t, u, Options{MaxConcurrent: 1})
	f.answers.Store("t0", rateLimit)
	errs := make(chan error, 21)
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := in.Introspect(context.Background(), "t0")
		errs <- err
	})
	waitFor(t, "the first call", func() bool { return f.inFlight.Load() == 1 })
	for i := range 20 {
		f.answers.Store(fmt.Sprint("t", i+1), activeAnswer(""))
		wg.Go(func() {
			_, err := in.Introspect(context.Background(), fmt.Sprint("t", i+1))
			errs <- err
		})
	}
	waitFor(t, "20 calls queued", func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		return len(in.calls) == 21
	})
	close(f.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%v, want ErrUnavailable", err)
		}
		if w := RetryAfter(err); w <= 50*time.Second || w > time.Minute {
			t.Fatalf("RetryAfter %s, want about a minute", w)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("Better Auth called %d times, want 1", n)
	}
	if w := RetryAfter(errors.New("other")); w != 0 {
		t.Fatalf("RetryAfter of another error: %s", w)
	}
}
