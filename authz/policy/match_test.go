package policy

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/betterauthz/betterauthz/jwks"
)

func claims(js string) jwks.Claims {
	var c jwks.Claims
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		panic(err)
	}
	return c
}

func TestPathPatterns(t *testing.T) {
	cases := []struct {
		pattern string
		path    string
		want    bool
	}{
		{"/healthz", "/healthz", true},
		{"/healthz", "/healthz/", false},
		{"/healthz", "/healthz/x", false},
		{"/healthz", "/Healthz", false},
		{"/", "/", true},
		{"/", "/a", false},
		{"/docs/**", "/docs", true},
		{"/docs/**", "/docs/", true},
		{"/docs/**", "/docs/a/b/c", true},
		{"/docs/**", "/docsx", false},
		{"/**", "/", true},
		{"/**", "/anything/at/all", true},
		{"/api/*/profile", "/api/42/profile", true},
		{"/api/*/profile", "/api/42/x/profile", false},
		{"/api/*", "/api/", false},
		{"/api/*", "/api/x", true},
		{"/api/**/edit", "/api/edit", true},
		{"/api/**/edit", "/api/a/b/edit", true},
		{"/api/**/edit", "/api/a/b/edit/x", false},
		{"/static/*.css", "/static/site.css", true},
		{"/static/*.css", "/static/site.js", false},
		{"/static/*.css", "/static/a/site.css", false},
		{"/v*/users", "/v2/users", true},
		{"/a/*b*c", "/a/xbyc", true},
		{"/a/*b*c", "/a/xbyd", false},
		{"/dir/", "/dir/", true},
		{"/dir/", "/dir", false},
		// Encoded separators stay inside a segment: they never match across one.
		{"/public/**", "/public%2F..%2Fadmin", false},
	}
	for _, tc := range cases {
		pp, err := compilePath(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		if got := pp.match(SplitPath(tc.path, nil)); got != tc.want {
			t.Errorf("%s matches %s = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestBadPathPatterns(t *testing.T) {
	for _, p := range []string{"", "docs", "/a//b", "/a/../b", "/a/./b", "/a**", "/**x/y", "/a?b", "/a%2Fb", "/a;b", `/a\b`} {
		if _, err := compilePath(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

func TestClaimRequirements(t *testing.T) {
	c := claims(`{"sub":"u1","role":"admin,user","roles":["editor","viewer"],"emailVerified":true,
		"plan":"pro","tier":3,"score":2.5,"big":12345678901234567890,"name":"x,admin",
		"org":{"id":"o1","role":"owner, member","flags":{"beta":false}}}`)
	cases := map[string]struct {
		spec map[string]any
		want bool
	}{
		"string equal":                  {map[string]any{"plan": "pro"}, true},
		"string differs":                {map[string]any{"plan": "free"}, false},
		"any of list":                   {map[string]any{"plan": []any{"free", "pro"}}, true},
		"comma-joined role":             {map[string]any{"role": []any{"admin"}}, true},
		"comma-joined role, other":      {map[string]any{"role": "user"}, true},
		"comma-joined role, whole":      {map[string]any{"role": "admin,user"}, true},
		"comma-joined role, absent":     {map[string]any{"role": "owner"}, false},
		"role substring is not a role":  {map[string]any{"role": "adm"}, false},
		"other strings are not split":   {map[string]any{"name": "admin"}, false},
		"array claim":                   {map[string]any{"roles": "viewer"}, true},
		"array claim, none":             {map[string]any{"roles": []any{"admin", "owner"}}, false},
		"bool":                          {map[string]any{"emailVerified": true}, true},
		"bool false":                    {map[string]any{"emailVerified": false}, false},
		"bool is not a string":          {map[string]any{"emailVerified": "true"}, false},
		"int":                           {map[string]any{"tier": 3}, true},
		"int as float":                  {map[string]any{"tier": 3.0}, true},
		"int differs":                   {map[string]any{"tier": 4}, false},
		"number is not a string":        {map[string]any{"tier": "3"}, false},
		"float":                         {map[string]any{"score": 2.5}, true},
		"big integer exact":             {map[string]any{"big": uint64(12345678901234567890)}, true},
		"nested":                        {map[string]any{"org.id": "o1"}, true},
		"nested comma role with spaces": {map[string]any{"org.role": "member"}, true},
		"nested bool":                   {map[string]any{"org.flags.beta": false}, true},
		"missing claim":                 {map[string]any{"nope": "x"}, false},
		"all keys must match":           {map[string]any{"plan": "pro", "tier": 4}, false},
		"all keys match":                {map[string]any{"plan": "pro", "tier": 3, "role": "admin"}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, errs := CompileRule(RuleSpec{Claims: tc.spec}, "r", "test", true, nil)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			_, missing := r.MissingClaim(c)
			if !missing != tc.want {
				t.Fatalf("satisfied = %v, want %v", !missing, tc.want)
			}
		})
	}
}

func TestBadClaimSpecs(t *testing.T) {
	for name, spec := range map[string]map[string]any{
		"null":        {"role": nil},
		"empty list":  {"role": []any{}},
		"object":      {"role": map[string]any{"a": 1}},
		"bad path":    {"org..id": "x"},
		"nested list": {"role": []any{[]any{"a"}}},
	} {
		if _, errs := CompileRule(RuleSpec{Claims: spec}, "r", "test", true, nil); len(errs) == 0 {
			t.Errorf("%s accepted", name)
		}
	}
	if _, errs := CompileRule(RuleSpec{Policy: "public", Claims: map[string]any{"role": "admin"}}, "r", "test", true, nil); len(errs) == 0 {
		t.Error("claims on a public rule accepted")
	}
}

// TestRouteIndexAgreesWithALinearScan: the trie index must pick exactly the rule a scan of the
// routes in order would, for random rule sets and requests.
func TestRouteIndexAgreesWithALinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	segs := []string{"a", "b", "api", "Api", "v1", "*", "**", "x*", "*.css"}
	pick := func(n int) []string {
		return []string{segs[rng.IntN(len(segs))], segs[rng.IntN(len(segs))], segs[rng.IntN(len(segs))]}[:n]
	}
	checked := 0
	defer func() {
		if checked < 200 {
			t.Errorf("only %d of 300 random rule sets were valid", checked)
		}
	}()
	for round := range 300 {
		var specs []RuleSpec
		for range 1 + rng.IntN(30) {
			var paths []string
			for range rng.IntN(3) {
				p := "/" + strings.Join(pick(rng.IntN(4)), "/")
				if strings.Count(p, "**") > 1 {
					continue
				}
				paths = append(paths, p)
			}
			spec := RuleSpec{Paths: paths}
			if rng.IntN(4) == 0 {
				spec.Methods = []string{"POST"}
			}
			specs = append(specs, spec)
		}
		rules, errs := CompileRules(specs, "routes", "config", true, nil)
		if len(errs) > 0 {
			continue // an invalid random pattern
		}
		checked++
		idx := buildRouteIndex(rules)
		for range 50 {
			var parts []string
			for range rng.IntN(5) {
				parts = append(parts, []string{"a", "b", "api", "API", "v1", "V1", "site.css", "xy", "z"}[rng.IntN(9)])
			}
			path := "/" + strings.Join(parts, "/")
			if rng.IntN(3) == 0 {
				path += "/"
			}
			method := []string{"GET", "POST"}[rng.IntN(2)]
			rp := SplitPath(path, nil)
			for _, reading := range []Path{rp, rp.Folded(nil)} {
				var want *Rule
				for _, r := range rules {
					if r.matches("h", reading, method) {
						want = r
						break
					}
				}
				if got := idx.first("h", reading, method); got != want {
					t.Fatalf("round %d: %s %s (fold %v): index chose %v, scan %v (rules %+v)", round, method, path, reading.fold, name(got), name(want), specs)
				}
			}
		}
	}
}

func name(r *Rule) string {
	if r == nil {
		return "<none>"
	}
	return r.Name
}

// matchSegmentsRecursive is the obvious matcher, exponential in the number of "**": the
// reference the linear one must agree with.
func matchSegmentsRecursive(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(segs); i++ {
				if matchSegmentsRecursive(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 || !globMatch(pat[0], segs[0]) {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

func TestSegmentMatchAgreesWithTheRecursiveOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	patSegs := []string{"a", "b", "*", "**", "a*", "*b"}
	reqSegs := []string{"a", "b", "ab", "ba", "c"}
	for range 20000 {
		pat := make([]string, rng.IntN(6))
		for i := range pat {
			pat[i] = patSegs[rng.IntN(len(patSegs))]
		}
		segs := make([]string, rng.IntN(7))
		for i := range segs {
			segs[i] = reqSegs[rng.IntN(len(reqSegs))]
		}
		if got, want := matchSegments(pat, segs), matchSegmentsRecursive(pat, segs); got != want {
			t.Fatalf("%v against %v: %v, want %v", pat, segs, got, want)
		}
	}
}

// A pattern with several "**" against a deep path that almost matches: exponential backtracking
// would not finish (this test then times out); the linear matcher takes a few million steps.
func TestManyDoubleStarsAgainstADeepPath(t *testing.T) {
	pp, err := compilePath("/**/a/**/b/**/c/**/d/**/e")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.Repeat("/a/b/c/d", 1024/4-1) + "/x" // as deep as authz reads (MaxPathSegments)
	if pp.match(SplitPath(path, nil)) {
		t.Fatal("matched a path without e")
	}
}

func TestDeepPathsDoNotOverflowTheIndex(t *testing.T) {
	deep := "/" + strings.Repeat("a/", 30) + "b"
	rules, errs := CompileRules([]RuleSpec{{Paths: []string{deep}, Policy: "public"}}, "routes", "config", true, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := buildRouteIndex(rules).first("h", SplitPath(deep, nil), "GET"); got != rules[0] {
		t.Fatalf("a 31-segment path matched %v", name(got))
	}
}
