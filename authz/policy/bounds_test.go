package policy

import (
	"errors"
	"fmt"
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
	big := strings.Repeat("/a", 3000) // 6 KB of public-paths (one pattern, deep)
	for i := 0; i < 2000; i++ {
		ext := map[string]string{KeyPublicPaths: fmt.Sprintf("/n%d%s", i, big)}
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
