package authz

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	const max = 100
	cases := map[string]struct {
		in   string
		want string
		err  error
	}{
		"bearer":               {in: "Bearer a.b.c", want: "a.b.c"},
		"scheme any case":      {in: "bEaReR a.b.c", want: "a.b.c"},
		"extra spaces":         {in: "  Bearer    a.b.c  ", want: "a.b.c"},
		"empty":                {in: "", err: errNoToken},
		"blank":                {in: "   ", err: errNoToken},
		"basic":                {in: "Basic dXNlcjpwYXNz", err: errScheme},
		"token without scheme": {in: "a.b.c", err: errScheme},
		"bearer alone":         {in: "Bearer", err: errEmptyToken},
		"bearer and spaces":    {in: "Bearer   ", err: errEmptyToken},
		"two credentials":      {in: "Bearer a.b.c,Bearer d.e.f", err: errSeveralTokens},
		"space inside":         {in: "Bearer a.b c", err: errSeveralTokens},
		"tab inside":           {in: "Bearer a.b\tc", err: errSeveralTokens},
		"too large":            {in: "Bearer " + strings.Repeat("a", max+1), err: errTokenTooLarge},
		"header far too large": {in: "Bearer " + strings.Repeat("a", 10*max), err: errTokenTooLarge},
		"just fits":            {in: "Bearer " + strings.Repeat("a", max), want: strings.Repeat("a", max)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseBearer(tc.in, max)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("parseBearer(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer a.b.c", "bearer x", "Basic x", "", "Bearer a,Bearer b", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tok, err := parseBearer(in, 64)
		if err != nil {
			if tok != "" {
				t.Fatalf("token %q with error %v", tok, err)
			}
			return
		}
		if tok == "" || len(tok) > 64 || strings.ContainsAny(tok, " \t,") {
			t.Fatalf("parseBearer(%q) = %q", in, tok)
		}
		if !strings.Contains(in, tok) {
			t.Fatalf("token %q is not part of %q", tok, in)
		}
	})
}
