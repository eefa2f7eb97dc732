package policy

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Rules from annotations and Envoy routes are written by people the platform owner does not
// trust as it trusts the config's author: what they write is bounded, and YAML's anchors and
// aliases (a few kilobytes that expand to gigabytes) are refused.
func TestObjectRulesAreBounded(t *testing.T) {
	laughs := "- name: x\n  claims:\n    a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'i'; i++ {
		prev := string(i - 1)
		laughs += fmt.Sprintf("    %c: &%c [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", i, i, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	manyRules := strings.Repeat("- {paths: [/x], policy: deny}\n", MaxObjectRules+1)
	var paths []string
	for i := range MaxObjectPaths + 1 {
		paths = append(paths, fmt.Sprintf("/p%d", i))
	}
	cases := map[string]struct {
		kv   map[string]string
		want string
	}{
		"an alias": {map[string]string{KeyRules: "- &r {paths: [/admin/**], policy: deny}\n- *r"},
			"betterauthz.io/rules: YAML anchors and aliases (&name, *name) are not accepted here: write the values out (line 1)"},
		"an anchor alone":         {map[string]string{KeyRules: "- {paths: &p [/admin/**], policy: deny}"}, "YAML anchors and aliases"},
		"a billion laughs":        {map[string]string{KeyRules: laughs}, "YAML anchors and aliases"},
		"too many bytes":          {map[string]string{KeyPublicPaths: "/" + strings.Repeat("a", MaxPolicyBytes)}, "more than 32768"},
		"too many rules":          {map[string]string{KeyRules: manyRules}, "lists 65 rules, more than 64"},
		"too many paths":          {map[string]string{KeyPublicPaths: strings.Join(paths, ",")}, "list 257 path patterns, more than 256"},
		"a name too long":         {map[string]string{KeyRules: "- name: " + strings.Repeat("n", MaxRuleName+1)}, "is 257 bytes, more than 256"},
		"a long value is clipped": {map[string]string{KeyPolicy: strings.Repeat("x", 10_000)}, strings.Repeat("x", 200)},
		"thousands of problems":   {map[string]string{KeyPublicPaths: strings.TrimSuffix(strings.Repeat("a,", 16_000), ",")}, "and 15990 more problems"},
		"a pattern too deep":      {map[string]string{KeyPublicPaths: strings.Repeat("/a", 33)}, "deeper than 32 segments"},
		"too many segments":       {map[string]string{KeyPublicPaths: strings.TrimSuffix(strings.Repeat(strings.Repeat("/a", 30)+",", 40), ",")}, "have 1200 segments in all, more than 1024"},
		"too many claim values":   {map[string]string{KeyRules: "- claims: {role: [" + strings.TrimSuffix(strings.Repeat("x, ", 300), ", ") + "]}"}, "list 300 values, more than 256"},
		"too many methods":        {map[string]string{KeyRules: "- methods: [" + strings.TrimSuffix(strings.Repeat("GET, ", 40), ", ") + "]"}, "lists 40 methods, more than 32"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := ParseObjectRules(tc.kv, "Service shop/x")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
			if len(err.Error()) > 1024 {
				t.Errorf("the error repeats the value: %d bytes", len(err.Error()))
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
	// Just under every bound is fine.
	ok := map[string]string{KeyRules: strings.Repeat("- {paths: [/x], policy: deny}\n", MaxObjectRules), KeyPublicPaths: strings.Join(paths[:MaxObjectPaths-MaxObjectRules], ",")}
	if _, err := ParseObjectRules(ok, "Service shop/x"); err != nil {
		t.Errorf("within the bounds: %v", err)
	}
}

// The config (the platform owner's) may use aliases, but no document expands without bound.
func TestConfigAliasesAreBounded(t *testing.T) {
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'j'; i++ {
		prev := string(i - 1)
		doc += fmt.Sprintf("%c: &%c [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", i, i, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	var out map[string]any
	start := time.Now()
	res := Decode([]byte(doc), &out, "")
	// yaml.v3 refuses the expansion itself where values are decoded generically, the decoder's
	// node count where they are decoded field by field.
	if len(res.Errs) == 0 || !strings.Contains(res.Errs[0].Error(), "excessive aliasing") {
		t.Fatalf("errors %v", res.Errs)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s", d)
	}
	var routes []RuleSpec
	doc = "- &r {paths: [/a], policy: deny}\n" + strings.Repeat("- *r\n", maxDecodedNodes/4)
	if res := Decode([]byte(doc), &routes, "routes"); len(res.Errs) == 0 || !strings.Contains(res.Errs[0].Error(), "more than 100000 values") {
		t.Errorf("%d routes decoded, errors %v", len(routes), res.Errs)
	}
	var small []RuleSpec
	if res := Decode([]byte("- &r {paths: [/a], policy: deny}\n- *r\n"), &small, "routes"); len(res.Errs) != 0 || len(small) != 2 {
		t.Errorf("a config's alias: %v %+v", res.Errs, small)
	}
}

// The parsed context_extensions cache is bounded in bytes as well as in entries; a set over the
// byte bound is refused before it is parsed or kept.
func TestExtensionsCacheIsBoundedInBytes(t *testing.T) {
	var e Extensions
	var b strings.Builder
	for j := range MaxObjectRules {
		fmt.Fprintf(&b, "- {name: r%d-%s, paths: [/a/%d/b/c], claims: {role: [a, b, c]}}\n", j, strings.Repeat("n", 200), j)
	}
	rules := b.String() // about 17 KB
	for i := 0; i < 2000; i++ {
		ext := map[string]string{KeyRules: fmt.Sprintf("# %d\n", i) + rules}
		if _, err := e.Rules(ext, Limits{}); err != nil {
			t.Fatal(err)
		}
	}
	if b := e.bytes.Load(); b > maxCachedExtensionBytes || e.count.Load() >= 2000 {
		t.Errorf("cache holds %d bytes in %d entries", b, e.count.Load())
	}
	huge := map[string]string{KeyPublicPaths: "/" + strings.Repeat("b", MaxPolicyBytes)}
	before := e.count.Load()
	if _, err := e.Rules(huge, Limits{}); err == nil || !strings.Contains(err.Error(), "more than 32768") {
		t.Errorf("a set over the bound: %v", err)
	}
	if e.count.Load() != before {
		t.Error("a refused set was cached")
	}
}

// Rules from an Envoy route carry the route metric label "extensions", whatever their name:
// whoever writes Envoy routes must not be able to make a metric series per name.
func TestRuleLabels(t *testing.T) {
	var e Extensions
	op, err := e.Rules(map[string]string{KeyRules: "- {name: customer-4711, paths: [/x], policy: deny}"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if l := op.Rules[0].Label(); l != LabelExtensions {
		t.Errorf("label %q", l)
	}
	ann, _ := ParseObjectRules(map[string]string{KeyPolicy: "deny"}, "Service a/b")
	if l := ann.Default.Label(); l != LabelAnnotation {
		t.Errorf("annotation label %q", l)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	c := Clip(long)
	if len(c) > maxLoggedValue || !strings.HasSuffix(c, "…") || !strings.HasPrefix(long, strings.TrimSuffix(c, "…")) {
		t.Errorf("%d bytes: %q", len(c), c)
	}
	if Clip("short") != "short" {
		t.Error("a short value changed")
	}
	if !errors.Is(fmt.Errorf("x: %w", ErrAliases), ErrAliases) {
		t.Error("ErrAliases does not wrap")
	}
}

// The extensions cache counts what an entry really holds: for the worst shapes the bounds allow,
// the heap an entry takes stays within the bytes it is counted for.
func TestExtensionsCacheCountsWhatEntriesHold(t *testing.T) {
	shapes := map[string]func(i int) map[string]string{
		"long rule names": func(i int) map[string]string {
			var b strings.Builder
			for j := range MaxObjectRules {
				fmt.Fprintf(&b, "- {name: r%d-%d-%s, paths: [/a/%d], policy: deny}\n", i, j, strings.Repeat("n", 200), j)
			}
			return map[string]string{KeyRules: b.String()}
		},
		"claim values": func(i int) map[string]string {
			var vs []string
			for j := range MaxObjectClaimValues {
				vs = append(vs, fmt.Sprintf("v%d-%d", i, j))
			}
			return map[string]string{KeyRules: "- claims: {role: [" + strings.Join(vs, ", ") + "]}"}
		},
		"short segments": func(i int) map[string]string {
			var ps []string
			for j := range MaxObjectPaths {
				ps = append(ps, fmt.Sprintf("/p%d/%d/a/b", i, j))
			}
			return map[string]string{KeyPublicPaths: strings.Join(ps, ",")}
		},
		"methods and paths": func(i int) map[string]string {
			var b strings.Builder
			for j := range MaxObjectRules {
				fmt.Fprintf(&b, "- {paths: [/m%d/%d/a/b], methods: [GET, PUT, POST, PATCH], claims: {a: [x, y, z]}}\n", i, j)
			}
			return map[string]string{KeyRules: b.String()}
		},
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			var e Extensions
			keyBytes := 0
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range 40 {
				ext := shape(i)
				if _, err := e.Rules(ext, Limits{}); err != nil {
					t.Fatal(err)
				}
				keyBytes += len(CanonicalKey(ext))
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			if counted := e.bytes.Load(); held > counted {
				t.Errorf("40 sets hold %d bytes of heap, counted as %d", held, counted)
			}
			runtime.KeepAlive(&e)
		})
	}
}
