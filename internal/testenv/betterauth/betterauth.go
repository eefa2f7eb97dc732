// Package betterauth runs the repository's real Better Auth server (test/betterauth, npm
// better-auth pinned in its package-lock.json, on Node) for tests, and mints tokens from it.
//
// The Node packages are installed on first use (npm ci, under a file lock so that test packages
// running in parallel install once). Without node or npm the tests fail: they never skip.
package betterauth

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Server is a running Better Auth test server.
type Server struct {
	// URL is Better Auth's base URL (its origin), e.g. http://127.0.0.1:41234.
	URL string
	// Port it listens on.
	Port int
	// BaseURL is Better Auth's baseURL: URL unless StartOptions.BaseURL put it behind a proxy.
	BaseURL string

	cmd    *exec.Cmd
	client *http.Client
	done   chan struct{}
	mu     sync.Mutex
	output bytes.Buffer
}

// Dir is the folder holding server.mjs, found from the module root.
func Dir() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "test", "betterauth"), nil
}

// ModuleRoot is the directory holding the main go.mod, found by walking up from the working
// directory (go test runs in the package's folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/betterauthz/betterauthz\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("betterauth: cannot find the betterauthz module root above the working directory")
		}
		dir = parent
	}
}

// Install makes sure test/betterauth/node_modules matches package-lock.json: it runs npm ci
// unless every dependency is installed at the version package.json pins.
func Install() error {
	dir, err := Dir()
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("node"); err != nil {
		return errors.New("betterauth: node is not installed; the tests need Node 20+ to run the real Better Auth server (.ci/run installs it)")
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("betterauth: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("betterauth: lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if installed(dir) {
		return nil
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("betterauth: npm ci in %s: %v\n%s", dir, err, out)
	}
	return nil
}

// installed reports whether node_modules holds every dependency of package.json at the exact
// version pinned there (a tree installed before a bump is installed again).
func installed(dir string) bool {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil {
		return false
	}
	for name, want := range pkg.Dependencies {
		var dep struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil || json.Unmarshal(b, &dep) != nil || dep.Version != want {
			return false
		}
	}
	return true
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs a Better Auth server on a free loopback port.
func Start() (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return StartOnPort(port)
}

// StartOptions choose how the server's own HTTP API (sign-in, get-session) is configured.
type StartOptions struct {
	// CookieCache turns on the JWT session cookie cache (session.cookieCache strategy "jwt",
	// jwt({ sessionCookieCache: true })) for the HTTP API's sessions, with this maxAge.
	CookieCache time.Duration
	// BaseURL is Better Auth's baseURL, when browsers reach it through a proxy at another
	// address (default: its own URL). Its origin is the one Better Auth trusts and sets
	// cookies for, and the iss of what it signs.
	BaseURL string
	// Port to listen on (default: a free one).
	Port int
	// Host is the address to listen on (default 127.0.0.1), e.g. a real node's address that
	// its pods reach (internal/testenv/realnode).
	Host string
	// Wrap is put before the node command, e.g. nsenter --net=PATH to run the server inside a
	// network namespace; HTTPClient then reaches it there (default: http.DefaultClient).
	Wrap       []string
	HTTPClient *http.Client
	// Plugins adds the organization, anonymous, API key and OAuth provider (MCP) plugins and
	// an MCP server (test/betterauth/plugins.mjs), driven by the functions of plugins.go.
	Plugins bool
	// OpaqueAccessTokens (with Plugins) runs the OAuth provider without the JWT plugin
	// (disableJwtPlugin): every access token is opaque, and introspection answers the resources
	// it was issued for as its aud.
	OpaqueAccessTokens bool
}

// StartWith runs a Better Auth server on a free loopback port, configured by o.
func StartWith(o StartOptions) (*Server, error) {
	port := o.Port
	if port == 0 {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	return startOnPort(port, o)
}

// StartOnPort runs a Better Auth server on the given loopback port and waits until it answers.
func StartOnPort(port int) (*Server, error) { return startOnPort(port, StartOptions{}) }

func startOnPort(port int, o StartOptions) (*Server, error) {
	if err := Install(); err != nil {
		return nil, err
	}
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	host := cmp.Or(o.Host, "127.0.0.1")
	s := &Server{URL: "http://" + net.JoinHostPort(host, strconv.Itoa(port)), Port: port, done: make(chan struct{})}
	s.client = cmp.Or(o.HTTPClient, http.DefaultClient)
	s.BaseURL = cmp.Or(o.BaseURL, s.URL)
	argv := append(append([]string{}, o.Wrap...), "node", filepath.Join(dir, "server.mjs"))
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Dir = dir
	s.cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "HOST="+host, "BETTER_AUTH_URL="+s.BaseURL)
	if o.CookieCache > 0 {
		s.cmd.Env = append(s.cmd.Env, "COOKIE_CACHE_MAX_AGE="+strconv.Itoa(int(o.CookieCache.Seconds())))
	}
	if o.Plugins {
		s.cmd.Env = append(s.cmd.Env, "TEST_PLUGINS=1")
	}
	if o.OpaqueAccessTokens {
		s.cmd.Env = append(s.cmd.Env, "TEST_OAUTH_OPAQUE=1")
	}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("betterauth: start node: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.output.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	go func() {
		_ = s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("betterauth: server exited at start:\n%s", s.Output())
		default:
		}
		resp, err := s.client.Get(s.URL + "/__test/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("betterauth: server did not answer within 30s:\n%s", s.Output())
}

// Output is what the server printed.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.output.String()
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-s.done
}

// JWKSURL is Better Auth's default JWKS address.
func (s *Server) JWKSURL() string { return s.URL + "/api/auth/jwks" }

// MintOptions choose the Better Auth JWT plugin options a token is minted under, and the user.
// Zero values are Better Auth's defaults (EdDSA, 15m, iss = aud = the base URL's origin).
type MintOptions struct {
	Alg            string         `json:"alg,omitempty"`            // EdDSA, ES256, ES512, RS256, PS256
	ExpirationTime string         `json:"expirationTime,omitempty"` // jwt.expirationTime, e.g. "-10m"
	Issuer         string         `json:"issuer,omitempty"`         // jwt.issuer
	Audience       any            `json:"audience,omitempty"`       // jwt.audience: string or []string
	Claims         map[string]any `json:"claims,omitempty"`         // added by jwt.definePayload
	Email          string         `json:"email,omitempty"`          // default: a new user
	Name           *string        `json:"name,omitempty"`           // default "Test User"
	User           map[string]any `json:"user,omitempty"`           // user row fields, e.g. role
	// SessionCookieCache turns on the session-cache cookie JWT, returned in SessionCacheToken.
	SessionCookieCache bool `json:"sessionCookieCache,omitempty"`
}

// Minted is what a signed-in client holds.
type Minted struct {
	Token             string `json:"token"`        // JWT from GET /api/auth/token
	SessionToken      string `json:"sessionToken"` // opaque session token (bearer plugin)
	SessionCacheToken string `json:"sessionCacheToken"`
	UserID            string `json:"userId"`
	Email             string `json:"email"`
}

// Mint signs a user in and returns their tokens.
func (s *Server) Mint(o MintOptions) (*Minted, error) {
	var m Minted
	if err := s.control("/__test/token", o, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// Tokens returns count distinct tokens for distinct users, signed by Better Auth's JWT plugin
// (its server-side signJWT) with alg.
func (s *Server) Tokens(alg string, count int) ([]string, error) {
	var out struct {
		Tokens []string `json:"tokens"`
	}
	err := s.control("/__test/tokens", map[string]any{"alg": alg, "count": count}, &out)
	return out.Tokens, err
}

// UserTokens is Tokens with the payload GET /api/auth/token signs for a signed-up user (the
// whole user row: name, email, emailVerified, createdAt, updatedAt, the admin plugin's role and
// banned, id; then sub, iat, exp, iss, aud), without signing count users up.
func (s *Server) UserTokens(alg string, count int) ([]string, error) {
	var out struct {
		Tokens []string `json:"tokens"`
	}
	err := s.control("/__test/tokens", map[string]any{"alg": alg, "count": count, "users": true}, &out)
	return out.Tokens, err
}

// Rotate expires the live signing keys of alg (default EdDSA) as Better Auth's rotationInterval
// would: the next token is signed by a new key; the old one stays in the JWKS for its grace.
func (s *Server) Rotate(alg string) error {
	return s.control("/__test/rotate", map[string]any{"alg": alg}, nil)
}

// RetireKid ends a key's grace period: it leaves the JWKS.
func (s *Server) RetireKid(kid string) error {
	return s.control("/__test/retire", map[string]any{"kid": kid}, nil)
}

// RetireAll ends every key's grace period: the JWKS becomes {"keys":[]} until the next token.
func (s *Server) RetireAll() error {
	return s.control("/__test/retire", map[string]any{"all": true}, nil)
}

// JWKS modes for SetJWKSMode.
const (
	JWKSNormal  = "normal"
	JWKSDown    = "down"    // 503
	JWKSGarbage = "garbage" // 200 with a body that is not JSON
	JWKSSlow    = "slow"    // answers after 5s
)

// SetJWKSMode makes the JWKS endpoint misbehave (or behave again).
func (s *Server) SetJWKSMode(mode string) error {
	return s.control("/__test/jwks-mode", map[string]any{"mode": mode}, nil)
}

// Ban does what the admin plugin's banUser does: marks the user banned, ends their sessions.
func (s *Server) Ban(email string) error {
	return s.control("/__test/ban", map[string]any{"email": email}, nil)
}

// Session modes for SetSessionMode.
const (
	SessionNormal = "normal"
	SessionDown   = "down" // get-session answers 503
	SessionSlow   = "slow" // get-session answers after 5s
)

// SetSessionMode makes get-session misbehave (or behave again).
func (s *Server) SetSessionMode(mode string) error {
	return s.control("/__test/session-mode", map[string]any{"mode": mode}, nil)
}

// GetSessions is how many times get-session has been requested.
func (s *Server) GetSessions() (int, error) {
	var st struct {
		GetSessions int `json:"getSessions"`
	}
	err := s.control("/__test/stats", nil, &st)
	return st.GetSessions, err
}

// JWKSFetches is how many times the JWKS endpoint has been requested.
func (s *Server) JWKSFetches() (int, error) {
	var st struct {
		JWKSFetches int `json:"jwksFetches"`
	}
	err := s.control("/__test/stats", nil, &st)
	return st.JWKSFetches, err
}

func (s *Server) control(path string, body, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	method, rd := http.MethodGet, io.Reader(nil)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		method, rd = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("betterauth %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("betterauth %s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// RunTests is a TestMain body for packages that share one Better Auth server: it starts the
// server into *s, runs the tests, then calls each of cleanups and stops the server. It fails
// the run (exit 1) when the server cannot start: the tests never skip.
func RunTests(m interface{ Run() int }, s **Server, cleanups ...func()) int {
	var err error
	if *s, err = Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	(*s).Stop()
	return code
}
