// Package relay serves a key set betterauthz holds as Better Auth's JWKS JSON, so that sidecars
// fetch their keys from a central betterauthz instead of from Better Auth: Better Auth's load
// then does not grow with the number of pods.
//
// A sidecar that meets a kid it lacks asks with ?kid=<kid>; when the set lacks it too, the
// answer waits for the key set's own refresh — the one a check with that kid would cause,
// coalesced with every other caller's, at most one per MinFetchGap — that starts after the
// request. The relay does not answer from the negative cache: a sidecar's fetch names one of
// the kids it waits for, and a genuine new key waiting beside a bogus kid the central had just
// found absent would otherwise be taken as absent too. A flood of kids therefore costs Better
// Auth at most one fetch per MinFetchGap, however many sidecars relay it.
package relay

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/jwks/keyset"
)

const (
	// MaxKidBytes is the longest kid accepted in ?kid= (a kid Better Auth makes is 32 bytes).
	MaxKidBytes = keyset.MaxKidHint
	// maxQueryBytes bounds the whole query string.
	maxQueryBytes = 2 * MaxKidBytes
	// DefaultWait bounds how long a ?kid= request waits for a refresh: less than a sidecar's
	// fetch timeout (5 s), so that the sidecar gets the answer rather than a timeout.
	DefaultWait = 4 * time.Second
	// maxAgeCap is the longest max-age sent.
	maxAgeCap = time.Minute
)

// Options configure Serve.
type Options struct {
	// RefreshInterval is the key set's; max-age is the shorter of it and a minute.
	RefreshInterval time.Duration
	// Wait bounds a ?kid= request's wait for a refresh. Default DefaultWait.
	Wait time.Duration
	// Waiting, when set, bounds how many ?kid= requests wait at once (shared by every request
	// of a server): more are answered 503 at once. A waiting request holds a connection and a
	// goroutine for up to Wait; anyone who can reach the port could otherwise pile them up.
	Waiting *Waiting
}

// Waiting counts the ?kid= requests that wait for a refresh, up to Max.
type Waiting struct {
	Max int64
	n   atomic.Int64
}

// DefaultMaxWaiting bounds the waiting ?kid= requests: a mesh's sidecars share one wait each
// refresh, so a thousand waiting at once is already a mesh of thousands meeting a new key in
// the same second.
const DefaultMaxWaiting = 1024

func (w *Waiting) enter() bool {
	if w == nil {
		return true
	}
	if w.n.Add(1) > w.Max {
		w.n.Add(-1)
		return false
	}
	return true
}

func (w *Waiting) leave() {
	if w != nil {
		w.n.Add(-1)
	}
}

// Serve answers a GET of the JWKS: 200 with the keys in force and their strong ETag, 304 when
// If-None-Match names it, 400 for a malformed query, 503 (Retry-After) while the keys cannot be
// vouched for — not loaded, stale, or a ?kid= refresh that failed or did not end in time. It
// never answers with keys it would not verify a token with itself.
//
// Cache-Control allows caching for at most the refresh interval, and never more than a minute:
// sidecars do not read it (they refresh on their own interval, and at once, with ?kid=, on a kid
// they lack), but a cache or another JWKS client that does would otherwise miss a rotation for
// as long as it keeps the set.
func Serve(w http.ResponseWriter, r *http.Request, ks *keyset.KeySet, o Options) {
	kid, err := kidOf(r.URL.RawQuery)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ks == nil || !ks.Loaded() {
		unavailable(w, "signing keys not loaded yet")
		return
	}
	if ks.Stale() {
		// A sidecar that took these would count them fresh: its own maxKeyAge would not apply.
		unavailable(w, keyset.ErrKeysStale.Error())
		return
	}
	if kid != "" && !ks.HasKid(kid) {
		wait := o.Wait
		if wait <= 0 {
			wait = DefaultWait
		}
		if !o.Waiting.enter() {
			unavailable(w, "too many requests waiting for a refresh")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		_, err := ks.KeyReadFresh(ctx, kid)
		cancel()
		o.Waiting.leave()
		switch {
		case err == nil, errors.Is(err, keyset.ErrUnknownKey):
			// The set as a fresh fetch left it: with the kid, or without it for certain.
		default:
			// Better Auth could not be asked in time, or the keys went stale: the sidecar keeps
			// its keys and answers "try again", as it would have without the relay.
			unavailable(w, "signing keys could not be refreshed")
			return
		}
	}
	doc := ks.Published()
	if doc == nil {
		unavailable(w, "signing keys not loaded yet")
		return
	}
	h := w.Header()
	h.Set("ETag", doc.ETag)
	h.Set("Cache-Control", "max-age="+strconv.Itoa(int(maxAge(o.RefreshInterval).Seconds())))
	if matches(r.Header.Values("If-None-Match"), doc.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(doc.Body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc.Body)
	}
}

func maxAge(refresh time.Duration) time.Duration {
	if refresh <= 0 || refresh > maxAgeCap {
		return maxAgeCap
	}
	return refresh.Truncate(time.Second)
}

func unavailable(w http.ResponseWriter, why string) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, why, http.StatusServiceUnavailable)
}

// kidOf reads the query: nothing, or one kid of 1 to MaxKidBytes bytes. Other parameters are
// ignored, as Better Auth ignores them.
func kidOf(rawQuery string) (string, error) {
	if rawQuery == "" {
		return "", nil
	}
	if len(rawQuery) > maxQueryBytes {
		return "", errors.New("query too long")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", errors.New("malformed query")
	}
	kids, ok := q["kid"]
	switch {
	case !ok:
		return "", nil
	case len(kids) != 1:
		return "", errors.New("one kid at a time")
	case kids[0] == "" || len(kids[0]) > MaxKidBytes:
		return "", errors.New("kid must be 1 to " + strconv.Itoa(MaxKidBytes) + " bytes")
	}
	return kids[0], nil
}

// matches reports whether an If-None-Match header names etag (RFC 9110 §13.1.2: the weak
// comparison, and "*" for any).
func matches(headers []string, etag string) bool {
	for _, h := range headers {
		for t := range strings.SplitSeq(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}
