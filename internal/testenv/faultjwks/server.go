package faultjwks

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Paths served.
const (
	// JWKSPath is the JWKS address: URL ends with it.
	JWKSPath = "/jwks"
	// RedirectTarget is where Redirect points, a path on the same server.
	RedirectTarget = "/moved/jwks"
)

const (
	// dripEvery is SlowDrip's pace: a 1 KiB key set takes minutes.
	dripEvery = 200 * time.Millisecond
	// upstreamTimeout bounds one upstream fetch, so that a stuck upstream cannot make every
	// mode hang.
	upstreamTimeout = 10 * time.Second
)

// Server is a running fault JWKS server.
type Server struct {
	// URL is the JWKS address, e.g. http://127.0.0.1:41234/jwks.
	URL string
	// CAFile is the PEM file of the CA that issued the server's certificate (StartTLS only;
	// empty for Start). Point a client's roots (or SSL_CERT_FILE) at it.
	CAFile string

	upstream string
	client   *http.Client
	keys     *keys

	mode      atomic.Int64 // a Mode
	requests  atomic.Int64 // to JWKSPath
	followed  atomic.Int64 // to RedirectTarget
	srv       *http.Server
	closed    chan struct{} // closed by Close: ends hanging and dripping answers
	closeOnce sync.Once
	handlers  sync.WaitGroup
	serveDone chan struct{}
}

// Start serves HTTP on a free loopback port, proxying to upstream (the real JWKS URL) in
// Normal mode, which it starts in.
func Start(upstream string) (*Server, error) {
	return start(upstream, nil)
}

// StartTLS is Start over HTTPS: the certificate (ECDSA P-256, for 127.0.0.1 and localhost) is
// issued by a CA generated here, whose certificate is written into dir; CAFile names it.
func StartTLS(upstream, dir string) (*Server, error) {
	p, err := newPKI()
	if err != nil {
		return nil, err
	}
	s, err := start(upstream, p)
	if err != nil {
		return nil, err
	}
	if s.CAFile, err = p.writeCA(dir, s.URL); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func start(upstream string, p *pki) (*Server, error) {
	k, err := newKeys()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultjwks: listen: %w", err)
	}
	scheme := "http"
	if p != nil {
		scheme = "https"
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil // the upstream is local; a proxy from the environment must not apply
	s := &Server{
		URL:      fmt.Sprintf("%s://%s%s", scheme, ln.Addr(), JWKSPath),
		upstream: upstream,
		client: &http.Client{
			Transport: transport,
			Timeout:   upstreamTimeout,
			// The upstream's own redirects are passed on, not followed: Normal is a proxy.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		keys:      k,
		closed:    make(chan struct{}),
		serveDone: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(JWKSPath, s.track(s.serveJWKS))
	mux.HandleFunc(RedirectTarget, s.track(s.serveMoved))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: discardLog()}
	// HTTP/1.1 only, TLS included: Reset hijacks the connection, which HTTP/2 cannot.
	s.srv.Protocols = new(http.Protocols)
	s.srv.Protocols.SetHTTP1(true)
	if p != nil {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{p.leaf}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, s.srv.TLSConfig)
	}
	go func() {
		defer close(s.serveDone)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

// Set makes requests that arrive from now on be answered in mode m.
func (s *Server) Set(m Mode) { s.mode.Store(int64(m)) }

// Requests counts the requests to the JWKS path so far, whatever the mode.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// RedirectsFollowed counts the requests to Redirect's target: each is a client that followed
// the redirect to the attacker's key set.
func (s *Server) RedirectsFollowed() int { return int(s.followed.Load()) }

// Close stops the server: hanging and dripping answers end, connections close. It returns
// once every handler has returned.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		// Connections first, then the handlers: a hanging handler that returned while its
		// connection was still open would send an empty 200.
		_ = s.srv.Close()
		close(s.closed)
		<-s.serveDone
		s.handlers.Wait()
		s.client.CloseIdleConnections()
	})
}

// track counts h's running calls, so Close can wait for them.
func (s *Server) track(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		h(w, r)
	}
}

func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	// The request is read in full before any mode answers, so that even Hang and Reset have
	// seen everything the client sent.
	_, _ = io.Copy(io.Discard, r.Body)
	m := Mode(s.mode.Load())
	switch m {
	case Normal:
		s.proxy(w, r)
	case Status500:
		writeBody(w, http.StatusInternalServerError, "application/json", []byte(`{"error":"faultjwks: status500 mode"}`))
	case Hang:
		s.wait(r.Context(), -1)
	case Garbage:
		writeBody(w, http.StatusOK, "application/json", []byte("<html>not a key set"))
	case Empty:
		writeBody(w, http.StatusOK, "application/json", []byte(`{"keys":[]}`))
	case Redirect:
		http.Redirect(w, r, RedirectTarget, http.StatusFound)
	case Reset:
		reset(w)
	case SlowDrip, Truncated, Huge, UnsupportedBeside, DuplicateKid, DuplicateKidSame, DuplicateMember:
		s.derived(w, r, m)
	default:
		http.Error(w, fmt.Sprintf("faultjwks: unknown mode %d", int(m)), http.StatusInternalServerError)
	}
}

// serveMoved is Redirect's target: the real keys plus the attacker's.
func (s *Server) serveMoved(w http.ResponseWriter, r *http.Request) {
	s.followed.Add(1)
	real, ok := s.realKeys(w, r)
	if !ok {
		return
	}
	writeBody(w, http.StatusOK, "application/json", s.keys.withAttacker(real))
}

// proxy answers with a fresh copy of the upstream's answer.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request) {
	status, ctype, body, err := s.fetch(r.Context())
	if err != nil {
		http.Error(w, "faultjwks: upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	writeBody(w, status, ctype, body)
}

// derived answers the modes whose body is built from the real one.
func (s *Server) derived(w http.ResponseWriter, r *http.Request, m Mode) {
	if m == SlowDrip || m == Truncated {
		status, ctype, body, err := s.fetch(r.Context())
		if err != nil || status != http.StatusOK {
			http.Error(w, fmt.Sprintf("faultjwks: upstream: HTTP %d %v", status, err), http.StatusBadGateway)
			return
		}
		if m == Truncated {
			writeBody(w, http.StatusOK, ctype, body[:len(body)/2])
		} else {
			s.drip(w, r, ctype, body)
		}
		return
	}
	real, ok := s.realKeys(w, r)
	if !ok {
		return
	}
	switch m {
	case Huge:
		s.writeHuge(w, real)
	case UnsupportedBeside:
		writeBody(w, http.StatusOK, "application/json", s.keys.unsupportedBeside(real))
	case DuplicateKid:
		writeBody(w, http.StatusOK, "application/json", s.keys.duplicateKid(real))
	case DuplicateKidSame:
		writeBody(w, http.StatusOK, "application/json", duplicateKidSame(real))
	case DuplicateMember:
		writeBody(w, http.StatusOK, "application/json", s.keys.duplicateMember(real))
	}
}

// realKeys fetches the upstream's keys; on failure it answers 502 and returns false, so that an
// upstream outage never passes for the fault under test.
func (s *Server) realKeys(w http.ResponseWriter, r *http.Request) ([]json.RawMessage, bool) {
	status, _, body, err := s.fetch(r.Context())
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("HTTP %d", status)
	}
	var keys []json.RawMessage
	if err == nil {
		keys, err = parseKeys(body)
	}
	if err != nil {
		http.Error(w, "faultjwks: upstream: "+err.Error(), http.StatusBadGateway)
		return nil, false
	}
	return keys, true
}

// fetch gets the upstream JWKS, never from a cache.
func (s *Server) fetch(ctx context.Context) (status int, contentType string, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.upstream, nil)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, "", nil, err
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, nil
}

// drip sends body one byte every dripEvery, flushing each, until done, the client leaves or
// Close.
func (s *Server) drip(w http.ResponseWriter, r *http.Request, ctype string, body []byte) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if rc.Flush() != nil {
		return
	}
	for i := range body {
		if !s.wait(r.Context(), dripEvery) {
			return
		}
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// writeHuge streams Huge's document, so that it is never held whole in memory. A client that
// stops reading ends it with a failed write.
func (s *Server) writeHuge(w http.ResponseWriter, real []json.RawMessage) {
	prefix, padLen, suffix := huge(real)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(prefix)+padLen+len(suffix)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(prefix); err != nil {
		return
	}
	chunk := make([]byte, 64<<10)
	for i := range chunk {
		chunk[i] = 'a'
	}
	for left := padLen; left > 0; left -= len(chunk) {
		if _, err := w.Write(chunk[:min(left, len(chunk))]); err != nil {
			return
		}
	}
	_, _ = w.Write(suffix)
}

// wait blocks for d (forever if d < 0) and reports whether the time passed: false when the
// client left or the server closed first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}

func writeBody(w http.ResponseWriter, status int, ctype string, body []byte) {
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
