package proxies

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Upstream is an app that records every request it receives and answers 200 "upstream".
type Upstream struct {
	Addr string // 127.0.0.1:PORT
	URL  string // http://Addr

	srv  *httptest.Server
	mu   sync.Mutex
	reqs []Received
}

// Received is one request as the app got it.
type Received struct {
	Method string
	URI    string // the request target as received: path and query, not normalised
	Host   string
	Header http.Header // canonical names as Go's server keeps them ("X_user_id" stays distinct)
}

// NewUpstream starts an Upstream on a loopback port; it closes with the test.
func NewUpstream(t testing.TB) *Upstream {
	u := &Upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck
		u.mu.Lock()
		u.reqs = append(u.reqs, Received{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()})
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream") //nolint:errcheck
	}))
	t.Cleanup(u.srv.Close)
	u.URL = u.srv.URL
	u.Addr = strings.TrimPrefix(u.srv.URL, "http://")
	return u
}

// Requests returns what the app received since the last Reset, in order.
func (u *Upstream) Requests() []Received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Received(nil), u.reqs...)
}

// Reset forgets the requests received so far.
func (u *Upstream) Reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reqs = nil
}

// Names lists a request's header names, sorted, for messages.
func (r Received) Names() string {
	var names []string
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// Response is what a client got.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Send writes one HTTP/1.1 request to addr exactly as given — target unparsed and unnormalised
// (`//admin`, `/a/%2e%2e/b`), headers in the order of their names — and reads the answer.
// Without a Host in h, Host is app.example.com.
func Send(t testing.TB, addr, method, target string, h http.Header) Response {
	t.Helper()
	return SendBody(t, addr, method, target, h, "")
}

// SendBody is Send with a request body (and its Content-Length).
func SendBody(t testing.TB, addr, method, target string, h http.Header, body string) Response {
	t.Helper()
	resp, err := send(addr, method, target, h, body)
	if err != nil {
		t.Fatalf("%s %s via %s: %v", method, target, addr, err)
	}
	return resp
}

func send(addr, method, target string, h http.Header, body string) (Response, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return Response{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second)) //nolint:errcheck
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, target)
	if h.Get("Host") == "" {
		b.WriteString("Host: app.example.com\r\n")
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(body)
	if _, err := io.WriteString(c, b.String()); err != nil {
		return Response{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(got)}, err
}
