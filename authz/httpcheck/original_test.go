package httpcheck

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestForwardAuth(t *testing.T) {
	cases := map[string]struct {
		headers      map[string][]string
		method, host string // of the call itself
		want         original
		err          error
	}{
		"Traefik": {
			headers: map[string][]string{"X-Forwarded-Method": {"POST"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {"/api/x?y=1"}, "X-Forwarded-Proto": {"https"}},
			method:  "GET", host: "betterauthz:8081",
			want: original{"POST", "app.example.com", "/api/x?y=1", "https"},
		},
		"Caddy (no host: the call's Host is the original's)": {
			headers: map[string][]string{"X-Forwarded-Method": {"DELETE"}, "X-Forwarded-Uri": {"/a"}},
			method:  "GET", host: "app.example.com",
			want: original{"DELETE", "app.example.com", "/a", ""},
		},
		"nginx auth_request": {
			headers: map[string][]string{"X-Original-Method": {"PUT"}, "X-Original-Uri": {"/b/../c?d"}},
			method:  "GET", host: "app.example.com",
			want: original{"PUT", "app.example.com", "/b/../c?d", ""},
		},
		"ingress-nginx (a full URL gives the host)": {
			headers: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Url": {"https://shop.example.com/cart?x=%2F"}},
			method:  "GET", host: "betterauthz.betterauthz.svc",
			want: original{"GET", "shop.example.com", "/cart?x=%2F", "https"},
		},
		"URL without a path": {
			headers: map[string][]string{"X-Original-Url": {"http://shop.example.com"}},
			method:  "GET", host: "x",
			want: original{"GET", "shop.example.com", "/", "http"},
		},
		"URL keeps its encodings as sent": {
			headers: map[string][]string{"X-Original-Url": {"http://h/public/%2e%2e/admin"}},
			method:  "GET", host: "x",
			want: original{"GET", "h", "/public/%2e%2e/admin", "http"},
		},
		"both families agreeing": {
			headers: map[string][]string{"X-Forwarded-Method": {"get"}, "X-Forwarded-Uri": {"/a"}, "X-Original-Method": {"GET"}, "X-Original-Uri": {"/a"}, "X-Forwarded-Host": {"H"}, "X-Original-Url": {"http://h/a"}},
			method:  "GET", host: "x",
			want: original{"GET", "H", "/a", "http"},
		},
		"no method: the call's": {
			headers: map[string][]string{"X-Original-Uri": {"/a"}},
			method:  "head", host: "h",
			want: original{"HEAD", "h", "/a", ""},
		},
		"no path":               {headers: map[string][]string{"X-Forwarded-Method": {"GET"}}, method: "GET", host: "h", err: errNoPath},
		"nothing":               {method: "GET", host: "h", err: errNoPath},
		"URIs disagree":         {headers: map[string][]string{"X-Forwarded-Uri": {"/public"}, "X-Original-Uri": {"/admin"}}, method: "GET", host: "h", err: errDisagree},
		"methods disagree":      {headers: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Original-Method": {"POST"}, "X-Original-Uri": {"/a"}}, method: "GET", host: "h", err: errDisagree},
		"hosts disagree":        {headers: map[string][]string{"X-Forwarded-Host": {"public.example.com"}, "X-Original-Url": {"https://admin.example.com/"}}, method: "GET", host: "h", err: errDisagree},
		"schemes disagree":      {headers: map[string][]string{"X-Forwarded-Proto": {"http"}, "X-Original-Url": {"https://h/a"}}, method: "GET", host: "h", err: errDisagree},
		"a header twice":        {headers: map[string][]string{"X-Forwarded-Uri": {"/public", "/admin"}}, method: "GET", host: "h", err: errRepeated},
		"URL not absolute":      {headers: map[string][]string{"X-Original-Url": {"/admin"}}, method: "GET", host: "h", err: errOriginalURL},
		"URL of another scheme": {headers: map[string][]string{"X-Original-Url": {"ftp://h/admin"}}, method: "GET", host: "h", err: errOriginalURL},
		"URL and URI disagree":  {headers: map[string][]string{"X-Original-Url": {"http://h/public"}, "X-Original-Uri": {"/admin"}}, method: "GET", host: "h", err: errURLAndURI},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			for k, vs := range tc.headers {
				for _, v := range vs {
					h.Add(k, v)
				}
			}
			got, err := forwardAuth(h, tc.method, tc.host)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzForwardAuth reads arbitrary forwarded headers. It never panics; what it accepts has a
// target, an upper-case method, and agrees with every header of either family that was sent.
func FuzzForwardAuth(f *testing.F) {
	f.Add("GET", "h", "/a", "", "", "")
	f.Add("", "", "", "POST", "/b?c", "")
	f.Add("", "", "", "", "", "https://h/x")
	f.Add("GET", "a", "/x", "GET", "/x", "http://a/x")
	f.Add("GET", "", "/public", "", "/admin", "")
	f.Add("", "", "", "", "", "http://u@h/x#f")
	f.Fuzz(func(t *testing.T, fm, fh, fu, om, ou, ourl string) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Forwarded-Method": fm, "X-Forwarded-Host": fh, "X-Forwarded-Uri": fu, "X-Original-Method": om, "X-Original-Uri": ou, "X-Original-Url": ourl} {
			if v != "" {
				h.Set(k, v)
			}
		}
		o, err := forwardAuth(h, "GET", "call.example.com")
		if err != nil {
			return
		}
		if o.target == "" || o.method != strings.ToUpper(o.method) {
			t.Fatalf("accepted %+v", o)
		}
		for _, v := range []string{fu, ou} {
			if v != "" && v != o.target {
				t.Fatalf("target %q, but a header said %q", o.target, v)
			}
		}
		for _, v := range []string{fm, om} {
			if v != "" && !strings.EqualFold(v, o.method) {
				t.Fatalf("method %q, but a header said %q", o.method, v)
			}
		}
	})
}
