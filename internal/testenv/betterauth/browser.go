package betterauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// Browser is a client of Better Auth's HTTP API with a cookie jar, as a signed-in browser is:
// it holds the session cookies Better Auth sets.
type Browser struct {
	s      *Server
	jar    *cookiejar.Jar
	client *http.Client
}

// Password is the password every test user signs up with.
const Password = "correct horse battery staple"

// NewBrowser returns a browser with an empty cookie jar.
func (s *Server) NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{s: s, jar: jar, client: &http.Client{Jar: jar}}
}

// SignUp creates a user and signs them in (Better Auth sets the session cookies).
func (b *Browser) SignUp(email, name string) error {
	return b.post("/api/auth/sign-up/email", map[string]any{"email": email, "password": Password, "name": name})
}

// SignIn signs an existing user in.
func (b *Browser) SignIn(email string) error {
	return b.post("/api/auth/sign-in/email", map[string]any{"email": email, "password": Password})
}

// SignOut ends the session (Better Auth deletes it and clears the cookies).
func (b *Browser) SignOut() error { return b.post("/api/auth/sign-out", map[string]any{}) }

// Token is the JWT GET /api/auth/token gives the signed-in browser (authClient.token()).
func (b *Browser) Token() (string, error) {
	resp, err := b.client.Get(b.s.URL + "/api/auth/token")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET /api/auth/token: HTTP %d", resp.StatusCode)
	}
	var out struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out.Token, err
}

// CookieHeader is what the browser sends to Better Auth's site: "name=value; ...".
func (b *Browser) CookieHeader() string {
	u, _ := url.Parse(b.s.URL)
	var parts []string
	for _, c := range b.jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// Cookie is the value of one cookie ("" if absent).
func (b *Browser) Cookie(name string) string {
	u, _ := url.Parse(b.s.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// post sends a JSON POST with the Origin Better Auth requires of state-changing requests.
func (b *Browser) post(path string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, b.s.URL+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.s.BaseURL)
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, msg)
	}
	return nil
}
