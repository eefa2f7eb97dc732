// Package tasks_test runs the Task example for real, as `make example` starts it
// (scripts/example.sh): the bundled Better Auth, betterauthz in HTTP check mode, nginx with
// examples/tasks/nginx.conf, and the seed's FastAPI + SQLModel app on the system's Python. The
// app has no auth code: these tests show that it needs none, and why only the proxy may reach
// it.
package tasks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTaskExample(t *testing.T) {
	e := startExample(t)
	const annEmail, benEmail = "ann@example.org", "ben@example.org"

	// The example's frontend (client.mjs: Better Auth's own client, authClient.token(), then
	// Bearer) adds tasks for two users; each lists only their own.
	var ann, ben string // user ids
	var annTask task
	t.Run("each user sees only their own tasks", func(t *testing.T) {
		for _, c := range []struct{ email, title string }{{annEmail, "ann: milk"}, {benEmail, "ben: bike"}, {annEmail, "ann: eggs"}} {
			r := e.Client(t, c.email, "add", c.title)
			var got task
			if err := json.Unmarshal(r.Body, &got); err != nil || r.Status != 201 || got.Title != c.title || got.UserID != r.User.ID {
				t.Fatalf("add %q as %s: %d %s", c.title, c.email, r.Status, r.Body)
			}
			if c.email == annEmail && annTask.ID == 0 {
				annTask = got
			}
		}
		for email, want := range map[string][]string{annEmail: {"ann: milk", "ann: eggs"}, benEmail: {"ben: bike"}} {
			r := e.Client(t, email, "list")
			if r.Status != 200 {
				t.Fatalf("list as %s: %d %s", email, r.Status, r.Body)
			}
			var titles []string
			for _, tk := range tasksOf(t, r.Body) {
				titles = append(titles, tk.Title)
				if tk.UserID != r.User.ID {
					t.Errorf("%s got task %+v of another user", email, tk)
				}
			}
			if !slices.Equal(titles, want) {
				t.Errorf("%s lists %q, want %q", email, titles, want)
			}
			if email == annEmail {
				ann = r.User.ID
			} else {
				ben = r.User.ID
			}
		}
	})
	if t.Failed() {
		return
	}
	annS, benS := e.SignIn(t, annEmail), e.SignIn(t, benEmail)
	api := e.URL + "/api/tasks"
	annTaskURL := fmt.Sprintf("%s/%d", api, annTask.ID)

	t.Run("another user's task is not found", func(t *testing.T) {
		for _, c := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"done":true}`}, {"DELETE", ""}} {
			if r := Do(t, c.method, annTaskURL, benS.JWT, nil, c.body); r.Status != 404 {
				t.Errorf("ben %s ann's task: %d %s", c.method, r.Status, r.Body)
			}
		}
		r := Do(t, "GET", annTaskURL, annS.JWT, nil, "")
		var got task
		if json.Unmarshal(r.Body, &got); r.Status != 200 || got != annTask {
			t.Errorf("ann's task after ben's tries: %d %s, want %+v", r.Status, r.Body, annTask)
		}
	})

	// What a client adds to claim someone else's identity: the header, and an alias that WSGI
	// and CGI apps would read as the same variable.
	spoof := http.Header{"X-User-Id": {ann}, "x-user-id": {ann}, "X_User_Id": {ann}, "X-User-Email": {annEmail}}
	t.Run("a spoofed x-user-id changes nothing", func(t *testing.T) {
		r := Do(t, "GET", api, benS.JWT, spoof, "")
		for _, tk := range tasksOf(t, r.Body) {
			if tk.UserID != ben {
				t.Errorf("ben with ann's x-user-id sees %+v", tk)
			}
		}
		r = Do(t, "POST", api, benS.JWT, spoof, `{"title":"planted"}`)
		var got task
		if json.Unmarshal(r.Body, &got); r.Status != 201 || got.UserID != ben {
			t.Errorf("ben's POST with ann's x-user-id: %d %s", r.Status, r.Body)
		}
		if r := Do(t, "GET", annTaskURL, benS.JWT, spoof, ""); r.Status != 404 {
			t.Errorf("ben reads ann's task with her x-user-id: %d %s", r.Status, r.Body)
		}
	})

	t.Run("no valid token is 401, and the app is not asked", func(t *testing.T) {
		before := len(e.AppRequests(t))
		cases := map[string]struct {
			jwt    string
			header http.Header
			error  string // the WWW-Authenticate error, "" for a missing token
		}{
			"no token":                           {},
			"no token, a spoofed x-user-id":      {header: spoof},
			"a garbled token":                    {jwt: "eyJhbGciOiJFZERTQSJ9.e30.c2ln", error: "invalid_token"},
			"Better Auth's opaque session token": {jwt: annS.SessionToken, error: "invalid_token"},
			"the session cookie (sessions off)": {header: http.Header{
				"Cookie": {"better-auth.session_token=" + annS.SessionToken}}},
		}
		for name, c := range cases {
			t.Run(name, func(t *testing.T) {
				for _, method := range []string{"GET", "POST"} {
					body := ""
					if method == "POST" {
						body = `{"title":"anonymous"}`
					}
					r := Do(t, method, api, c.jwt, c.header, body)
					www := r.Header.Get("Www-Authenticate")
					if r.Status != 401 || !strings.HasPrefix(www, "Bearer realm=") || (c.error != "") != strings.Contains(www, `error="`+c.error+`"`) {
						t.Errorf("%s: %d, WWW-Authenticate %q", method, r.Status, www)
					}
				}
			})
		}
		if after := e.AppRequests(t); len(after) != before {
			t.Errorf("the app got %d requests without a valid token: %+v", len(after)-before, after[before:])
		}
	})

	t.Run("the app never saw an unauthenticated request", func(t *testing.T) {
		reqs := e.AppRequests(t)
		if len(reqs) < 10 {
			t.Fatalf("the app recorded only %d requests", len(reqs))
		}
		for _, r := range reqs {
			if r.XUserID == nil || (*r.XUserID != ann && *r.XUserID != ben) {
				t.Errorf("the app got a request with x-user-id %v: %+v", r.XUserID, r)
			}
			if r.Authorization || r.Cookie {
				t.Errorf("a credential reached the app: %+v", r)
			}
		}
	})

	// The same app, asked directly: it believes any x-user-id. This is why only the proxy may
	// reach it (examples/tasks/kubernetes.yaml), and it shows that the request log above would
	// have caught a request that went around betterauthz.
	t.Run("without the proxy anyone is anyone", func(t *testing.T) {
		n := len(e.AppRequests(t))
		if r := Do(t, "GET", e.AppURL+"/api/tasks", "", nil, ""); r.Status != 401 {
			t.Errorf("the app without x-user-id: %d %s", r.Status, r.Body)
		}
		if r := Do(t, "GET", e.AppURL+"/api/anything", "", nil, ""); r.Status != 401 {
			t.Errorf("the app without x-user-id, an unrouted path: %d %s", r.Status, r.Body)
		}
		reqs := e.AppRequests(t)
		if len(reqs) != n+2 || reqs[n].XUserID != nil || reqs[n].Status != 401 {
			t.Errorf("the direct requests were not recorded as unauthenticated: %+v", reqs[n:])
		}
		r := Do(t, "GET", e.AppURL+"/api/tasks", "", http.Header{"X-User-Id": {ann}}, "")
		if ts := tasksOf(t, r.Body); len(ts) != 2 || ts[0] != annTask {
			t.Errorf("the app with ann's x-user-id and no token: %d %s", r.Status, r.Body)
		}
	})

	t.Run("the commands make example prints", func(t *testing.T) {
		script := tryCommands(t, e.Out.String(), false)
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = e.root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s\n%s", err, script, out)
		}
		tutorialTryList(t, e)
		for _, want := range []string{`"title":"buy milk"`, `"status":200,"body":[]`, "HTTP/1.1 401", `"user":{"id"`} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	// The team board: Better Auth's organization plugin says who is in the team and with what
	// role; betterauthz checks it; the app only scopes by the organization it is told.
	const carolEmail = "carol@example.org"
	t.Run("a team board for the active organization's members", func(t *testing.T) {
		if r := e.Client(t, annEmail, "team-create", "acme"); r.Status != 200 {
			t.Fatalf("team-create: %d %s", r.Status, r.Body)
		}
		r := e.Client(t, annEmail, "team-add", "acme: launch")
		var got struct {
			task
			OrgID string `json:"org_id"`
		}
		if err := json.Unmarshal(r.Body, &got); err != nil || r.Status != 201 || got.OrgID == "" {
			t.Fatalf("the owner adds to the board: %d %s", r.Status, r.Body)
		}
		r = e.Client(t, annEmail, "team-invite", benEmail)
		var inv struct{ ID string }
		if err := json.Unmarshal(r.Body, &inv); err != nil || r.Status != 200 || inv.ID == "" {
			t.Fatalf("team-invite: %d %s", r.Status, r.Body)
		}
		if r := e.Client(t, benEmail, "team-join", inv.ID); r.Status != 200 {
			t.Fatalf("team-join: %d %s", r.Status, r.Body)
		}
		r = e.Client(t, benEmail, "team-list")
		if ts := tasksOf(t, r.Body); r.Status != 200 || len(ts) != 1 || ts[0].Title != "acme: launch" {
			t.Errorf("a member reads the board: %d %s", r.Status, r.Body)
		}
		if r := e.Client(t, benEmail, "team-add", "ben: sneak"); r.Status != 403 {
			t.Errorf("a member (not admin) adds to the board: %d %s", r.Status, r.Body)
		}
		if r := e.Client(t, carolEmail, "team-list"); r.Status != 403 {
			t.Errorf("no organization: %d %s", r.Status, r.Body)
		}
		// The board's task is nobody's own task.
		if r := e.Client(t, annEmail, "list"); strings.Contains(string(r.Body), "acme: launch") {
			t.Errorf("ann's own list has the team's task: %s", r.Body)
		}
	})
	t.Run("a script with an API key", func(t *testing.T) {
		r := e.Client(t, annEmail, "key-create")
		var k struct{ ID, Key string }
		if err := json.Unmarshal(r.Body, &k); err != nil || r.Status != 200 || k.Key == "" {
			t.Fatalf("key-create: %d %s", r.Status, r.Body)
		}
		r = e.ClientKey(t, k.Key, "list")
		if ts := tasksOf(t, r.Body); r.Status != 200 || len(ts) < 2 || ts[0].UserID != ann {
			t.Errorf("ann's key lists: %d %s", r.Status, r.Body)
		}
		if r := e.ClientKey(t, k.Key, "team-list"); r.Status != 401 {
			t.Errorf("a key on the team board (cookies only): %d %s", r.Status, r.Body)
		}
		for _, rec := range e.AppRequests(t) {
			if rec.APIKey || rec.Cookie || rec.Authorization {
				t.Errorf("a credential reached the app: %+v", rec)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(e.Work, "betterauthz.log")); strings.Contains(string(b), k.Key) {
			t.Error("betterauthz logged the API key")
		}
	})
}

// tutorialTryList: the tutorial's list is what scripts/example.sh prints, on its default ports.
func tutorialTryList(t *testing.T, e *example) {
	t.Helper()
	page := readFile(t, tutorialPage)
	_, block, _ := strings.Cut(page, "```text\n")
	block, _, _ = strings.Cut(block, "```\n")
	printed := tryCommands(t, e.Out.String(), true)
	printed = strings.NewReplacer(e.URL, "http://127.0.0.1:8000", e.AppURL, "http://127.0.0.1:8001", e.Work, "$WORK").Replace(printed)
	if strings.TrimSpace(block) != printed {
		t.Errorf("%s's list differs from what make example prints (on its default ports):\n%s\nprinted:\n%s", tutorialPage, block, printed)
	}
}

// tryCommands is the "Try" list scripts/example.sh prints, as one script, less `tail -f`
// unless all.
func tryCommands(t *testing.T, out string, all bool) string {
	t.Helper()
	_, list, ok := strings.Cut(out, "\nTry ")
	if !ok {
		t.Fatalf("no Try list in:\n%s", out)
	}
	var lines []string
	for _, l := range strings.Split(list, "\n")[1:] {
		if l == "" {
			break
		}
		l = strings.TrimSpace(l)
		if i := strings.Index(l, "    #"); i >= 0 && !all {
			l = l[:i]
		}
		if all || !strings.HasPrefix(l, "tail -f") {
			lines = append(lines, l)
		}
	}
	if len(lines) < 5 {
		t.Fatalf("Try list too short: %q", lines)
	}
	return strings.Join(lines, "\n")
}
