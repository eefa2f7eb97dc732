package faultjwks

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// upstream is a tiny real JWKS server: an Ed25519 key first (as Better Auth's default) and a
// P-256 key, counting its requests; status makes it fail on demand.
type upstream struct {
	url      string
	body     []byte
	edKid    string
	edX      string
	requests atomic.Int64
	status   atomic.Int64
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := ec.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{edKid: "real-ed", edX: b64(edPub)}
	u.status.Store(http.StatusOK)
	u.body = encodeSet(
		mustJSON(map[string]string{"alg": "EdDSA", "crv": "Ed25519", "x": u.edX, "kty": "OKP", "kid": u.edKid}),
		mustJSON(map[string]string{"alg": "ES256", "crv": "P-256", "x": b64(pt[1:33]), "y": b64(pt[33:]), "kty": "EC", "kid": "real-ec"}),
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		writeBody(w, int(u.status.Load()), "application/json", u.body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	u.url = "http://" + ln.Addr().String() + "/api/auth/jwks"
	return u
}

func startFault(t *testing.T, up *upstream) *Server {
	t.Helper()
	s, err := Start(up.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// noFollow sees redirects instead of following them.
var noFollow = &http.Client{
	Timeout:       20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	return resp, b
}

// keysOf parses a JWKS the way encoding/json does (the last of duplicate members wins).
func keysOf(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("not a JWKS: %v\n%.300s", err, body)
	}
	return doc.Keys
}

func TestNormalProxiesEveryRequestFresh(t *testing.T) {
	up := startUpstream(t)
	s := startFault(t, up)
	for i := range 3 {
		resp, body := get(t, noFollow, s.URL)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, up.body) {
			t.Fatalf("request %d: HTTP %d %s, want 200 with the upstream's body", i, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
	}
	if n := up.requests.Load(); n != 3 {
		t.Errorf("upstream asked %d times for 3 requests: something cached", n)
	}
	up.status.Store(http.StatusServiceUnavailable)
	if resp, _ := get(t, noFollow, s.URL); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("upstream 503 proxied as %d", resp.StatusCode)
	}
	if got := s.Requests(); got != 4 {
		t.Errorf("Requests() = %d, want 4", got)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || !strings.HasSuffix(s.URL, JWKSPath) || s.CAFile != "" {
		t.Errorf("URL %q CAFile %q", s.URL, s.CAFile)
	}
}

// TestBodies checks each mode that answers at once: its status and what its body is.
func TestBodies(t *testing.T) {
	up := startUpstream(t)
	s := startFault(t, up)
	_, attacker := s.AttackerKey()
	attackerX := b64(attacker.Public().(ed25519.PublicKey))
	real := keysOf(t, up.body)

	tests := map[Mode]func(t *testing.T, status int, body []byte){
		Status500: func(t *testing.T, status int, body []byte) {
			if status != http.StatusInternalServerError {
				t.Errorf("HTTP %d", status)
			}
		},
		Garbage: func(t *testing.T, status int, body []byte) {
			if status != http.StatusOK || string(body) != "<html>not a key set" {
				t.Errorf("HTTP %d %q", status, body)
			}
		},
		Empty: func(t *testing.T, status int, body []byte) {
			if status != http.StatusOK || string(body) != `{"keys":[]}` {
				t.Errorf("HTTP %d %q", status, body)
			}
		},
		Truncated: func(t *testing.T, status int, body []byte) {
			if status != http.StatusOK || !bytes.Equal(body, up.body[:len(up.body)/2]) || json.Valid(body) {
				t.Errorf("HTTP %d %q, want the first half of %q", status, body, up.body)
			}
		},
		Huge: func(t *testing.T, status int, body []byte) {
			if status != http.StatusOK || len(body) < 10<<20 || !json.Valid(body) {
				t.Fatalf("HTTP %d, %d bytes, valid JSON %v", status, len(body), json.Valid(body))
			}
			if keys := keysOf(t, body); len(keys) != len(real) || keys[0]["kid"] != up.edKid {
				t.Errorf("huge document's keys: %v", keys)
			}
		},
		UnsupportedBeside: func(t *testing.T, status int, body []byte) {
			keys := keysOf(t, body)
			if status != http.StatusOK || len(keys) != len(real)+5 {
				t.Fatalf("HTTP %d, %d keys", status, len(keys))
			}
			byKid := map[string]map[string]any{}
			for _, k := range keys {
				byKid[k["kid"].(string)] = k
			}
			if byKid[up.edKid] == nil || byKid["real-ec"] == nil {
				t.Errorf("the real keys are missing: %v", keys)
			}
			if k := byKid[KidOct]; k["kty"] != "oct" || k["k"] == "" {
				t.Errorf("oct key: %v", k)
			}
			if k := byKid[KidEnc]; k["use"] != "enc" || k["kty"] != "EC" {
				t.Errorf("use:enc key: %v", k)
			}
			if k := byKid[KidUnknown]; k["kty"] == "OKP" || k["kty"] == "EC" || k["kty"] == "RSA" || k["kty"] == "oct" {
				t.Errorf("unknown-kty key has a known kty: %v", k)
			}
			n := new(big.Int).SetBytes(decode(t, byKid[KidWeakRSA]["n"]))
			if k := byKid[KidWeakRSA]; k["kty"] != "RSA" || n.BitLen() != 1024 {
				t.Errorf("weak RSA key: %d bits, %v", n.BitLen(), k)
			}
			if _, key := s.WeakRSAKey(); key.N.Cmp(n) != 0 {
				t.Error("WeakRSAKey is not the key served")
			}
			off := byKid[KidOffCurve]
			point := append(append([]byte{4}, decode(t, off["x"])...), decode(t, off["y"])...)
			if _, err := ecdh.P256().NewPublicKey(point); err == nil || off["crv"] != "P-256" {
				t.Errorf("off-curve key is a valid P-256 point: %v", off)
			}
		},
		DuplicateKid: func(t *testing.T, status int, body []byte) {
			keys := keysOf(t, body)
			if status != http.StatusOK || len(keys) != len(real)+1 {
				t.Fatalf("HTTP %d, %d keys", status, len(keys))
			}
			last := keys[len(keys)-1]
			if last["kid"] != up.edKid || last["x"] != attackerX || keys[0]["x"] != up.edX {
				t.Errorf("want the real first key, then the attacker's key under its kid: %v", keys)
			}
		},
		DuplicateKidSame: func(t *testing.T, status int, body []byte) {
			var doc struct{ Keys []json.RawMessage }
			if err := json.Unmarshal(body, &doc); err != nil || status != http.StatusOK || len(doc.Keys) != len(real)+1 {
				t.Fatalf("HTTP %d, %v, %s", status, err, body)
			}
			if !bytes.Equal(doc.Keys[0], doc.Keys[len(doc.Keys)-1]) {
				t.Errorf("last key is not the first repeated:\n%s\n%s", doc.Keys[0], doc.Keys[len(doc.Keys)-1])
			}
		},
		DuplicateMember: func(t *testing.T, status int, body []byte) {
			keys := keysOf(t, body)
			if status != http.StatusOK || len(keys) != len(real) {
				t.Fatalf("HTTP %d, %d keys", status, len(keys))
			}
			if keys[0]["x"] != up.edX {
				t.Errorf("last-wins parse of the first key's x = %v, want the real %v", keys[0]["x"], up.edX)
			}
			names := memberNames(t, body)
			if names["x"] != 2 {
				t.Errorf("first key's members %v: want x twice", names)
			}
			if first := firstX(t, body); first != attackerX {
				t.Errorf("first x = %q, want the attacker's key", first)
			}
		},
	}
	for mode, check := range tests {
		t.Run(mode.String(), func(t *testing.T) {
			s.Set(mode)
			resp, body := get(t, noFollow, s.URL)
			check(t, resp.StatusCode, body)
		})
	}
}

func TestRedirectLeadsToAnAttackerKeySet(t *testing.T) {
	up := startUpstream(t)
	s := startFault(t, up)
	s.Set(Redirect)
	resp, _ := get(t, noFollow, s.URL)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != RedirectTarget {
		t.Fatalf("HTTP %d Location %q, want 302 to %s", resp.StatusCode, resp.Header.Get("Location"), RedirectTarget)
	}
	if s.RedirectsFollowed() != 0 {
		t.Fatal("counted a redirect nobody followed")
	}
	resp, body := get(t, &http.Client{Timeout: 20 * time.Second}, s.URL)
	keys := keysOf(t, body)
	kid, key := s.AttackerKey()
	if resp.StatusCode != http.StatusOK || len(keys) != 3 || keys[2]["kid"] != kid {
		t.Fatalf("HTTP %d, keys %v: want the real two and the attacker's", resp.StatusCode, keys)
	}
	// The served public key is the attacker's: its signatures verify against it.
	pub := ed25519.PublicKey(decode(t, keys[2]["x"]))
	if !ed25519.Verify(pub, []byte("msg"), ed25519.Sign(key, []byte("msg"))) {
		t.Error("AttackerKey does not match the key served")
	}
	if s.RedirectsFollowed() != 1 || s.Requests() != 2 {
		t.Errorf("RedirectsFollowed %d Requests %d, want 1 and 2", s.RedirectsFollowed(), s.Requests())
	}
}

func TestHangUntilTheClientLeavesOrClose(t *testing.T) {
	up := startUpstream(t)
	s := startFault(t, up)
	s.Set(Hang)
	start := time.Now()
	_, err := (&http.Client{Timeout: 300 * time.Millisecond}).Get(s.URL)
	if err == nil || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("hang answered: %v after %s", err, time.Since(start))
	}
	var nerr net.Error
	if !errors.As(err, &nerr) || !nerr.Timeout() {
		t.Errorf("want a timeout, got %v", err)
	}

	// Close ends a hanging answer too, and does not wait for the client to give up.
	done := make(chan error, 1)
	go func() {
		_, err := (&http.Client{Timeout: time.Minute}).Get(s.URL)
		done <- err
	}()
	for s.Requests() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waited for a hanging answer")
	}
	if err := <-done; err == nil {
		t.Error("the hanging request got an answer")
	}
}

func TestSlowDripSendsHeadersThenOneByteAtATime(t *testing.T) {
	up := startUpstream(t)
	s := startFault(t, up)
	s.Set(SlowDrip)
	start := time.Now()
	resp, err := (&http.Client{Timeout: time.Minute}).Get(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || time.Since(start) > time.Second {
		t.Fatalf("HTTP %d after %s, want 200 headers at once", resp.StatusCode, time.Since(start))
	}
	if resp.ContentLength != int64(len(up.body)) {
		t.Errorf("Content-Length %d, want the real body's %d", resp.ContentLength, len(up.body))
	}
	start = time.Now()
	head := make([]byte, 3)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 3*dripEvery-50*time.Millisecond || took > 10*dripEvery {
		t.Errorf("3 bytes took %s, want about %s", took, 3*dripEvery)
	}
	if !bytes.Equal(head, up.body[:3]) {
		t.Errorf("dripped %q, want the real body's start %q", head, up.body[:3])
	}
}

func TestResetIsAConnectionReset(t *testing.T) {
	up := startUpstream(t)
	s := startFault(t, up)
	s.Set(Reset)
	_, err := noFollow.Get(s.URL)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("got %v, want connection reset by peer", err)
	}
	// Back to normal on the next request.
	s.Set(Normal)
	if resp, _ := get(t, noFollow, s.URL); resp.StatusCode != http.StatusOK {
		t.Errorf("after Reset, Normal answered %d", resp.StatusCode)
	}
}

func TestTLSWithItsCA(t *testing.T) {
	up := startUpstream(t)
	dir := t.TempDir()
	s, err := StartTLS(up.url, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") || !strings.HasPrefix(s.CAFile, dir) {
		t.Fatalf("URL %q CAFile %q", s.URL, s.CAFile)
	}
	pemBytes, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("CAFile holds no certificate")
	}
	trusting := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	for _, url := range []string{s.URL, strings.Replace(s.URL, "127.0.0.1", "localhost", 1)} {
		resp, body := get(t, trusting, url)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(body, up.body) || resp.TLS == nil {
			t.Errorf("%s: HTTP %d %s", url, resp.StatusCode, body)
		}
	}
	// The CA is what makes it trusted: the system roots do not know it.
	_, err = (&http.Client{Timeout: 20 * time.Second}).Get(s.URL)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("without the CA: %v, want an unknown authority", err)
	}
	// Reset works under TLS too (HTTP/1.1 only, so the connection can be hijacked).
	s.Set(Reset)
	if _, err := trusting.Get(s.URL); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("Reset under TLS: %v, want connection reset by peer", err)
	}
}

func TestUpstreamDownIsNotTheFault(t *testing.T) {
	up := startUpstream(t)
	s := startFault(t, up)
	up.status.Store(http.StatusInternalServerError)
	// A mode built from the real keys answers 502, not a fault body without them.
	for _, m := range []Mode{Truncated, Huge, UnsupportedBeside, DuplicateKid, DuplicateMember} {
		s.Set(m)
		if resp, _ := get(t, noFollow, s.URL); resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s with the upstream down: HTTP %d, want 502", m, resp.StatusCode)
		}
	}
	s.Set(Mode(99))
	if resp, _ := get(t, noFollow, s.URL); resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("unknown mode: HTTP %d", resp.StatusCode)
	}
}

func TestModeNames(t *testing.T) {
	seen := map[string]bool{}
	faults := Faults()
	if len(faults) != int(numModes)-1 || faults[0] == Normal {
		t.Fatalf("Faults() = %v", faults)
	}
	for m := Normal; m < numModes; m++ {
		name := m.String()
		if name == "" || strings.HasPrefix(name, "Mode(") || seen[name] {
			t.Errorf("mode %d named %q", int(m), name)
		}
		seen[name] = true
	}
}

func decode(t *testing.T, v any) []byte {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64url: %q", v)
	}
	return b
}

// memberNames counts the member names of the set's first key, duplicates included (which
// encoding/json's Unmarshal cannot see).
func memberNames(t *testing.T, body []byte) map[string]int {
	t.Helper()
	counts := map[string]int{}
	forFirstKeyMembers(t, body, func(name string, value any) { counts[name]++ })
	return counts
}

// firstX is the first "x" member of the set's first key, as a first-wins parser would read it.
func firstX(t *testing.T, body []byte) string {
	t.Helper()
	var x string
	forFirstKeyMembers(t, body, func(name string, value any) {
		if s, ok := value.(string); ok && name == "x" && x == "" {
			x = s
		}
	})
	return x
}

// forFirstKeyMembers walks the first key object's members in order with a token decoder.
func forFirstKeyMembers(t *testing.T, body []byte, f func(name string, value any)) {
	t.Helper()
	var doc struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Keys) == 0 {
		t.Fatalf("no keys: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(doc.Keys[0]))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var value any
		if err := dec.Decode(&value); err != nil {
			t.Fatal(err)
		}
		f(name.(string), value)
	}
}
