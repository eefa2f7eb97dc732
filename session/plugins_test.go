package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

func TestAPIKeyAskedOnceAndCachedUnderAHash(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv, calls := fakeBetterAuth(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("x-api-key")+" "+r.Header.Get("Cookie"))
		mu.Unlock()
		switch r.Header.Get("x-api-key") {
		case "good":
			fmt.Fprint(w, `{"session":{"id":"key-1","token":"good","userId":"u1"},"user":{"id":"u1"}}`)
		case "limited":
			w.WriteHeader(http.StatusTooManyRequests)
		case "broken":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	l := newLookup(t, srv.URL+"/api/auth/get-session", Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := l.APIKey(context.Background(), "x-api-key", "good")
			if err != nil || s.Claims.Subject() != "u1" {
				t.Errorf("%v %v", s, err)
				return
			}
			if _, ok := s.Claims.Claim("session.token"); ok {
				t.Error("the key is a claim")
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls for one key", n)
	}
	for key, want := range map[string]error{"bad": ErrNoSession, "limited": ErrRateLimited, "broken": ErrUnavailable} {
		for range 2 {
			if _, err := l.APIKey(context.Background(), "x-api-key", key); !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", key, err, want)
			}
		}
	}
	// A refusal and a rate limit are cached; an outage is not.
	if n := calls.Load(); n != 1+1+1+2 {
		t.Errorf("%d calls", n)
	}
	for _, s := range seen {
		if s[len(s)-1] != ' ' {
			t.Errorf("a cookie went with an API key: %q", s)
		}
	}
}

func TestMemberRole(t *testing.T) {
	srv, calls := fakeBetterAuth(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/auth/organization/get-active-member-role" || r.Header.Get("Cookie") != "better-auth.session_token=TOK" || r.URL.Query().Get("userId") != "u1" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		switch r.URL.Query().Get("organizationId") {
		case "o1":
			fmt.Fprint(w, `{"role":"admin,member"}`)
		case "o2":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"code":"YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION"}`)
		case "gone":
			w.WriteHeader(http.StatusUnauthorized)
		default:
			fmt.Fprint(w, `{"nope":1}`)
		}
	})
	l := newLookup(t, srv.URL+"/api/auth/get-session", Options{})
	for org, want := range map[string]string{"o1": "admin,member", "o2": ""} {
		for range 2 {
			if got, err := l.MemberRole(context.Background(), "better-auth.session_token", "TOK", org, "u1"); err != nil || got != want {
				t.Errorf("%s: %q %v", org, got, err)
			}
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2 (cached)", n)
	}
	if _, err := l.MemberRole(context.Background(), "better-auth.session_token", "TOK", "gone", "u1"); !errors.Is(err, ErrNoSession) {
		t.Errorf("gone: %v", err)
	}
	if _, err := l.MemberRole(context.Background(), "better-auth.session_token", "TOK", "odd", "u1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("odd answer: %v", err)
	}
}

func FuzzParseRole(f *testing.F) {
	for _, s := range []string{`{"role":"admin,member"}`, `{"role":null}`, `{}`, `null`, `{"role":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := parseRole(body)
		if err == nil && s == nil {
			t.Fatal("no session and no error")
		}
		if err != nil && !errors.Is(err, ErrUnavailable) {
			t.Fatalf("unwrapped error %v", err)
		}
	})
}
