package tasks_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// example is scripts/example.sh (what `make example` runs) on free loopback ports: the bundled
// Better Auth, the Task API on the system's Python, nginx running examples/tasks/nginx.conf,
// and betterauthz in HTTP check mode.
type example struct {
	URL    string // nginx: the one address a client is meant to use
	AppURL string // the app itself, which only nginx should reach
	Work   string // EXAMPLE_WORK: logs, the database, app-requests.jsonl
	Out    *syncBuffer
	root   string
}

// requireDeps installs nginx and the Python packages when missing (scripts/system-deps.sh
// example: apt-get, as root or through sudo). Where they cannot be installed the test skips —
// except under CI, where `make test` has installed them and a skip would hide a broken install.
func requireDeps(t *testing.T, root string) {
	t.Helper()
	cmd := exec.Command("./scripts/system-deps.sh", "example")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("the Task example needs nginx and a python3 with fastapi, sqlmodel and uvicorn (Debian: python3-fastapi python3-uvicorn python3-sqlmodel), and scripts/system-deps.sh could not install them: %v\n%s", err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

func startExample(t *testing.T) *example {
	t.Helper()
	root, err := betterauth.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	requireDeps(t, root)
	if err := betterauth.Install(); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "betterauthz")
	build := exec.Command("go", "build", "-o", bin, "./cmd/betterauthz")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ports := map[string]int{}
	for _, name := range []string{"EXAMPLE_PORT", "EXAMPLE_AUTH_PORT", "EXAMPLE_APP_PORT", "EXAMPLE_CHECK_PORT", "EXAMPLE_GRPC_PORT", "EXAMPLE_HTTP_PORT"} {
		if ports[name], err = betterauth.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	e := &example{
		URL:    fmt.Sprintf("http://127.0.0.1:%d", ports["EXAMPLE_PORT"]),
		AppURL: fmt.Sprintf("http://127.0.0.1:%d", ports["EXAMPLE_APP_PORT"]),
		Work:   t.TempDir(),
		Out:    &syncBuffer{},
		root:   root,
	}
	cmd := exec.Command("./scripts/example.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "BETTERAUTHZ_BIN="+bin, "EXAMPLE_WORK="+e.Work)
	for name, port := range ports {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", name, port))
	}
	cmd.Stdout, cmd.Stderr = e.Out, e.Out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// The script's trap stops what it started; the whole group, should it not.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			e.logLogs(t)
		}
	})
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(e.Out.String(), "==> ready:") {
		select {
		case <-done:
			t.Fatalf("scripts/example.sh exited before it was ready:\n%s", e.Out.String())
		case <-deadline:
			t.Fatalf("scripts/example.sh not ready within 2 minutes:\n%s", e.Out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return e
}

// logLogs shows what the script and each server wrote (none of them logs a token or a cookie).
func (e *example) logLogs(t *testing.T) {
	t.Logf("scripts/example.sh:\n%s", e.Out.String())
	for _, name := range []string{"better-auth.log", "app.log", "nginx.log", "nginx-access.log", "betterauthz.log", "app-requests.jsonl"} {
		b, _ := os.ReadFile(filepath.Join(e.Work, name))
		t.Logf("%s:\n%s", name, b)
	}
}

// record is one line of the app's request log (TASKS_REQUEST_LOG).
type record struct {
	Method        string  `json:"method"`
	Path          string  `json:"path"`
	Status        int     `json:"status"`
	XUserID       *string `json:"x_user_id"`
	Authorization bool    `json:"authorization"`
	Cookie        bool    `json:"cookie"`
	APIKey        bool    `json:"api_key"`
}

// AppRequests is every request the app has received, in order.
func (e *example) AppRequests(t *testing.T) []record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Work, "app-requests.jsonl"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("app-requests.jsonl: %v: %s", err, sc.Text())
		}
		out = append(out, r)
	}
	return out
}

// task is the app's TaskRead.
type task struct {
	ID     int    `json:"id"`
	Title  string `json:"title"`
	Done   bool   `json:"done"`
	UserID string `json:"user_id"`
}

// clientResult is what examples/tasks/client.mjs prints.
type clientResult struct {
	User struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Client runs examples/tasks/client.mjs, the example's frontend, against nginx.
func (e *example) Client(t *testing.T, email string, args ...string) clientResult {
	t.Helper()
	cmd := exec.Command("node", append([]string{"examples/tasks/client.mjs", "--url", e.URL, email, email + "-password"}, args...)...)
	cmd.Dir = e.root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var r clientResult
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		t.Fatalf("client.mjs %s %v: %v (%v)\n%s%s", email, args, err, jerr, out, stderr.String())
	}
	return r
}

// ClientKey runs client.mjs with an API key instead of a user.
func (e *example) ClientKey(t *testing.T, key string, args ...string) clientResult {
	t.Helper()
	cmd := exec.Command("node", append([]string{"examples/tasks/client.mjs", "--url", e.URL, "--api-key", key}, args...)...)
	cmd.Dir = e.root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var r clientResult
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		t.Fatalf("client.mjs --api-key %v: %v (%v)\n%s%s", args, err, jerr, out, stderr.String())
	}
	return r
}

// session is a user signed in through nginx, as the seed's frontend is: the session cookie,
// then GET /api/auth/token for the JWT.
type session struct {
	UserID       string
	JWT          string
	SessionToken string // Better Auth's opaque session token (never a valid Bearer here)
}

func (e *example) SignIn(t *testing.T, email string) session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, email+"-password")
	req, _ := http.NewRequest("POST", e.URL+"/api/auth/sign-in/email", strings.NewReader(body))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("origin", e.URL)
	var in struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	doJSON(t, c, req, &in)
	req, _ = http.NewRequest("GET", e.URL+"/api/auth/token", nil)
	var tok struct {
		Token string `json:"token"`
	}
	doJSON(t, c, req, &tok)
	if tok.Token == "" || in.User.ID == "" || in.Token == "" {
		t.Fatalf("sign-in of %s gave no user, session or JWT", email)
	}
	return session{UserID: in.User.ID, JWT: tok.Token, SessionToken: in.Token}
}

func doJSON(t *testing.T, c *http.Client, req *http.Request, v any) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
}

// response is an HTTP answer, read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one request (Authorization: Bearer jwt when jwt is set) with the extra headers.
func Do(t *testing.T, method, url, jwt string, header http.Header, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs // as given: X_User_Id must not be canonicalised
	}
	if body != "" {
		req.Header.Set("content-type", "application/json")
	}
	if jwt != "" {
		req.Header.Set("authorization", "Bearer "+jwt)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func tasksOf(t *testing.T, b []byte) []task {
	t.Helper()
	var ts []task
	if err := json.Unmarshal(b, &ts); err != nil {
		t.Fatalf("not a task list: %v: %s", err, b)
	}
	return ts
}

// syncBuffer collects a process's output for concurrent reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
