package relay_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/jwks/keyset"
	"github.com/betterauthz/betterauthz/jwks/relay"
)

// upstream is a JWKS server standing in for Better Auth: it counts fetches and serves the keys
// it is given, with private members and a symmetric key beside them.
type upstream struct {
	*httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	kids    []string
	keys    map[string]ed25519.PrivateKey // by kid, made on first use
	down    bool
}

func newUpstream(t *testing.T, kids ...string) *upstream {
	u := &upstream{kids: kids, keys: map[string]ed25519.PrivateKey{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		u.fetches.Add(1)
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var keys []string
		for _, kid := range u.kids {
			priv, ok := u.keys[kid]
			if !ok {
				_, priv, _ = ed25519.GenerateKey(rand.Reader)
				u.keys[kid] = priv
			}
			pub := priv.Public().(ed25519.PublicKey)
			// A private member: a leaky JWKS must not leak further.
			keys = append(keys, fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":%q,"x":%q,"d":%q}`,
				kid, b64(pub), b64(priv.Seed())))
		}
		keys = append(keys, `{"kty":"oct","kid":"hmac","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}`)
		_, _ = io.WriteString(w, `{"keys":[`+strings.Join(keys, ",")+`]}`)
	}))
	t.Cleanup(u.Close)
	return u
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (u *upstream) set(kids ...string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.kids = kids
}

func (u *upstream) setDown(down bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.down = down
}

// start runs a key set of o for the test's lifetime and waits for its first fetch.
func start(t *testing.T, o keyset.Options) *keyset.KeySet {
	t.Helper()
	ks, err := keyset.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ks.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for !ks.Loaded() {
		if time.Now().After(deadline) {
			t.Fatal("key set not loaded within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ks
}

// requests records what reached the relay.
type requests struct {
	mu  sync.Mutex
	all []*http.Request
}

func (q *requests) add(r *http.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.all = append(q.all, r.Clone(context.Background()))
}

func (q *requests) last() *http.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.all[len(q.all)-1]
}

// serveRelay serves ks's relay over a real HTTP server.
func serveRelay(t *testing.T, ks *keyset.KeySet, o relay.Options) (*httptest.Server, *requests) {
	seen := &requests{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r)
		relay.Serve(w, r, ks, o)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServesThePublicKeysWithAnETag(t *testing.T) {
	up := newUpstream(t, "k1")
	ks := start(t, keyset.Options{URL: up.URL, RefreshInterval: 30 * time.Second})
	srv, _ := serveRelay(t, ks, relay.Options{RefreshInterval: 30 * time.Second})

	resp, body := get(t, srv.URL)
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 || doc.Keys[0]["kid"] != "k1" {
		t.Fatalf("keys %v, want k1 alone (the oct key is never relayed)", doc.Keys)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := doc.Keys[0][private]; ok {
			t.Errorf("the relayed key has the private or symmetric member %q: %s", private, body)
		}
	}
	if strings.Contains(body, "hmac") || strings.Contains(body, `"oct"`) {
		t.Errorf("the symmetric key was relayed: %s", body)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Errorf("ETag %q, want a strong one", etag)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "max-age=30" {
		t.Errorf("Cache-Control %q, want max-age=30 (the refresh interval)", cc)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// The document is one a key set parses to the same keys.
	keys, problems, err := keyset.ParseSet([]byte(body))
	if err != nil || len(problems) > 0 || len(keys) != 1 {
		t.Errorf("the relayed set does not parse cleanly: %d keys, %v, %v", len(keys), problems, err)
	}

	for name, inm := range map[string]string{"itself": etag, "in a list": `"x", ` + etag, "weak": "W/" + etag, "any": "*"} {
		if resp, body := get(t, srv.URL, "If-None-Match", inm); resp.StatusCode != 304 || body != "" || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %q ETag %q, want 304", name, resp.StatusCode, body, resp.Header.Get("ETag"))
		}
	}
	if resp, _ := get(t, srv.URL, "If-None-Match", `"other"`); resp.StatusCode != 200 {
		t.Errorf("If-None-Match of another set: %d, want 200", resp.StatusCode)
	}
	// The same bytes, the same ETag: replicas agree.
	if resp, _ := get(t, srv.URL); resp.Header.Get("ETag") != etag {
		t.Error("the ETag changed without a change of keys")
	}
}

func TestMaxAgeFollowsTheRefreshInterval(t *testing.T) {
	up := newUpstream(t, "k1")
	ks := start(t, keyset.Options{URL: up.URL})
	for interval, want := range map[time.Duration]string{0: "max-age=60", 5 * time.Minute: "max-age=60", 10 * time.Second: "max-age=10"} {
		srv, _ := serveRelay(t, ks, relay.Options{RefreshInterval: interval})
		if resp, _ := get(t, srv.URL); resp.Header.Get("Cache-Control") != want {
			t.Errorf("interval %s: Cache-Control %q, want %q", interval, resp.Header.Get("Cache-Control"), want)
		}
	}
}

func TestMalformedQueriesAreRefused(t *testing.T) {
	up := newUpstream(t, "k1")
	ks := start(t, keyset.Options{URL: up.URL})
	srv, _ := serveRelay(t, ks, relay.Options{})
	before := up.fetches.Load()
	for name, q := range map[string]string{
		"two kids":       "?kid=a&kid=b",
		"an empty kid":   "?kid=",
		"a long kid":     "?kid=" + strings.Repeat("a", relay.MaxKidBytes+1),
		"a long query":   "?x=" + strings.Repeat("a", 4*relay.MaxKidBytes),
		"a bad escape":   "?kid=%zz",
		"a bad escape 2": "?kid=a;b",
	} {
		if resp, body := get(t, srv.URL+q); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s, want 400", name, resp.StatusCode, body)
		}
	}
	if resp, _ := get(t, srv.URL+"?kid="+strings.Repeat("a", relay.MaxKidBytes)+"&other=1"); resp.StatusCode != 200 {
		t.Errorf("a kid of %d bytes and another parameter: %d, want 200", relay.MaxKidBytes, resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"?kid=k1"); resp.StatusCode != 200 {
		t.Errorf("a known kid: %d", resp.StatusCode)
	}
	if n := up.fetches.Load() - before; n > 1 {
		t.Errorf("refused queries made %d upstream fetches", n)
	}
}

// A kid the set lacks waits for the key set's refresh and is answered with its result; a flood
// of random kids costs the upstream at most one fetch per MinFetchGap.
func TestUnknownKidRefreshesOncePerGap(t *testing.T) {
	up := newUpstream(t, "k1")
	ks := start(t, keyset.Options{URL: up.URL, RefreshInterval: time.Hour, MinFetchGap: 300 * time.Millisecond})
	srv, _ := serveRelay(t, ks, relay.Options{})
	time.Sleep(300 * time.Millisecond)

	up.set("k1", "k2")
	before := up.fetches.Load()
	var wg sync.WaitGroup
	codes := make(chan string, 50)
	for range 50 {
		wg.Go(func() {
			resp, body := get(t, srv.URL+"?kid=k2")
			codes <- fmt.Sprint(resp.StatusCode, strings.Contains(body, `"k2"`))
		})
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != "200 true" {
			t.Fatalf("a relay request for the rotated-in kid: %s, want 200 with k2", c)
		}
	}
	if n := up.fetches.Load() - before; n != 1 {
		t.Errorf("50 concurrent requests for one new kid made %d upstream fetches, want 1", n)
	}

	// The flood: every request a new random kid, for 1.5 s, from 20 clients.
	before = up.fetches.Load()
	began := time.Now()
	var sent atomic.Int64
	for range 20 {
		wg.Go(func() {
			for time.Since(began) < 1500*time.Millisecond {
				resp, _ := get(t, srv.URL+"?kid=bogus-"+rand.Text())
				sent.Add(1)
				if resp.StatusCode != 200 {
					t.Errorf("a random kid: %d, want 200 (the set, without it)", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	if n, most := up.fetches.Load()-before, int64(elapsed/(300*time.Millisecond))+2; n > most {
		t.Errorf("%d random kids in %s made %d upstream fetches, want at most %d", sent.Load(), elapsed.Round(time.Millisecond), n, most)
	}
}

// A sidecar's refresh names one kid of those it waits for. A kid the central found absent a
// moment ago still gets a fresh set: a genuine new key waiting beside it is not taken as absent.
func TestAKidFoundAbsentStillRefreshes(t *testing.T) {
	up := newUpstream(t, "k1")
	ks := start(t, keyset.Options{URL: up.URL, RefreshInterval: time.Hour, MinFetchGap: 100 * time.Millisecond})
	srv, _ := serveRelay(t, ks, relay.Options{})
	if _, body := get(t, srv.URL+"?kid=bogus"); strings.Contains(body, "bogus") {
		t.Fatal("a bogus kid was served")
	}
	// The central's own checks now answer "bogus" unknown at once, without a fetch.
	if _, err := ks.KeyRead(context.Background(), "bogus"); err == nil {
		t.Fatal("a bogus kid was found")
	}
	up.set("k1", "k2") // Better Auth rotates; the sidecar's next refresh names the bogus kid
	before := up.fetches.Load()
	if _, body := get(t, srv.URL+"?kid=bogus"); !strings.Contains(body, `"k2"`) {
		t.Errorf("a refresh named after a kid found absent did not bring the rotated-in key: %s", body)
	}
	if n := up.fetches.Load() - before; n != 1 {
		t.Errorf("%d upstream fetches, want 1", n)
	}
}

func TestUnavailableKeysAreNotRelayed(t *testing.T) {
	up := newUpstream(t, "k1")
	ks := start(t, keyset.Options{URL: up.URL, RefreshInterval: time.Hour, MinFetchGap: 10 * time.Millisecond, MaxKeyAge: 400 * time.Millisecond})
	srv, _ := serveRelay(t, ks, relay.Options{Wait: time.Second})
	up.setDown(true)
	// A kid the set lacks, and Better Auth down: the sidecar must hear "try again", not "absent".
	if resp, _ := get(t, srv.URL+"?kid=new"); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("?kid= with the upstream down: %d, want 503 with Retry-After", resp.StatusCode)
	}
	time.Sleep(500 * time.Millisecond)
	// Past MaxKeyAge the central's keys are not vouched for: a sidecar would count them fresh.
	if resp, _ := get(t, srv.URL); resp.StatusCode != 503 {
		t.Errorf("stale keys: %d, want 503", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"?kid=k1"); resp.StatusCode != 503 {
		t.Errorf("stale keys, known kid: %d, want 503", resp.StatusCode)
	}

	notLoaded, err := keyset.New(keyset.Options{URL: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv2, _ := serveRelay(t, notLoaded, relay.Options{})
	if resp, _ := get(t, srv2.URL); resp.StatusCode != 503 {
		t.Errorf("keys never loaded: %d, want 503", resp.StatusCode)
	}
}

// A sidecar whose JWKS URL is the relay: its interval refresh is a 304 that keeps its keys and
// counts as a success (staleness included), and a kid it lacks reaches the central as ?kid=.
func TestSidecarThroughTheRelay(t *testing.T) {
	up := newUpstream(t, "k1")
	central := start(t, keyset.Options{URL: up.URL, RefreshInterval: time.Hour, MinFetchGap: 10 * time.Millisecond})
	srv, seen := serveRelay(t, central, relay.Options{})
	var fetched sync.Map // trigger -> last keyset.Fetch
	sidecar := start(t, keyset.Options{URL: srv.URL, RefreshInterval: 200 * time.Millisecond, MinFetchGap: 10 * time.Millisecond,
		MaxKeyAge: 500 * time.Millisecond, Observer: observer(func(f keyset.Fetch) { fetched.Store(f.Trigger, f) })})
	first := sidecar.LastSuccess()
	time.Sleep(700 * time.Millisecond) // past MaxKeyAge: only the 304s keep the keys fresh

	if got := seen.last().Header.Get("If-None-Match"); got != central.Published().ETag {
		t.Errorf("the sidecar's refresh sent If-None-Match %q, want the relay's ETag %q", got, central.Published().ETag)
	}
	f, _ := fetched.Load("interval")
	if f == nil || f.(keyset.Fetch).Err != nil || f.(keyset.Fetch).Keys != 1 {
		t.Fatalf("the sidecar's interval refresh: %+v, want a success keeping 1 key", f)
	}
	if sidecar.Stale() || !sidecar.LastSuccess().After(first) {
		t.Error("a 304 did not count as a successful refresh")
	}
	if _, err := sidecar.Key(context.Background(), "k1", "EdDSA"); err != nil {
		t.Errorf("the sidecar lost its key after 304s: %v", err)
	}
	if up.fetches.Load() != 1 {
		t.Errorf("the upstream was fetched %d times, want once (the central's first load)", up.fetches.Load())
	}

	// A rotation: the sidecar meets k2 first; its refresh names k2, the central refreshes.
	up.set("k1", "k2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := sidecar.Key(ctx, "k2", "EdDSA"); err != nil {
		t.Fatalf("the sidecar did not get the rotated-in key: %v", err)
	}
	if q := seen.last().URL.Query().Get("kid"); q != "k2" {
		t.Errorf("the sidecar's refresh asked the relay for kid %q, want k2", q)
	}
	if up.fetches.Load() != 2 {
		t.Errorf("the upstream was fetched %d times, want 2", up.fetches.Load())
	}
}

type observer func(keyset.Fetch)

func (o observer) JWKSFetched(f keyset.Fetch) { o(f) }

// Requests that wait for a refresh are bounded: past Waiting.Max, a ?kid= request is answered
// 503 at once rather than held.
func TestWaitingRequestsAreBounded(t *testing.T) {
	up := newUpstream(t, "k1")
	ks := start(t, keyset.Options{URL: up.URL, RefreshInterval: time.Hour, MinFetchGap: 5 * time.Second})
	const wait = 2 * time.Second
	srv, _ := serveRelay(t, ks, relay.Options{Wait: wait, Waiting: &relay.Waiting{Max: 2}})
	// The first fetch just ended: the next starts only after MinFetchGap, so every request
	// admitted waits its full Wait, and the others are answered at once.
	var wg sync.WaitGroup
	type answer struct {
		code int
		took time.Duration
	}
	answers := make(chan answer, 6)
	for range 6 {
		wg.Go(func() {
			began := time.Now()
			resp, _ := get(t, srv.URL+"?kid=new-"+rand.Text())
			answers <- answer{resp.StatusCode, time.Since(began)}
		})
	}
	wg.Wait()
	close(answers)
	var waited, refused int
	for a := range answers {
		if a.code != http.StatusServiceUnavailable {
			t.Errorf("a ?kid= request while no fetch may start: %d, want 503", a.code)
		}
		if a.took >= wait/2 { // a wait ends a little before Wait (keyset.WaitContext)
			waited++
		} else {
			refused++
		}
	}
	if waited > 2 || refused < 4 {
		t.Errorf("%d requests waited and %d were refused at once, with a bound of 2", waited, refused)
	}
	// Without a kid, the set is served as usual.
	if resp, _ := get(t, srv.URL); resp.StatusCode != 200 {
		t.Errorf("plain GET after: %d", resp.StatusCode)
	}
}
