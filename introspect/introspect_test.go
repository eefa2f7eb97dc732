package introspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
)

const (
	issuer   = "https://auth.example.com/api/auth"
	clientID = "betterauthz client"
	secret   = "s3cr3t+/=&value"
	resource = "https://api.example.com"
)

// fakeBetterAuth is an introspection endpoint: it checks the client credential, counts calls,
// and answers each token from answers (a JSON body, or an HTTP status as an int).
type fakeBetterAuth struct {
	t       *testing.T
	secret  atomic.Pointer[string]
	post    bool
	answers sync.Map // token -> string | int | func(http.ResponseWriter)
	calls   atomic.Int64
	// release, when set, holds every call until it is closed; inFlight counts them meanwhile.
	release  chan struct{}
	inFlight atomic.Int64
	most     atomic.Int64
	perToken sync.Map // token -> *atomic.Int64
}

func newFake(t *testing.T) (*fakeBetterAuth, string) {
	f := &fakeBetterAuth{t: t}
	s := secret
	f.secret.Store(&s)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL + "/api/auth/oauth2/introspect"
}

func (f *fakeBetterAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.most.Load()
		if n <= m || f.most.CompareAndSwap(m, n) {
			break
		}
	}
	if f.release != nil {
		<-f.release
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/auth/oauth2/introspect" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		f.t.Errorf("asked %s %s (%s)", r.Method, r.URL, r.Header.Get("Content-Type"))
	}
	if err := r.ParseForm(); err != nil {
		f.t.Error(err)
	}
	id, sec, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		sec, _ = url.QueryUnescape(sec)
	}
	if f.post {
		if basic {
			f.t.Error("Basic credential sent to a client_secret_post client")
		}
		id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != clientID || sec != *f.secret.Load() {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	token := r.PostForm.Get("token")
	if r.PostForm.Get("token_type_hint") != "access_token" {
		f.t.Errorf("token_type_hint %q", r.PostForm.Get("token_type_hint"))
	}
	c, _ := f.perToken.LoadOrStore(token, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
	a, _ := f.answers.Load(token)
	switch a := a.(type) {
	case string:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, a)
	case int:
		w.WriteHeader(a)
	case func(http.ResponseWriter):
		a(w)
	default:
		fmt.Fprint(w, `{"active":false}`)
	}
}

func (f *fakeBetterAuth) asked(token string) int64 {
	c, ok := f.perToken.Load(token)
	if !ok {
		return 0
	}
	return c.(*atomic.Int64).Load()
}

// activeAnswer is Better Auth's answer for an opaque token of a user, with exp in an hour.
func activeAnswer(extra string) string {
	exp := time.Now().Add(time.Hour).Unix()
	return fmt.Sprintf(`{"active":true,"iss":%q,"aud":%q,"client_id":"app","azp":"app","sub":"u1","sid":"s1","exp":%d,"iat":%d,"scope":"read:tasks","token_type":"Bearer"%s}`,
		issuer, resource, exp, exp-3600, extra)
}

func writeSecret(t *testing.T, dir, value string) string {
	t.Helper()
	path := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newIntrospector(t *testing.T, u string, o Options) *Introspector {
	t.Helper()
	o.URL, o.ClientID, o.Resource = u, clientID, resource
	if o.ClientSecretFile == "" {
		o.ClientSecretFile = writeSecret(t, t.TempDir(), secret+"\n")
	}
	if o.Issuers == nil {
		o.Issuers = []string{issuer, "https://auth.example.com"}
	}
	in, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestIntrospectReadsAnActiveTokenAsAnAccessToken(t *testing.T) {
	f, u := newFake(t)
	f.answers.Store("user-token", activeAnswer(""))
	f.answers.Store("machine-token", fmt.Sprintf(`{"active":true,"iss":%q,"aud":[%q],"client_id":"m2m","azp":"m2m","exp":%d,"scope":"read:tasks write:tasks","token_type":"Bearer"}`,
		"https://auth.example.com", resource, time.Now().Add(time.Hour).Unix()))
	var outcomes []string
	in := newIntrospector(t, u, Options{Observe: func(o string) { outcomes = append(outcomes, o) }})

	c, err := in.Introspect(context.Background(), "user-token")
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject() != "u1" || c.StringClaim("client_id") != "app" || c.StringClaim("sid") != "s1" || c.StringClaim("scope") != "read:tasks" || c.StringClaim("aud") != resource {
		t.Fatalf("claims %v", c.Map())
	}
	// A client_credentials token names no user: its client is its subject, as in Better
	// Auth's JWT access tokens.
	c, err = in.Introspect(context.Background(), "machine-token")
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject() != "m2m" || c.StringClaim("sid") != "" {
		t.Fatalf("machine claims %v", c.Map())
	}
	if strings.Join(outcomes, " ") != "active active" {
		t.Fatalf("outcomes %v", outcomes)
	}
}

func TestIntrospectSendsTheCredentialAsTheClientWasRegistered(t *testing.T) {
	for name, post := range map[string]bool{"client_secret_basic": false, "client_secret_post": true} {
		t.Run(name, func(t *testing.T) {
			f, u := newFake(t)
			f.post = post
			f.answers.Store("tok", activeAnswer(""))
			in := newIntrospector(t, u, Options{PostSecret: post})
			if _, err := in.Introspect(context.Background(), "tok"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Every answer that is not an active token of this issuer is refused; those that say nothing
// about the token are an outage (ErrUnavailable, 503), never a verdict (401).
func TestIntrospectFailsClosed(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	big := `{"active":true,"pad":"` + strings.Repeat("x", DefaultMaxResponseBytes) + `"}`
	for name, tc := range map[string]struct {
		answer  any
		want    error
		outcome string
	}{
		"inactive":                 {`{"active":false}`, ErrInactive, OutcomeInactive},
		"expired":                  {strings.Replace(activeAnswer(""), fmt.Sprint(exp), fmt.Sprint(time.Now().Add(-time.Minute).Unix()), 1), ErrExpired, OutcomeInactive},
		"DPoP-bound (cnf)":         {activeAnswer(`,"cnf":{"jkt":"abc"}`), ErrBound, OutcomeInactive},
		"DPoP token_type":          {strings.Replace(activeAnswer(""), `"Bearer"`, `"DPoP"`, 1), ErrBound, OutcomeInactive},
		"not valid yet":            {activeAnswer(fmt.Sprintf(`,"nbf":%d`, exp)), ErrInactive, OutcomeInactive},
		"5xx":                      {http.StatusBadGateway, ErrUnavailable, OutcomeStatus},
		"client credential":        {http.StatusUnauthorized, ErrUnavailable, OutcomeClientRejected},
		"forbidden":                {http.StatusForbidden, ErrUnavailable, OutcomeClientRejected},
		"redirect, not followed":   {http.StatusFound, ErrUnavailable, OutcomeStatus},
		"not JSON":                 {`<html>`, ErrUnavailable, OutcomeInvalidAnswer},
		"two JSON values":          {`{"active":false}{}`, ErrUnavailable, OutcomeInvalidAnswer},
		"a name twice":             {`{"active":false,"active":true}`, ErrUnavailable, OutcomeInvalidAnswer},
		"active a string":          {`{"active":"true"}`, ErrUnavailable, OutcomeInvalidAnswer},
		"no active":                {`{}`, ErrUnavailable, OutcomeInvalidAnswer},
		"oversized":                {big, ErrUnavailable, OutcomeInvalidAnswer},
		"wrong iss":                {strings.Replace(activeAnswer(""), issuer, "https://evil.example.com", 1), ErrUnavailable, OutcomeInvalidAnswer},
		"no exp":                   {fmt.Sprintf(`{"active":true,"iss":%q,"client_id":"a","sub":"u"}`, issuer), ErrUnavailable, OutcomeInvalidAnswer},
		"exp a string":             {fmt.Sprintf(`{"active":true,"iss":%q,"client_id":"a","sub":"u","exp":"%d"}`, issuer, exp), ErrUnavailable, OutcomeInvalidAnswer},
		"no client_id":             {fmt.Sprintf(`{"active":true,"iss":%q,"sub":"u","exp":%d}`, issuer, exp), ErrUnavailable, OutcomeInvalidAnswer},
		"sub not a string":         {strings.Replace(activeAnswer(""), `"sub":"u1"`, `"sub":1`, 1), ErrUnavailable, OutcomeInvalidAnswer},
		"a session but no subject": {strings.Replace(activeAnswer(""), `"sub":"u1",`, ``, 1), ErrUnavailable, OutcomeInvalidAnswer},
		"scope not a string":       {strings.Replace(activeAnswer(""), `"scope":"read:tasks"`, `"scope":["read:tasks"]`, 1), ErrUnavailable, OutcomeInvalidAnswer},
		"odd token_type":           {strings.Replace(activeAnswer(""), `"Bearer"`, `"mac"`, 1), ErrUnavailable, OutcomeInvalidAnswer},
		// Better Auth omits sub when the user is gone, and sid when a refresh outlived the
		// session: a token with a scope only a user grants is no client's.
		"a user's token without its user": {strings.Replace(strings.Replace(activeAnswer(""), `"sub":"u1","sid":"s1",`, ``, 1), `"read:tasks"`, `"openid read:tasks"`, 1), ErrInactive, OutcomeInactive},
		"offline_access without sub":      {strings.Replace(strings.Replace(activeAnswer(""), `"sub":"u1","sid":"s1",`, ``, 1), `"read:tasks"`, `"read:tasks offline_access"`, 1), ErrInactive, OutcomeInactive},
	} {
		t.Run(name, func(t *testing.T) {
			f, u := newFake(t)
			f.answers.Store("tok", tc.answer)
			var got []string
			in := newIntrospector(t, u, Options{Observe: func(o string) { got = append(got, o) }})
			c, err := in.Introspect(context.Background(), "tok")
			if !errors.Is(err, tc.want) || !c.IsZero() {
				t.Fatalf("%v (claims %v), want %v", err, c.Map(), tc.want)
			}
			if len(got) != 1 || got[0] != tc.outcome {
				t.Fatalf("outcomes %v, want %s", got, tc.outcome)
			}
			if Describe(err) != tc.want.Error() {
				t.Fatalf("Describe: %q", Describe(err))
			}
		})
	}
}

func TestIntrospectUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	var got string
	in := newIntrospector(t, srv.URL+"/oauth2/introspect", Options{Observe: func(o string) { got = o }})
	if _, err := in.Introspect(context.Background(), "tok"); !errors.Is(err, ErrUnavailable) || got != OutcomeUnreachable {
		t.Fatalf("%v, outcome %s", err, got)
	}
}

func TestIntrospectAsksNothingAboutWhatIsNoOpaqueToken(t *testing.T) {
	f, u := newFake(t)
	in := newIntrospector(t, u, Options{})
	for _, tok := range []string{"", "a.b", "a b", "tok\x00", "ünicode", strings.Repeat("a", MaxTokenBytes+1)} {
		if _, err := in.Introspect(context.Background(), tok); !errors.Is(err, ErrInactive) {
			t.Fatalf("%q: %v", tok, err)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("%d calls", n)
	}
}

func TestIntrospectCachesActiveTokensUntilExpOrTheCapAndInactiveOnesBriefly(t *testing.T) {
	f, u := newFake(t)
	now := time.Now()
	clock := func() time.Time { return now }
	exp := now.Add(10 * time.Minute).Unix()
	f.answers.Store("long", strings.Replace(activeAnswer(""), fmt.Sprint(now.Add(time.Hour).Unix()), fmt.Sprint(exp), 1))
	f.answers.Store("short", fmt.Sprintf(`{"active":true,"iss":%q,"client_id":"c","exp":%d}`, issuer, now.Add(30*time.Second).Unix()))
	f.answers.Store("gone", `{"active":false}`)
	f.answers.Store("down", http.StatusServiceUnavailable)
	in := newIntrospector(t, u, Options{Now: func() time.Time { return clock() }, CacheTTL: time.Minute, InactiveTTL: 5 * time.Second})
	ask := func(tok string, want error) {
		t.Helper()
		if _, err := in.Introspect(context.Background(), tok); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Fatalf("%s: %v, want %v", tok, err, want)
		}
	}
	for range 3 {
		ask("long", nil)
		ask("short", nil)
		ask("gone", ErrInactive)
		ask("down", ErrUnavailable)
	}
	if f.asked("long") != 1 || f.asked("short") != 1 || f.asked("gone") != 1 || f.asked("down") != 3 {
		t.Fatalf("asked long %d, short %d, gone %d, down %d: want 1, 1, 1 and 3 (outages are not cached)",
			f.asked("long"), f.asked("short"), f.asked("gone"), f.asked("down"))
	}
	now = now.Add(6 * time.Second) // the inactive answer lapses
	ask("gone", ErrInactive)
	now = now.Add(25 * time.Second) // past short's exp
	ask("short", ErrExpired)        // asked again: the fake still says active, its exp has passed
	ask("long", nil)
	now = now.Add(30 * time.Second) // past the cap: long is asked again
	ask("long", nil)
	if f.asked("gone") != 2 || f.asked("short") != 2 || f.asked("long") != 2 {
		t.Fatalf("asked gone %d, short %d, long %d; want 2 each", f.asked("gone"), f.asked("short"), f.asked("long"))
	}
}

func TestIntrospectCoalescesConcurrentIntrospectionsOfOneToken(t *testing.T) {
	f, u := newFake(t)
	f.release = make(chan struct{})
	f.answers.Store("same", activeAnswer(""))
	in := newIntrospector(t, u, Options{})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := in.Introspect(context.Background(), "same"); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "the call", func() bool { return f.inFlight.Load() == 1 })
	time.Sleep(20 * time.Millisecond)
	close(f.release)
	wg.Wait()
	if n := f.asked("same"); n != 1 {
		t.Fatalf("%d calls for 50 introspections of one token", n)
	}
}

func TestIntrospectCapsTheCallsInFlightAndBoundsTheWait(t *testing.T) {
	f, u := newFake(t)
	f.release = make(chan struct{})
	in := newIntrospector(t, u, Options{MaxConcurrent: 2})
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { _, _ = in.Introspect(context.Background(), fmt.Sprint("holder", i)) })
	}
	waitFor(t, "2 calls in flight", func() bool { return f.inFlight.Load() == 2 })
	for i := range 10 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := in.Introspect(ctx, fmt.Sprint("flood", i)); !errors.Is(err, ErrTimeout) || Describe(err) != ErrTimeout.Error() {
				t.Errorf("an introspection that found no slot: %v, want ErrTimeout", err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	close(f.release)
	wg.Wait()
	time.Sleep(50 * time.Millisecond) // a call wrongly left waiting would take a slot now
	if most, calls := f.most.Load(), f.calls.Load(); most != 2 || calls != 2 {
		t.Fatalf("%d calls at most in flight, %d made: want 2 and 2 (the callers that gave up asked nothing)", most, calls)
	}
}

func TestIntrospectBacksOffWhenRateLimited(t *testing.T) {
	f, u := newFake(t)
	f.answers.Store("a", func(w http.ResponseWriter) {
		w.Header().Set("X-Retry-After", "7") // Better Auth's rate limiter
		w.WriteHeader(http.StatusTooManyRequests)
	})
	f.answers.Store("b", activeAnswer(""))
	now := time.Now()
	var outcomes []string
	in := newIntrospector(t, u, Options{Now: func() time.Time { return now }, Observe: func(o string) { outcomes = append(outcomes, o) }})
	if _, err := in.Introspect(context.Background(), "a"); !errors.Is(err, ErrUnavailable) {
		t.Fatal(err)
	}
	if _, err := in.Introspect(context.Background(), "b"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("within the wait Better Auth asked for: %v", err)
	}
	now = now.Add(8 * time.Second)
	if _, err := in.Introspect(context.Background(), "b"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	if strings.Join(outcomes, " ") != "rate_limited active" || f.calls.Load() != 2 {
		t.Fatalf("outcomes %v, %d calls", outcomes, f.calls.Load())
	}
	if got := retryAfter(http.Header{"Retry-After": {"3600"}}); got != maxBackoff {
		t.Fatalf("a long Retry-After: %s", got)
	}
}

// The secret is re-read when its file changes (a rotated Secret), and never logged — not even
// when Better Auth refuses it, nor when the file goes bad.
func TestIntrospectClientSecretFile(t *testing.T) {
	f, u := newFake(t)
	f.answers.Store("tok", activeAnswer(""))
	dir := t.TempDir()
	path := writeSecret(t, dir, secret+"\n")
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	in := newIntrospector(t, u, Options{ClientSecretFile: path, Log: log, CacheTTL: time.Nanosecond})
	if _, err := in.Introspect(context.Background(), "tok"); err != nil {
		t.Fatal(err)
	}

	// Better Auth's client gets a new secret; betterauthz's file still holds the old one.
	rotated := "rotated-" + secret
	f.secret.Store(&rotated)
	_, err := in.Introspect(context.Background(), "tok")
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), secret) {
		t.Fatalf("a refused credential: %v", err)
	}
	if !strings.Contains(logs.String(), `"client_id":"betterauthz client"`) || !strings.Contains(logs.String(), `"resource":"`+resource+`"`) {
		t.Fatalf("the log does not name the client and resource: %s", logs.String())
	}
	// The Secret is updated as the kubelet does: a new file swapped in by rename.
	tmp := filepath.Join(dir, "new")
	if err := os.WriteFile(tmp, []byte(rotated), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Introspect(context.Background(), "tok"); err != nil {
		t.Fatalf("after the file changed: %v", err)
	}
	// A file gone bad keeps the last good secret.
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Introspect(context.Background(), "tok"); err != nil {
		t.Fatalf("with an empty file: %v", err)
	}
	if !strings.Contains(logs.String(), "is empty") {
		t.Fatalf("the bad file is not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "s3cr3t") {
		t.Fatalf("the secret is in the log: %s", logs.String())
	}
}

func TestNewRefusesWhatCannotWork(t *testing.T) {
	dir := t.TempDir()
	ok := writeSecret(t, dir, secret)
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte(" \n"), 0o600)
	binary := filepath.Join(dir, "binary")
	_ = os.WriteFile(binary, []byte("s3cr3t\x01"), 0o600)
	for name, tc := range map[string]struct {
		o    Options
		want string
	}{
		"no URL":         {Options{ClientID: "c", ClientSecretFile: ok, Issuers: []string{issuer}}, "URL is empty"},
		"no client":      {Options{URL: "http://x", ClientSecretFile: ok, Issuers: []string{issuer}}, "client id is empty"},
		"no issuer":      {Options{URL: "http://x", ClientID: "c", ClientSecretFile: ok}, "no issuer"},
		"no secret file": {Options{URL: "http://x", ClientID: "c", Issuers: []string{issuer}}, "no client secret file"},
		"missing file":   {Options{URL: "http://x", ClientID: "c", ClientSecretFile: filepath.Join(dir, "nope"), Issuers: []string{issuer}}, "no such file"},
		"empty file":     {Options{URL: "http://x", ClientID: "c", ClientSecretFile: empty, Issuers: []string{issuer}}, "is empty"},
		"control chars":  {Options{URL: "http://x", ClientID: "c", ClientSecretFile: binary, Issuers: []string{issuer}}, "printable ASCII"},
		"a directory":    {Options{URL: "http://x", ClientID: "c", ClientSecretFile: dir, Issuers: []string{issuer}}, "not a regular file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
}

func TestCacheStaysWithinItsBounds(t *testing.T) {
	c := newCache(10, 1<<20)
	now := time.Now()
	claims, _ := jwks.ParseClaims([]byte(`{"sub":"u"}`))
	for i := range 100 {
		c.put([32]byte{byte(i)}, claims, nil, now.Add(time.Minute), time.Time{})
	}
	if n := c.len(); n != 10 {
		t.Fatalf("%d entries, want 10", n)
	}
	c = newCache(1000, 2048)
	for i := range 100 {
		c.put([32]byte{byte(i)}, claims, nil, now.Add(time.Minute), time.Time{})
	}
	if c.bytes > 2048 {
		t.Fatalf("%d bytes", c.bytes)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
