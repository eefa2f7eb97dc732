package claims_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/jwks/claims"
)

func TestClaimsLookupAndString(t *testing.T) {
	var c claims.Claims
	dec := json.NewDecoder(strings.NewReader(`{"sub":"u1","role":"admin,user","emailVerified":true,"n":12345678901234567890,
		"image":null,"org":{"id":"o1","tags":["a","b"]},"https://x.example/claim":"dotted","list":[1,"two",false],"nested":[{"a":1}]}`))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		path  string
		want  string
		found bool
	}{
		"string":                  {"sub", "u1", true},
		"comma-joined roles kept": {"role", "admin,user", true},
		"bool":                    {"emailVerified", "true", true},
		"big number exact":        {"n", "12345678901234567890", true},
		"null":                    {"image", "", false},
		"absent":                  {"nope", "", false},
		"nested":                  {"org.id", "o1", true},
		"nested list":             {"org.tags", "a,b", true},
		"object":                  {"org", `{"id":"o1","tags":["a","b"]}`, true},
		"name with dots wins":     {"https://x.example/claim", "dotted", true},
		"mixed list":              {"list", "1,two,false", true},
		"list of objects":         {"nested", `[{"a":1}]`, true},
		"path through a scalar":   {"sub.x", "", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, ok := c.Lookup(tc.path)
			s, rendered := claims.String(v)
			if (ok && rendered) != tc.found || s != tc.want {
				t.Fatalf("Lookup(%q) = %q (found %v, rendered %v), want %q (%v)", tc.path, s, ok, rendered, tc.want, tc.found)
			}
		})
	}
}
