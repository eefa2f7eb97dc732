package httpcheck

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/authz"
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
		"methods disagree":      {headers: map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/a"}, "X-Original-Method": {"POST"}, "X-Original-Uri": {"/a"}}, method: "GET", host: "h", err: errDisagree},
		"hosts disagree":        {headers: map[string][]string{"X-Forwarded-Host": {"public.example.com"}, "X-Forwarded-Uri": {"/"}, "X-Original-Url": {"https://admin.example.com/"}}, method: "GET", host: "h", err: errDisagree},
		"schemes disagree":      {headers: map[string][]string{"X-Forwarded-Proto": {"http"}, "X-Forwarded-Uri": {"/a"}, "X-Original-Url": {"https://h/a"}}, method: "GET", host: "h", err: errDisagree},
		"a header twice":        {headers: map[string][]string{"X-Forwarded-Uri": {"/public", "/admin"}}, method: "GET", host: "h", err: errRepeated},
		"URL not absolute":      {headers: map[string][]string{"X-Original-Url": {"/admin"}}, method: "GET", host: "h", err: errOriginalURL},
		"URL of another scheme": {headers: map[string][]string{"X-Original-Url": {"ftp://h/admin"}}, method: "GET", host: "h", err: errOriginalURL},
		"URL and URI disagree":  {headers: map[string][]string{"X-Original-Url": {"http://h/public"}, "X-Original-Uri": {"/admin"}}, method: "GET", host: "h", err: errURLAndURI},

		// A family that gives no target is a client's headers passed through: ignored whole.
		"nginx as its docs show: a client's X-Forwarded-Host has no say": {
			headers: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/x"}, "X-Forwarded-Host": {"public.example.com"}, "X-Forwarded-Method": {"DELETE"}, "X-Forwarded-Proto": {"https"}},
			method:  "GET", host: "app.example.com",
			want: original{"GET", "app.example.com", "/x", ""},
		},
		"a client's X-Original-Method beside Traefik's family has no say": {
			headers: map[string][]string{"X-Forwarded-Method": {"POST"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {"/a"}, "X-Original-Method": {"GET"}},
			method:  "GET", host: "betterauthz:8081",
			want: original{"POST", "app.example.com", "/a", ""},
		},
		"a client's X-Forwarded-Proto beside an X-Original-URL has no say": {
			headers: map[string][]string{"X-Forwarded-Proto": {"http"}, "X-Original-Url": {"https://h/a"}},
			method:  "GET", host: "x",
			want: original{"GET", "h", "/a", "https"},
		},
		// A describing family silent on the host or method stands for the call's own, so a
		// client's complete family cannot win over the proxy's.
		"nginx as its docs show: a client's whole X-Forwarded-* family": {
			headers: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/x"}, "X-Forwarded-Host": {"public.example.com"}, "X-Forwarded-Uri": {"/x"}, "X-Forwarded-Method": {"GET"}},
			method:  "GET", host: "app.example.com",
			err: errDisagree,
		},
		"nginx as its docs show: a client's family naming the same host": {
			headers: map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/x"}, "X-Forwarded-Host": {"APP.example.com"}, "X-Forwarded-Uri": {"/x"}},
			method:  "GET", host: "app.example.com",
			want: original{"GET", "APP.example.com", "/x", ""},
		},
		"a client's X-Original-URI beside Traefik's POST": {
			headers: map[string][]string{"X-Forwarded-Method": {"POST"}, "X-Forwarded-Host": {"app.example.com"}, "X-Forwarded-Uri": {"/a"}, "X-Original-Uri": {"/a"}},
			method:  "GET", host: "app.example.com",
			err: errDisagree,
		},
		// ingress-nginx with the shipped ConfigMap: X-Forwarded-Host is nginx's $host (the host it
		// routes by, no port), X-Original-URL has the client's Host.
		"ingress-nginx: a port in Host": {
			headers: map[string][]string{
				"X-Forwarded-Method": {"GET"}, "X-Forwarded-Host": {"shop.example.com"}, "X-Forwarded-Uri": {"/cart"},
				"X-Original-Method": {"GET"}, "X-Original-Uri": {"/cart"}, "X-Original-Url": {"https://Shop.Example.com.:8443/cart"},
			},
			method: "GET", host: "betterauthz.betterauthz.svc",
			want: original{"GET", "Shop.Example.com.:8443", "/cart", "https"},
		},
		"ingress-nginx: an absolute-form request line for another host": {
			headers: map[string][]string{
				"X-Forwarded-Method": {"GET"}, "X-Forwarded-Host": {"admin.example.com"}, "X-Forwarded-Uri": {"/users"},
				"X-Original-Method": {"GET"}, "X-Original-Uri": {"/users"}, "X-Original-Url": {"http://status.example.com/users"},
			},
			method: "GET", host: "betterauthz.betterauthz.svc",
			err: errDisagree,
		},
		"a method that is not a token": {
			headers: map[string][]string{"X-Forwarded-Method": {"poſt"}, "X-Forwarded-Uri": {"/a"}},
			method:  "GET", host: "x",
			err: errMethod,
		},
		"a method that is not a token, beside one that folds to it": {
			headers: map[string][]string{"X-Forwarded-Method": {"POST"}, "X-Forwarded-Uri": {"/a"}, "X-Original-Method": {"poſt"}, "X-Original-Uri": {"/a"}},
			method:  "GET", host: "x",
			err: errMethod,
		},
		"two different ports": {
			headers: map[string][]string{"X-Forwarded-Host": {"h:8080"}, "X-Forwarded-Uri": {"/a"}, "X-Original-Url": {"http://h:9090/a"}},
			method:  "GET", host: "x",
			err: errDisagree,
		},
		"IPv6 with and without a port": {
			headers: map[string][]string{"X-Forwarded-Host": {"[::1]"}, "X-Forwarded-Uri": {"/a"}, "X-Original-Url": {"http://[::1]:8080/a"}},
			method:  "GET", host: "x",
			want: original{"GET", "[::1]:8080", "/a", "http"},
		},
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
// target and an upper-case method that is an HTTP token; a family that gives no target has no say at all (its other
// headers removed, the answer is the same); and the answer agrees with every family that gives
// one — its target, its method (else the call's) and its host (else the call's), hosts as rules
// read them.
func FuzzForwardAuth(f *testing.F) {
	f.Add("GET", "h", "/a", "", "", "")
	f.Add("", "", "", "POST", "/b?c", "")
	f.Add("", "", "", "", "", "https://h/x")
	f.Add("GET", "a", "/x", "GET", "/x", "http://a/x")
	f.Add("GET", "", "/public", "", "/admin", "")
	f.Add("", "", "", "", "", "http://u@h/x#f")
	f.Add("", "public.example.com", "", "GET", "/x", "")
	f.Add("GET", "public.example.com", "/x", "GET", "/x", "")
	f.Add("GET", "admin.example.com", "/x", "GET", "/x", "http://Admin.Example.com.:8443/x")
	const callMethod, callHost = "GET", "call.example.com"
	read := func(fm, fh, fu, om, ou, ourl string) (original, error) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Forwarded-Method": fm, "X-Forwarded-Host": fh, "X-Forwarded-Uri": fu, "X-Original-Method": om, "X-Original-Uri": ou, "X-Original-Url": ourl} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return forwardAuth(h, callMethod, callHost)
	}
	f.Fuzz(func(t *testing.T, fm, fh, fu, om, ou, ourl string) {
		o, err := read(fm, fh, fu, om, ou, ourl)
		same := func(what string, o2 original, err2 error) {
			if o2 != o || !errors.Is(err2, err) {
				t.Fatalf("%s changed the answer: %+v %v, then %+v %v", what, o, err, o2, err2)
			}
		}
		if fu == "" {
			o2, err2 := read("", "", "", om, ou, ourl)
			same("the X-Forwarded-* family without a target", o2, err2)
		}
		if ou == "" && ourl == "" {
			o2, err2 := read(fm, fh, fu, "", "", "")
			same("the X-Original-* family without a target", o2, err2)
		}
		if err != nil {
			return
		}
		if o.target == "" || o.method != strings.ToUpper(o.method) || !isToken(o.method) {
			t.Fatalf("accepted %+v", o)
		}
		agrees := func(family, method, host string) {
			if !strings.EqualFold(or(method, callMethod), o.method) {
				t.Fatalf("method %q, but %s said %q", o.method, family, method)
			}
			if h := or(host, callHost); h != o.host && !authz.SameHost(h, o.host) {
				t.Fatalf("host %q, but %s said %q", o.host, family, host)
			}
		}
		if fu != "" {
			if fu != o.target {
				t.Fatalf("target %q, but X-Forwarded-Uri said %q", o.target, fu)
			}
			agrees("X-Forwarded-*", fm, fh)
		}
		if ou != "" || ourl != "" {
			if ou != "" && ou != o.target {
				t.Fatalf("target %q, but X-Original-URI said %q", o.target, ou)
			}
			urlHost := ""
			if ourl != "" {
				_, urlHost, _, _ = splitAbsoluteURL(ourl)
			}
			agrees("X-Original-*", om, urlHost)
		}
	})
}

func or(v, otherwise string) string {
	if v != "" {
		return v
	}
	return otherwise
}

func TestFamilyHeadersAreCanonical(t *testing.T) {
	for _, name := range familyHeaders {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("%q is not canonical (%q): reading it by index would miss it", name, c)
		}
	}
}
