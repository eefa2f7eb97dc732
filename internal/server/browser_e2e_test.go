package server_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/chromium"
	"github.com/betterauthz/betterauthz/internal/testenv/proxies"
)

// signInPage is the app's sign-in page: it signs in the way Better Auth's client does (a JSON
// POST to sign-in/email from the page's origin) and then follows callbackURL.
const signInPage = `<!doctype html>
<title>Sign in</title>
<form id="form">
  <input id="email" type="email"> <input id="password" type="password">
  <button id="go" type="submit">Sign in</button>
</form>
<p id="error"></p>
<script>
document.getElementById("form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("/api/auth/sign-in/email", {
    method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({email: email.value, password: password.value}),
  });
  if (!r.ok) {
    document.getElementById("error").textContent = "sign-in failed: " + r.status + " " + await r.text();
    return;
  }
  location.href = new URLSearchParams(location.search).get("callbackURL") || "/";
});
</script>
`

// browserApp is the app behind nginx: pages that show who betterauthz said the user is, and
// a record of every request it got.
type browserApp struct {
	addr string
	mu   sync.Mutex
	reqs []proxies.Received
}

func newBrowserApp(t *testing.T) *browserApp {
	a := &browserApp{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.reqs = append(a.reqs, proxies.Received{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()})
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>%s</title><p id="who">%s</p><p id="uid">%s</p>`,
			html.EscapeString(r.URL.Path), html.EscapeString(r.Header.Get("X-User-Email")), html.EscapeString(r.Header.Get("X-User-Id")))
	}))
	t.Cleanup(srv.Close)
	a.addr = strings.TrimPrefix(srv.URL, "http://")
	return a
}

// last is the latest request the app got for path (without the query), if any.
func (a *browserApp) last(method, path string) (proxies.Received, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.reqs) - 1; i >= 0; i-- {
		r := a.reqs[i]
		if p, _, _ := strings.Cut(r.URI, "?"); r.Method == method && p == path {
			return r, true
		}
	}
	return proxies.Received{}, false
}

// withBrowserLocations adds to the shipped nginx example what an app serves besides its
// protected routes: its sign-in page, and Better Auth under /api/auth/ on the same origin.
func withBrowserLocations(t *testing.T, site, pagesDir, betterAuthAddr string) string {
	t.Helper()
	extra := fmt.Sprintf(`    location = /sign-in.html { root %s; }
    location /api/auth/ { proxy_pass http://%s; }

    location / {`, pagesDir, betterAuthAddr)
	if !strings.Contains(site, "\n    location / {") {
		t.Fatal("the nginx example has no `location / {` to add the app's own locations before")
	}
	return strings.Replace(site, "    location / {", extra, 1)
}

// TestChromiumSignsInThroughNginx is the whole browser story in a real browser: headless
// Chromium, the shipped nginx config in front of an app, betterauthz's HTTP check mode, the real
// Better Auth server with its JWT cookie cache. A protected page sends the browser to sign in;
// the sign-in page signs in with Better Auth; the page then loads with the identity betterauthz
// verified from the cookies; a same-origin POST passes and another origin's form POST is
// refused (CSRF); once the session-cache cookie has expired, the session token is looked up and
// the refreshed cookie reaches the browser through nginx; after sign-out the page sends the
// browser to sign in again.
func TestChromiumSignsInThroughNginx(t *testing.T) {
	t.Parallel()
	const cookieCache = 4 * time.Second
	checkPort, err := betterauth.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	baPort, err := betterauth.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	checkAddr, baAddr := fmt.Sprintf("127.0.0.1:%d", checkPort), fmt.Sprintf("127.0.0.1:%d", baPort)

	pages := t.TempDir()
	if err := os.WriteFile(filepath.Join(pages, "sign-in.html"), []byte(signInPage), 0o644); err != nil {
		t.Fatal(err)
	}
	app := newBrowserApp(t)
	cfg, err := proxies.Example(proxies.Nginx)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Main = withBrowserLocations(t, cfg.Main, pages, baAddr)
	cfg.ReadyPath = "/sign-in.html"
	ngx := proxies.Start(t, proxies.Nginx, cfg, proxies.Addrs{Check: checkAddr, Upstream: app.addr})
	site := ngx.URL // the origin the browser sees: the app, and Better Auth under /api/auth

	ba, err := betterauth.StartWith(betterauth.StartOptions{CookieCache: cookieCache, BaseURL: site, Port: baPort})
	if err != nil {
		t.Fatal(err)
	}
	defer ba.Stop()
	r := run(t, fmt.Sprintf(`betterAuthURL: %s
jwksURL: %s/api/auth/jwks
clockSkew: 0s
sessions:
  cookieCache: true
  lookup: true
  lookupTTL: 2s
  lookupURL: %s/api/auth/get-session
  signInURL: %s/sign-in.html
`, site, ba.URL, ba.URL, site), func(o *server.Options) { o.CheckHTTPAddr = checkAddr })
	r.waitReady(t, 15*time.Second)

	email := fmt.Sprintf("chromium-%d@example.com", time.Now().UnixNano())
	if err := ba.NewBrowser().SignUp(email, "Chromium User"); err != nil {
		t.Fatal(err)
	}

	ctx := chromium.New(t, 90*time.Second)
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	eval := func(js string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	cookies := func() map[string]string {
		t.Helper()
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{site + "/"}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, c := range res.Cookies {
			m[c.Name] = c.Value
		}
		return m
	}
	protected := site + "/protected/whoami?tab=1"

	// 1. A protected page without a session: to the sign-in page, with the way back.
	if err := chromedp.Do(ctx, chromedp.Navigate(protected)); err != nil {
		t.Fatal(err)
	}
	loc, err := url.Parse(location())
	if err != nil {
		t.Fatal(err)
	}
	if loc.Path != "/sign-in.html" || loc.Query().Get("callbackURL") != protected {
		t.Fatalf("without a session the browser is at %s, want the sign-in page with callbackURL=%s", loc, protected)
	}
	if _, ok := app.last("GET", "/protected/whoami"); ok {
		t.Fatal("the app was reached without a session")
	}

	// 2. Sign in on the page; the browser follows callbackURL back to the protected page.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), betterauth.Password),
		chromedp.Click(chromedp.CSS("#go")),
		chromedp.WaitVisible(chromedp.CSS("#who")),
	); err != nil {
		errText, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("sign-in: %v (page: %q)", err, errText)
	}
	signedIn := time.Now()
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#who")))
	if err != nil {
		t.Fatal(err)
	}
	if who != email || location() != protected {
		t.Fatalf("the protected page at %s shows %q, want %q", location(), who, email)
	}
	got, ok := app.last("GET", "/protected/whoami")
	if !ok || got.Header.Get("X-User-Email") != email || got.Header.Get("X-User-Id") == "" {
		t.Fatalf("the app got identity %q/%q, want %q", got.Header.Get("X-User-Email"), got.Header.Get("X-User-Id"), email)
	}
	if c := got.Header.Get("Cookie"); !strings.Contains(c, "better-auth.session_token=") {
		t.Errorf("the browser's cookies did not reach the app unchanged: %q", c)
	}
	jar := cookies()
	if jar["better-auth.session_token"] == "" || jar["better-auth.session_data"] == "" {
		t.Fatalf("after sign-in Chromium holds %v, want Better Auth's session cookies", keys(jar))
	}

	// 3. A same-origin POST from the page passes (the browser sends its own Origin)...
	if status := eval(`fetch("/protected/things", {method: "POST", body: "x"}).then(r => r.status)`); status != 200 {
		t.Fatalf("a same-origin POST: %v", status)
	}
	if _, ok := app.last("POST", "/protected/things"); !ok {
		t.Fatal("the same-origin POST did not reach the app")
	}
	// ...and an API call without the page's cookies gets a 401, not a redirect.
	if status := eval(`fetch("/protected/api", {credentials: "omit", headers: {accept: "application/json"}}).then(r => r.status)`); status != 401 {
		t.Fatalf("an API call without cookies: %v, want 401", status)
	}

	// 4. Another origin's page (same site: 127.0.0.1 on another port, so Lax cookies go along)
	// submits a form to the app: refused, never reaching it.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="POST" action="%s/protected/transfer"><input name="amount" value="1000"></form><script>document.getElementById("f").submit()</script>`, site)
	}))
	defer evil.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(evil.URL)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() string {
		if l := location(); l != site+"/protected/transfer" {
			return "the form was not submitted: at " + l
		}
		return ""
	})
	if _, ok := app.last("POST", "/protected/transfer"); ok {
		t.Fatal("a cross-origin form POST with the session cookies reached the app")
	}
	if !strings.Contains(r.logs.String(), `"reason":"untrusted_origin"`) {
		t.Fatal("betterauthz logged no untrusted_origin decision for the cross-origin POST")
	}

	// 5. The session-cache cookie expires (Better Auth set it for cookieCache.maxAge): the
	// session token is looked up, and the refreshed session-cache cookie comes back through
	// betterauthz and nginx, so the next request needs no lookup.
	time.Sleep(time.Until(signedIn.Add(cookieCache + time.Second)))
	if jar := cookies(); jar["better-auth.session_data"] != "" {
		t.Fatalf("Chromium still holds the session-cache cookie after its max-age")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(protected), chromedp.WaitVisible(chromedp.CSS("#who"))); err != nil {
		t.Fatal(err)
	}
	if who, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#who"))); who != email {
		t.Fatalf("after the cookie cache expired the page shows %q", who)
	}
	if !strings.Contains(r.logs.String(), `"credential":"session_token"`) {
		t.Error("the expired cookie cache was not followed by a session lookup")
	}
	if jar := cookies(); jar["better-auth.session_data"] == "" {
		t.Fatalf("the refreshed session-cache cookie did not reach Chromium (cookies %v)", keys(jar))
	}

	// 6. Sign out from the page: Better Auth clears the cookies, and the protected page sends
	// the browser to sign in again.
	if status := eval(`fetch("/api/auth/sign-out", {method: "POST", headers: {"content-type": "application/json"}, body: "{}"}).then(r => r.status)`); status != 200 {
		t.Fatalf("sign-out: %v", status)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(protected)); err != nil {
		t.Fatal(err)
	}
	if l := location(); !strings.HasPrefix(l, site+"/sign-in.html?") {
		t.Fatalf("after sign-out the protected page left the browser at %s, want the sign-in page", l)
	}

	// Cookies are credentials: none reaches betterauthz's log.
	logs := r.logs.String()
	for name, v := range jar {
		if strings.HasPrefix(name, "better-auth.") && len(v) > 8 && strings.Contains(logs, v) {
			t.Errorf("the log holds the %s cookie", name)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
