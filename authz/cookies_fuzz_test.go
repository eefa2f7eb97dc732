package authz

import (
	"strings"
	"testing"
)

// FuzzReadCookies: any Cookie header reads without a panic; a session cookie is found only
// under one of its names, and a value never holds a separator.
func FuzzReadCookies(f *testing.F) {
	for _, s := range []string{
		"better-auth.session_data=abc; better-auth.session_token=t.s",
		"__Secure-better-auth.session_data.0=a; __Secure-better-auth.session_data.1=b",
		"better-auth.session_data=a,better-auth.session_data=b",
		`better-auth.session_token="q%2Bx"`, "=;;,", "better-auth.session_data.1=x",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, header string, secure bool) {
		s := Browser{CookieCache: true, Lookup: true, CookiePrefix: "better-auth", SecureOnly: secure}
		c, err := s.readCookies(&Request{Headers: HeaderMap{"cookie": header}})
		if err != nil {
			if c != (sessionCookies{}) {
				t.Fatalf("error %v with cookies %+v", err, c)
			}
			return
		}
		if c.token != "" {
			if !strings.HasSuffix(c.tokenName, "better-auth.session_token") || (secure && !strings.HasPrefix(c.tokenName, "__Secure-")) {
				t.Fatalf("token read from %q", c.tokenName)
			}
			if strings.ContainsAny(c.token, ";,") {
				t.Fatalf("token %q holds a separator", c.token)
			}
		}
		if (c.data != "" || c.token != "") && !strings.Contains(header, "better-auth.session_") {
			t.Fatalf("a session cookie from %q", header)
		}
	})
}
