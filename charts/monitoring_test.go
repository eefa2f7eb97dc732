package charts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func promtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package (.ci/run does)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPrometheusRuleWithPromtool: the rendered PrometheusRule's groups pass `promtool check
// rules`, and `promtool test rules` (charts/testdata/rules_test.yaml) shows each alert firing
// when it should and not before, for this release's series only.
func TestPrometheusRuleWithPromtool(t *testing.T) {
	objs := objects(t, "--set", "prometheusRule.enabled=true", "--set", "grpcTLS.secretName=betterauthz-tls")
	pr := one(t, objs, "PrometheusRule")
	groups := nested(t, pr, "spec", "groups")
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rules.yaml"), b, 0o644)
	unit, err := os.ReadFile("testdata/rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "rules_test.yaml"), unit, 0o644)
	promtool(t, dir, "check", "rules", "rules.yaml")
	promtool(t, dir, "test", "rules", "rules_test.yaml")

	var alerts []string
	for _, r := range groups.([]any)[0].(map[string]any)["rules"].([]any) {
		alerts = append(alerts, r.(map[string]any)["alert"].(string))
	}
	want := []string{"BetterauthzNotReady", "BetterauthzKeysStale", "BetterauthzConfigReloadFailed", "BetterauthzDenialSpike", "BetterauthzTLSCertificateExpiring"}
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
	checkMetricNames(t, string(b))

	// Without TLS there is no certificate to alert on.
	plain := one(t, objects(t, "--set", "prometheusRule.enabled=true"), "PrometheusRule")
	if b, _ := yaml.Marshal(plain.Object); strings.Contains(string(b), "BetterauthzTLSCertificateExpiring") {
		t.Error("certificate alert without grpcTLS")
	}
}

// TestGrafanaDashboard: the dashboard ConfigMap holds valid dashboard JSON, and every panel's
// query is PromQL that promtool accepts (as a recording rule, with Grafana's variables
// substituted) over metrics betterauthz exports.
func TestGrafanaDashboard(t *testing.T) {
	cm := one(t, objects(t, "--set", "grafanaDashboard.enabled=true", "--set", "configMap.create=false", "--set", "configMap.name=x"), "ConfigMap")
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("labels %v lack the Grafana sidecar's grafana_dashboard", cm.GetLabels())
	}
	data := nested(t, cm, "data", "betterauthz.json").(string)
	var dash struct {
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(data), &dash); err != nil || dash.UID == "" || len(dash.Panels) < 8 {
		t.Fatalf("dashboard JSON (%v): uid %q, %d panels", err, dash.UID, len(dash.Panels))
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$namespace", ".*", "$service", ".*")
	var rules []map[string]string
	for i, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for j, tg := range p.Targets {
			rules = append(rules, map[string]string{"record": fmt.Sprintf("panel_%d_%d", i, j), "expr": vars.Replace(tg.Expr)})
		}
	}
	b, _ := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "dashboard.yaml"), b, 0o644)
	promtool(t, dir, "check", "rules", "dashboard.yaml")
	checkMetricNames(t, data)

	if len(find(objects(t), "PrometheusRule")) != 0 || len(find(objects(t), "ConfigMap")) != 1 {
		t.Error("the PrometheusRule or the dashboard is rendered by default")
	}
}

// checkMetricNames: every betterauthz_ metric a query names is one betterauthz registers (its
// name is in internal/metrics), so that a renamed metric cannot leave an alert silent.
func checkMetricNames(t *testing.T, text string) {
	t.Helper()
	var src strings.Builder
	files, _ := filepath.Glob("../internal/metrics/*.go")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		src.Write(b)
	}
	seen := map[string]bool{}
	for _, name := range regexp.MustCompile(`betterauthz_[a-z_]+`).FindAllString(text, -1) {
		base := regexp.MustCompile(`_(bucket|sum|count)$`).ReplaceAllString(name, "")
		if seen[base] {
			continue
		}
		seen[base] = true
		quoted := `"` + base + `"`
		if cache, ok := strings.CutPrefix(base, "betterauthz_token_cache_"); ok {
			quoted = `"` + cache + `"` // named by the token cache's d()
		}
		if !strings.Contains(src.String(), quoted) {
			t.Errorf("%s is not a metric betterauthz exports", base)
		}
	}
	if len(seen) < 5 {
		t.Errorf("only %d betterauthz metrics named: %v", len(seen), seen)
	}
}

// TestOperationalDefaults: the pod's Go memory limit follows its container's, a startup probe
// holds off the liveness probe, and the gRPC connection flags reach the binary, whose serve
// command knows every flag the chart passes.
func TestOperationalDefaults(t *testing.T) {
	c := container(t, objects(t))
	var gomem map[string]any
	for _, e := range c["env"].([]any) {
		if e.(map[string]any)["name"] == "GOMEMLIMIT" {
			gomem = e.(map[string]any)
		}
	}
	ref, _ := gomem["valueFrom"].(map[string]any)["resourceFieldRef"].(map[string]any)
	if ref["resource"] != "limits.memory" || ref["divisor"] != "1" || ref["containerName"] != "betterauthz" {
		t.Errorf("GOMEMLIMIT %v, want the downward API's limits.memory in bytes", gomem)
	}
	sp, _ := c["startupProbe"].(map[string]any)
	if sp == nil || sp["httpGet"].(map[string]any)["path"] != "/healthz" || fmt.Sprint(sp["failureThreshold"]) != "60" {
		t.Errorf("startupProbe %v", sp)
	}
	args := toStrings(c["args"])
	for _, want := range []string{"--grpc-max-connection-age=5m", "--grpc-max-connection-age-grace=30s"} {
		if !slices.Contains(args, want) {
			t.Errorf("args %v lack %s", args, want)
		}
	}
	// A GOMEMLIMIT of the user's own wins (no duplicate variable).
	own := container(t, objects(t, "--set", "extraEnv[0].name=GOMEMLIMIT", "--set", "extraEnv[0].value=100MiB"))
	n := 0
	for _, e := range own["env"].([]any) {
		if e.(map[string]any)["name"] == "GOMEMLIMIT" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d GOMEMLIMIT variables with one in extraEnv, want 1", n)
	}

	tls := container(t, objects(t, "--set", "grpcTLS.secretName=srv", "--set", "grpcTLS.clientCASecretName=srv"))
	targs := toStrings(tls["args"])
	help, _ := exec.Command(betterauthzBin(t), "serve", "-h").CombinedOutput()
	for _, a := range append(targs, args...) {
		flag, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.Contains(string(help), "-"+flag+" ") && !strings.Contains(string(help), "-"+flag+"\n") {
			t.Errorf("the chart passes --%s, which betterauthz serve does not know", flag)
		}
	}
	for _, want := range []string{"--grpc-tls-cert=/etc/betterauthz/grpc-tls/tls.crt", "--grpc-tls-key=/etc/betterauthz/grpc-tls/tls.key", "--grpc-client-ca=/etc/betterauthz/grpc-client-ca/ca.crt"} {
		if !slices.Contains(targs, want) {
			t.Errorf("TLS args %v lack %s", targs, want)
		}
	}
	mounts := map[string]bool{}
	for _, m := range tls["volumeMounts"].([]any) {
		mounts[m.(map[string]any)["mountPath"].(string)] = true
		if m.(map[string]any)["subPath"] != nil {
			t.Error("a subPath mount is never updated by the kubelet")
		}
	}
	if !mounts["/etc/betterauthz/grpc-tls"] || !mounts["/etc/betterauthz/grpc-client-ca"] {
		t.Errorf("TLS mounts %v", mounts)
	}
	if _, err := helm(t, append([]string{"template", "rel", chart, "--set", "grpcTLS.clientCASecretName=ca"}, withAuthURL...)...); err == nil || !strings.Contains(err.Error(), "grpcTLS.clientCASecretName needs grpcTLS.secretName") {
		t.Errorf("mTLS without a server certificate: %v", err)
	}
}

func container(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	return nested(t, one(t, objs, "Deployment"), "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
}
