package charts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestConfigTyposFailTheInstall: the chart's values.schema.json holds the config's generated
// schema as the `config` value's, so a typo in the config fails helm install/template before
// anything reaches the cluster, naming the key.
func TestConfigTyposFailTheInstall(t *testing.T) {
	cases := map[string]struct{ values, want string }{
		"unknown key":            {"config:\n  clockskew: 1s\n", "clockskew"},
		"unknown key in a route": {"config:\n  routes:\n    - {paths: [/x], polcy: public}\n", "polcy"},
		"policy not a policy":    {"config:\n  routes:\n    - {paths: [/x], policy: open}\n", "/config/routes/0/policy"},
		"default policy":         {"config:\n  defaultPolicy: allow\n", "/config/defaultPolicy"},
		"algorithm":              {"config:\n  algorithms: [HS256]\n", "/config/algorithms/0"},
		"number":                 {"config:\n  cache: {maxEntries: lots}\n", "/config/cache/maxEntries"},
		"boolean":                {"config:\n  allowCORSPreflight: \"yes\"\n", "/config/allowCORSPreflight"},
		"own value":              {"config:\n  betterAuthURL: https://auth.example.com\n", "betterAuthURL"},
		"duration not a string":  {"config:\n  clockSkew: [30s]\n", "/config/clockSkew"},
	}
	// A duration's form is the templates' to check, in betterauthz's words: values_test.go.
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "values.yaml")
			os.WriteFile(f, []byte("betterAuthURL: https://auth.example.com\n"+tc.values), 0o644)
			_, err := helm(t, "template", "rel", chart, "-f", f)
			if err == nil {
				t.Fatal("helm template accepted it")
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not name %q:\n%v", tc.want, err)
			}
		})
	}
}

// validConfigs are the config test fixtures betterauthz accepts.
func validConfigs(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, _ := filepath.Glob("../internal/config/testdata/valid/*.yaml")
	if len(files) < 5 {
		t.Fatalf("valid config fixtures: %v", files)
	}
	out := map[string]map[string]any{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = doc
	}
	return out
}

// TestValidConfigsPassTheSchemas: every valid config fixture passes the chart's `config`
// schema (as the chart takes it: betterAuthURL and annotations from their own values) and the
// editors' docs/config.schema.json (through a chart whose values are the config itself, so that
// Helm's own validator checks it).
func TestValidConfigsPassTheSchemas(t *testing.T) {
	bare := t.TempDir()
	os.MkdirAll(filepath.Join(bare, "templates"), 0o755)
	os.WriteFile(filepath.Join(bare, "Chart.yaml"), []byte("apiVersion: v2\nname: config\nversion: 0.0.1\n"), 0o644)
	schema, err := os.ReadFile("../docs/config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bare, "values.schema.json"), schema, 0o644)
	os.WriteFile(filepath.Join(bare, "templates", "none.yaml"), []byte("# nothing\n"), 0o644)

	for name, doc := range validConfigs(t) {
		t.Run(name, func(t *testing.T) {
			full := filepath.Join(t.TempDir(), "config.yaml")
			b, _ := yaml.Marshal(doc)
			os.WriteFile(full, b, 0o644)
			if _, err := helm(t, "template", "x", bare, "-f", full); err != nil {
				t.Errorf("docs/config.schema.json refuses it: %v", err)
			}

			values := map[string]any{"betterAuthURL": "https://auth.example.com"}
			if u, ok := doc["betterAuthURL"].(string); ok {
				values["betterAuthURL"] = u
			}
			if _, several := doc["issuers"]; several {
				delete(values, "betterAuthURL") // each issuer has its own
			}
			delete(doc, "betterAuthURL")
			delete(doc, "annotations")
			values["config"] = doc
			vf := filepath.Join(t.TempDir(), "values.yaml")
			b, _ = yaml.Marshal(values)
			os.WriteFile(vf, b, 0o644)
			if _, err := helm(t, "template", "rel", chart, "-f", vf); err != nil {
				t.Errorf("the chart refuses it: %v", err)
			}
		})
	}

	f := filepath.Join(t.TempDir(), "typo.yaml")
	os.WriteFile(f, []byte("clockskew: 1s\n"), 0o644)
	if _, err := helm(t, "template", "x", bare, "-f", f); err == nil || !strings.Contains(err.Error(), "clockskew") {
		t.Errorf("docs/config.schema.json accepts a typo: %v", err)
	}
}
