package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/betterauthz/betterauthz/jwks"
	"github.com/betterauthz/betterauthz/jwks/relay"
)

// The JWKS relay scenario: N sidecars, simulated in this process (each a key set and a
// verifier, as in a sidecar betterauthz), go through a key rotation — directly against the
// upstream JWKS, and through a central key set served by the relay (`GET /jwks`). It counts the
// fetches at the upstream and the time until every sidecar verifies a token of the new key.
//
// The upstream is an in-process JWKS server that counts its fetches and answers in
// upstreamDelay, as Better Auth does when it reads its database; the proof that the real Better
// Auth and real betterauthz processes behave so is internal/server's TestSidecarsFetchKeysFromTheRelay.

const (
	relayIssuer   = "https://auth.example.com"
	upstreamDelay = 2 * time.Millisecond
	// checkTimeout is Envoy's default ext_authz timeout: each check a sidecar makes waits at
	// most this long, and is retried until the new key verifies (as clients retry a 503).
	checkTimeout = 200 * time.Millisecond
)

// relayRow is one rotation.
type relayRow struct {
	sidecars      int
	mode          string // "direct" or "through the relay"
	startFetches  int64  // fetches at the upstream to load every sidecar
	rotateFetches int64  // fetches at the upstream from the rotation until every sidecar verified
	relayRequests int64  // requests the relay answered during the rotation
	took          time.Duration
	failedChecks  int64 // checks that answered an error before the new key verified
}

// fakeUpstream serves a JWKS of Ed25519 keys and counts its fetches.
type fakeUpstream struct {
	srv     *httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	doc     string
}

func newFakeUpstream() *fakeUpstream {
	u := &fakeUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		u.fetches.Add(1)
		time.Sleep(upstreamDelay)
		u.mu.Lock()
		doc := u.doc
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc))
	}))
	return u
}

func (u *fakeUpstream) serve(keys map[string]ed25519.PublicKey) {
	var list []string
	for kid, pub := range keys {
		list = append(list, fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":%q,"x":%q}`, kid, base64.RawURLEncoding.EncodeToString(pub)))
	}
	u.mu.Lock()
	u.doc = `{"keys":[` + strings.Join(list, ",") + `]}`
	u.mu.Unlock()
}

func signToken(kid string, key ed25519.PrivateKey) string {
	enc := base64.RawURLEncoding.EncodeToString
	signing := enc([]byte(fmt.Sprintf(`{"alg":"EdDSA","typ":"JWT","kid":%q}`, kid))) + "." +
		enc([]byte(fmt.Sprintf(`{"sub":"u","iss":%q,"aud":%q,"exp":%d}`, relayIssuer, relayIssuer, time.Now().Add(time.Hour).Unix())))
	return signing + "." + enc(ed25519.Sign(key, []byte(signing)))
}

// sidecar is one simulated sidecar: its key set and verifier.
type sidecar struct {
	keys     *jwks.KeySet
	verifier *jwks.Verifier
}

// rotation runs n sidecars through one key rotation, through the relay or not.
func rotation(n int, throughRelay bool) (relayRow, error) {
	row := relayRow{sidecars: n, mode: "direct"}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: every key set has stopped
	defer cancel()
	run := func(ks *jwks.KeySet) { wg.Go(func() { _ = ks.Run(ctx) }) }

	oldPub, oldKey, _ := ed25519.GenerateKey(rand.Reader)
	newPub, newKey, _ := ed25519.GenerateKey(rand.Reader)
	up := newFakeUpstream()
	defer up.srv.Close()
	up.serve(map[string]ed25519.PublicKey{"old": oldPub})

	// One client for all: a sidecar holds one connection to its JWKS, as these do.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n + 1, MaxIdleConns: n + 1}}
	defer client.CloseIdleConnections()
	url := up.srv.URL
	var relayed atomic.Int64
	if throughRelay {
		row.mode = "through the relay"
		central, err := jwks.NewKeySet(jwks.KeySetOptions{URL: up.srv.URL, RefreshInterval: time.Hour, Client: client})
		if err != nil {
			return row, err
		}
		run(central)
		rs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			relayed.Add(1)
			relay.Serve(w, r, central, relay.Options{RefreshInterval: time.Hour})
		}))
		defer rs.Close()
		url = rs.URL + "/jwks"
		if err := waitUntil(10*time.Second, central.Loaded); err != nil {
			return row, errors.New("the central key set did not load")
		}
	}
	sidecars, err := startSidecars(n, url, client, run)
	if err != nil {
		return row, err
	}
	oldToken := signToken("old", oldKey)
	for i, s := range sidecars {
		if _, err := s.verifier.Verify(ctx, oldToken); err != nil {
			return row, fmt.Errorf("sidecar %d refused a token of the key in force: %w", i, err)
		}
	}
	row.startFetches = up.fetches.Load()
	time.Sleep(1100 * time.Millisecond) // past every MinFetchGap: a rotation meets rested key sets

	before, relayedBefore := up.fetches.Load(), relayed.Load()
	up.serve(map[string]ed25519.PublicKey{"old": oldPub, "new": newPub})
	start := time.Now()
	row.failedChecks = verifyAll(ctx, sidecars, signToken("new", newKey))
	row.took = time.Since(start)
	row.rotateFetches = up.fetches.Load() - before
	row.relayRequests = relayed.Load() - relayedBefore
	if row.took >= 30*time.Second {
		return row, fmt.Errorf("%d sidecars %s: not every sidecar verified the new key within 30s", n, row.mode)
	}
	return row, nil
}

// startSidecars starts n sidecars whose key sets fetch url, and waits until all have loaded.
func startSidecars(n int, url string, client *http.Client, run func(*jwks.KeySet)) ([]sidecar, error) {
	sidecars := make([]sidecar, n)
	for i := range sidecars {
		ks, err := jwks.NewKeySet(jwks.KeySetOptions{URL: url, RefreshInterval: time.Hour, Client: client})
		if err != nil {
			return nil, err
		}
		v, err := jwks.NewVerifier(jwks.VerifierOptions{Keys: ks, Issuer: relayIssuer, Audiences: []string{relayIssuer}})
		if err != nil {
			return nil, err
		}
		sidecars[i] = sidecar{keys: ks, verifier: v}
		run(ks)
	}
	loaded := func() bool {
		for _, s := range sidecars {
			if !s.keys.Loaded() {
				return false
			}
		}
		return true
	}
	if err := waitUntil(60*time.Second, loaded); err != nil {
		return nil, fmt.Errorf("%d sidecars: not all loaded", n)
	}
	return sidecars, nil
}

// verifyAll has every sidecar check token at once, each check bounded as Envoy bounds it and
// retried until it verifies (for 30 s at most), and returns how many checks failed meanwhile.
func verifyAll(ctx context.Context, sidecars []sidecar, token string) int64 {
	start := time.Now()
	var failed atomic.Int64
	var check sync.WaitGroup
	for _, s := range sidecars {
		check.Go(func() {
			for ctx.Err() == nil && time.Since(start) < 30*time.Second {
				cctx, cancel := context.WithTimeout(ctx, checkTimeout)
				_, err := s.verifier.Verify(cctx, token)
				cancel()
				if err == nil {
					return
				}
				failed.Add(1)
				time.Sleep(10 * time.Millisecond) // the client's retry
			}
		})
	}
	check.Wait()
	return failed.Load()
}

func waitUntil(within time.Duration, ok func() bool) error {
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// relayScenario runs a rotation for each count of sidecars, direct and through the relay.
func relayScenario(counts []int) ([]relayRow, error) {
	var rows []relayRow
	for _, n := range counts {
		for _, throughRelay := range []bool{false, true} {
			r, err := rotation(n, throughRelay)
			if err != nil {
				return rows, err
			}
			log("relay: %5d sidecars %-18s fetches at start %5d, at the rotation %5d (relay answered %d); every sidecar verified after %s",
				n, r.mode, r.startFetches, r.rotateFetches, r.relayRequests, dur(r.took))
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// relayReport is the scenario's section of docs/benchmarks.md.
func relayReport(rows []relayRow) string {
	var s strings.Builder
	fmt.Fprintf(&s, "\n## JWKS relay: sidecars through a key rotation\n\n")
	fmt.Fprintf(&s, "N sidecars, simulated in one process (each a key set and a verifier, as in a sidecar betterauthz), load their keys, then Better Auth rotates its key and every sidecar gets a token of the new key at once, each check bounded by Envoy's default timeout (200 ms) and retried until it verifies. Direct: each sidecar's `jwksURL` is Better Auth. Through the relay: it is a central betterauthz's `GET /jwks`, which refreshes from Better Auth once for all of them (a sidecar that meets an unknown kid asks the relay with `?kid=`). Better Auth is stood in for by an in-process JWKS server that answers in 2 ms; `TestSidecarsFetchKeysFromTheRelay` in ./internal/server shows the same with the real Better Auth and betterauthz.\n\n")
	fmt.Fprintf(&s, "| sidecars | JWKS | fetches at Better Auth to start | fetches at Better Auth per rotation | requests at the relay | every sidecar verifies the new key after | checks that failed meanwhile |\n|---:|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		relayed := "—"
		if r.mode != "direct" {
			relayed = strconv.FormatInt(r.relayRequests, 10)
		}
		fmt.Fprintf(&s, "| %d | %s | %d | %d | %s | %s | %d |\n", r.sidecars, r.mode, r.startFetches, r.rotateFetches, relayed, dur(r.took), r.failedChecks)
	}
	fmt.Fprintf(&s, "\nThrough the relay, Better Auth sees one fetch per rotation whatever the number of sidecars; the relay answers one request per sidecar. Directly, it sees one per sidecar, all within the same moment.\n")
	return s.String()
}

// parseCounts reads a comma-separated list of positive counts ("" for none).
func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-sidecars: %q is not a positive count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// relayOnly runs the relay scenario alone (`bench relay -sidecars 10,100`) and prints its section.
func relayOnly(args []string) error {
	fs := flag.NewFlagSet("bench relay", flag.ExitOnError)
	sidecars := fs.String("sidecars", "10,100,1000", "counts of simulated sidecars")
	if err := fs.Parse(args); err != nil {
		return err
	}
	counts, err := parseCounts(*sidecars)
	if err != nil {
		return err
	}
	rows, err := relayScenario(counts)
	if err != nil {
		return err
	}
	fmt.Print(relayReport(rows))
	return nil
}
