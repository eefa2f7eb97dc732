package authz

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	cases := map[string]struct {
		in, sent, decoded string // decoded "" means: same as sent
		err               error
	}{
		"plain":                    {in: "/api/things", sent: "/api/things"},
		"query dropped":            {in: "/api/things?x=1&y=/admin", sent: "/api/things"},
		"fragment dropped":         {in: "/a#/admin", sent: "/a"},
		"root":                     {in: "/", sent: "/"},
		"empty":                    {in: "", sent: "/"},
		"no leading slash":         {in: "api", sent: "/api"},
		"trailing slash kept":      {in: "/docs/", sent: "/docs/"},
		"dot segment":              {in: "/a/./b", sent: "/a/b"},
		"dot dot":                  {in: "/public/../admin", sent: "/admin"},
		"dot dot above root":       {in: "/../../admin", sent: "/admin"},
		"dot dot at end":           {in: "/a/b/..", sent: "/a/"},
		"encoded dots":             {in: "/public/%2e%2e/admin", sent: "/admin"},
		"encoded dots upper":       {in: "/public/%2E%2E/admin", sent: "/admin"},
		"mixed encoded dot":        {in: "/public/.%2e/admin", sent: "/admin"},
		"double slash":             {in: "//admin", sent: "/admin"},
		"many slashes":             {in: "/a///b//", sent: "/a/b/"},
		"unreserved decoded":       {in: "/%61dmin/%7Euser", sent: "/admin/~user"},
		"reserved kept, upper hex": {in: "/a%3ab", sent: "/a%3Ab"},
		"encoded slash": {
			in: "/public%2F..%2Fadmin", sent: "/public%2F..%2Fadmin", decoded: "/admin",
		},
		"encoded slash lower": {
			in: "/public%2f..%2fadmin", sent: "/public%2F..%2Fadmin", decoded: "/admin",
		},
		"encoded backslash": {
			in: "/public%5C..%5Cadmin", sent: "/public%5C..%5Cadmin", decoded: "/admin",
		},
		"literal backslash": {
			in: `/public\..\admin`, sent: `/public\..\admin`, decoded: "/admin",
		},
		"path parameter": {in: "/admin;x", sent: "/admin;x", decoded: "/admin"},
		"path parameter then dots": {
			in: "/public;x/../admin", sent: "/admin",
		},
		"parameter hides a segment": {
			in: "/admin;/secret", sent: "/admin;/secret", decoded: "/admin/secret",
		},
		"bad escape":         {in: "/a%zz", err: errBadEscape},
		"truncated escape":   {in: "/a%2", err: errBadEscape},
		"encoded NUL":        {in: "/a%00b", err: errNULInPath},
		"raw control":        {in: "/a\x01b", err: errNULInPath},
		"encoded newline":    {in: "/a%0Ab", err: errNULInPath},
		"escape after query": {in: "/a?%zz", sent: "/a"},
		"too long":           {in: "/" + strings.Repeat("a", MaxPathBytes), err: errPathTooLong},
		"too deep":           {in: strings.Repeat("/a", MaxPathSegments+1), err: errPathTooLong},
		"long query is fine": {in: "/a?" + strings.Repeat("q", 2*MaxPathBytes), sent: "/a"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := normalizePath(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			dec := tc.decoded
			if dec == "" {
				dec = tc.sent
			}
			if r.asSent != tc.sent || r.decoded != dec {
				t.Fatalf("normalizePath(%q) = %q / %q, want %q / %q", tc.in, r.asSent, r.decoded, tc.sent, dec)
			}
		})
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/public/../admin", "/public/%2e%2e/admin", "/public%2F..%2Fadmin", "//admin", "/admin;x", `/a\b`, "/%zz", "/a/b/?q#f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if p, _, _ := strings.Cut(in, "?"); isNormal(p) && !strings.Contains(p, "#") && resolveDots(p, true) != p {
			t.Fatalf("fast path takes %q as normal, the full normalisation gives %q", p, resolveDots(p, true))
		}
		r, err := normalizePath(in)
		if err != nil {
			return
		}
		for _, p := range []string{r.asSent, r.decoded} {
			if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.ContainsAny(p, "?#") {
				t.Fatalf("normalizePath(%q) gave %q", in, p)
			}
			for _, seg := range strings.Split(p, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("normalizePath(%q) gave %q with a dot segment", in, p)
				}
			}
		}
		if strings.ContainsAny(r.decoded, `\;`) || strings.Contains(strings.ToUpper(r.decoded), "%2F") || strings.Contains(strings.ToUpper(r.decoded), "%5C") {
			t.Fatalf("decoded reading %q of %q still holds a separator in disguise", r.decoded, in)
		}
		// Normalizing is idempotent.
		again, err := normalizePath(r.asSent)
		if err != nil || again.asSent != r.asSent {
			t.Fatalf("normalizePath not idempotent on %q: %q then %q (%v)", in, r.asSent, again.asSent, err)
		}
	})
}
