package authz

import (
	"errors"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/authz/policy"
)

func TestNormalizeHost(t *testing.T) {
	cases := map[string]struct {
		in, want string
		err      error
	}{
		"plain":                 {in: "api.example.com", want: "api.example.com"},
		"upper case":            {in: "API.Example.COM", want: "api.example.com"},
		"port":                  {in: "api.example.com:8443", want: "api.example.com"},
		"empty port":            {in: "api.example.com:", want: "api.example.com"},
		"trailing dot":          {in: "api.example.com.", want: "api.example.com"},
		"trailing dot and port": {in: "api.example.com.:80", want: "api.example.com"},
		"service name":          {in: "orders", want: "orders"},
		"underscore":            {in: "_svc.example.com", want: "_svc.example.com"},
		"empty":                 {in: "", want: ""},
		"IPv4":                  {in: "10.0.0.5:80", want: "10.0.0.5"},
		"IPv6":                  {in: "[::1]:9000", want: "[::1]"},
		"IPv6 spelled long":     {in: "[0:0:0:0:0:0:0:1]", want: "[::1]"},
		"IPv6 upper case":       {in: "[FE80::A]", want: "[fe80::a]"},

		"userinfo":              {in: "evil@admin.example.com", err: errHostUserinfo},
		"userinfo with port":    {in: "evil:pw@admin.example.com:443", err: errHostUserinfo},
		"percent-encoded":       {in: "admin%2eexample.com", err: errHostChars},
		"space":                 {in: "admin.example.com evil", err: errHostChars},
		"comma (two hosts)":     {in: "a.example.com,admin.example.com", err: errHostChars},
		"slash":                 {in: "admin.example.com/x", err: errHostChars},
		"backslash":             {in: `admin.example.com\x`, err: errHostChars},
		"non-ASCII":             {in: "ａdmin.example.com", err: errHostChars},
		"wildcard":              {in: "*.example.com", err: errHostChars},
		"empty label":           {in: "admin..example.com", err: errHostChars},
		"leading dot":           {in: ".admin.example.com", err: errHostChars},
		"only a dot":            {in: ".", err: errHostChars},
		"two trailing dots":     {in: "0..", err: errHostChars},
		"port not a number":     {in: "admin.example.com:https", err: errHostPort},
		"two ports":             {in: "admin.example.com:80:81", err: errHostChars},
		"unbracketed IPv6":      {in: "::1", err: errHostChars},
		"IPv6 with a zone":      {in: "[fe80::1%25eth0]", err: errHostIP},
		"unclosed bracket":      {in: "[::1", err: errHostChars},
		"junk after bracket":    {in: "[::1]x", err: errHostChars},
		"IPv4 in brackets":      {in: "[10.0.0.5]", err: errHostIP},
		"IPv4 as one number":    {in: "167772165", err: errHostIP},
		"IPv4 in hex":           {in: "0x0a.0.0.5", err: errHostIP},
		"IPv4 in octal":         {in: "012.0.0.5", err: errHostIP},
		"IPv4 short":            {in: "10.5", err: errHostIP},
		"IPv4 out of range":     {in: "10.0.0.256", err: errHostIP},
		"last label a number":   {in: "admin.example.123", err: errHostIP},
		"last label hex number": {in: "admin.0x1f", err: errHostIP},
		"too long":              {in: strings.Repeat("a.", 140) + "com", err: errHostLength},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := normalizeHost(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("normalizeHost(%q) error %v, want %v", tc.in, err, tc.err)
			}
			if err == nil && got != tc.want {
				t.Fatalf("normalizeHost(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRequestTarget(t *testing.T) {
	cases := map[string]struct {
		host, target, wantHost, wantPath string
		err                              error
	}{
		"origin-form":               {host: "h", target: "/a?b", wantHost: "h", wantPath: "/a?b"},
		"relative":                  {host: "h", target: "docs/a", err: errTargetForm},
		"relative, userinfo-like":   {host: "h", target: "@evil.com/x", err: errTargetForm},
		"query only":                {host: "h", target: "?q", err: errTargetForm},
		"empty":                     {host: "h", target: "", err: errTargetForm},
		"asterisk":                  {host: "h", target: "*", err: errTargetForm},
		"backslash first":           {host: "h", target: `\\evil\admin`, err: errTargetForm},
		"absolute-form":             {host: "h", target: "http://h/admin/x", wantHost: "h", wantPath: "/admin/x"},
		"absolute-form https ports": {host: "h:443", target: "HTTPS://H:8443/admin", wantHost: "H:8443", wantPath: "/admin"},
		"absolute-form no path":     {host: "h", target: "http://h", wantHost: "h", wantPath: "/"},
		"absolute-form query only":  {host: "h", target: "http://h?x=1", wantHost: "h", wantPath: "/?x=1"},
		"absolute-form, no host":    {host: "", target: "http://h/x", wantHost: "h", wantPath: "/x"},
		"another host":              {host: "admin.example.com", target: "http://evil/admin/x", err: errTargetHost},
		"userinfo":                  {host: "h", target: "http://evil@h/admin", err: errTargetUserinfo},
		"scheme without slashes":    {host: "h", target: "http:/evil/admin", err: errTargetScheme},
		"another scheme":            {host: "h", target: "ftp://h/admin", err: errTargetScheme},
		"authority-form":            {host: "h", target: "h:443", err: errTargetScheme},
		"absolute-form bad host":    {host: "h", target: "http://h%2e/x", err: errTargetHost},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			host, path, err := requestTarget(tc.host, tc.target)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && (host != tc.wantHost || path != tc.wantPath) {
				t.Fatalf("requestTarget(%q, %q) = %q, %q; want %q, %q", tc.host, tc.target, host, path, tc.wantHost, tc.wantPath)
			}
		})
	}
}

func TestHostPatterns(t *testing.T) {
	cases := []struct {
		pattern, host string
		want          bool
	}{
		{"*", "anything.example.com:8443", true},
		{"api.example.com", "api.example.com", true},
		{"api.example.com", "API.Example.COM:443", true},
		{"api.example.com", "api.example.com.", true},
		{"api.example.com", "api.example.com.evil.com", false},
		{"API.example.com", "api.example.com", true},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com:80", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "evilexample.com", false},
		{"orders", "orders:8080", true},
		{"[::1]", "[::1]:9000", true},
		{"localhost", "", false},
	}
	for _, tc := range cases {
		rule, errs := policy.CompileRule(policy.RuleSpec{Hosts: []string{tc.pattern}}, "r", policy.SourceConfig, true, nil)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", tc.pattern, errs)
		}
		host, err := normalizeHost(tc.host)
		if err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		matched := policy.NewRoutes([]*policy.Rule{rule}, policy.Deny).Match(host, policy.SplitPath("/", nil), "GET") == rule
		if got := matched; got != tc.want {
			t.Errorf("%s matches %s = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
	for _, bad := range []string{"", "https://a.com", "a.com/x", "a.com:443"} {
		if _, errs := policy.CompileRule(policy.RuleSpec{Hosts: []string{bad}}, "r", policy.SourceConfig, true, nil); len(errs) == 0 {
			t.Errorf("host pattern %q accepted", bad)
		}
	}
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"api.example.com", "API.example.com:443", "evil@admin", "[::1]:80", "0x7f.1", "a..b", "xn--bcher-kva.example", "10.0.0.1", "h.", "[fe80::1%25x]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := normalizeHost(in)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "@/\\% ,") || got != strings.ToLower(got) {
			t.Fatalf("normalizeHost(%q) = %q", in, got)
		}
		if !strings.HasPrefix(got, "[") && strings.Contains(got, ":") {
			t.Fatalf("normalizeHost(%q) = %q keeps a port", in, got)
		}
		again, err := normalizeHost(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, got, again, err)
		}
	})
}

func TestSameHost(t *testing.T) {
	cases := map[string]struct {
		a, b string
		want bool
	}{
		"equal":                 {"app.example.com", "app.example.com", true},
		"case":                  {"App.Example.COM", "app.example.com", true},
		"trailing dot":          {"app.example.com.", "app.example.com", true},
		"a port on one":         {"app.example.com:8443", "app.example.com", true},
		"different ports":       {"app.example.com:8443", "app.example.com:80", true},
		"IPv6 spellings":        {"[::1]:8080", "[0:0::1]", true},
		"other host":            {"admin.example.com", "status.example.com", false},
		"a sub-domain":          {"a.app.example.com", "app.example.com", false},
		"unreadable is unequal": {"evil@app.example.com", "app.example.com", false},
		"both unreadable":       {"a b", "a b", false},
		"empty":                 {"", "app.example.com", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := SameHost(tc.a, tc.b); got != tc.want {
				t.Fatalf("SameHost(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

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
