package scripts_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/testenv/envoyvalidate"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// block is a fenced code block of the README.
type block struct {
	lang, section, text string
	line                int
}

func readmeBlocks(t *testing.T) []block {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	section := ""
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "## "):
			section = strings.TrimPrefix(line, "## ")
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{lang: strings.TrimPrefix(line, "```"), section: section, line: i + 1}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	return out
}

func helmBin(t *testing.T) string {
	t.Helper()
	bins, err := kubeapi.Binaries("helm")
	if err != nil {
		t.Fatal(err)
	}
	return bins["helm"]
}

func runHelm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Dir = ".."
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func decodeObjects(t *testing.T, text string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kubeapi.DecodeObjects([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// renderedConfig checks the config.yaml a rendering holds and returns it.
func renderedConfig(t *testing.T, manifest string) *config.Settings {
	t.Helper()
	for _, o := range decodeObjects(t, manifest) {
		if o.GetKind() == "ConfigMap" {
			data, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
			s, err := config.Parse([]byte(data), func(string) string { return "" })
			if err != nil {
				t.Fatalf("rendered config.yaml is invalid: %v\n%s", err, data)
			}
			return s
		}
	}
	t.Fatal("no ConfigMap rendered")
	return nil
}

// TestREADMESnippets checks every code block in the README: shell commands run (as helm template
// where they install) or name files that exist; YAML is parsed as what it is — betterauthz
// config, chart values, Kubernetes objects (server-side dry run on a real API server with the
// Istio and Gateway API CRDs), Istio mesh config (Istio's MeshConfig proto) or Envoy config
// (Envoy's protos).
func TestREADMESnippets(t *testing.T) {
	api, err := kubeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	var crds [][]byte
	for _, load := range []func() ([]byte, error){kubeapi.IstioCRDs, kubeapi.GatewayAPICRDs} {
		c, err := load()
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, c)
	}
	if err := api.InstallCRDs(context.Background(), crds, schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"}); err != nil {
		t.Fatal(err)
	}
	cs, _ := kubernetes.NewForConfig(api.Admin)
	for _, ns := range []string{"betterauthz", "istio-system", "shop", "tasks"} {
		if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The controller manager (not running here) gives each namespace this; the chart's helm
		// test Pod runs as it.
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	checked := map[string]int{}
	for _, b := range readmeBlocks(t) {
		name := b.section + " (README.md line " + strconv.Itoa(b.line) + ")"
		kind := classify(b)
		checked[kind]++
		t.Run(name, func(t *testing.T) {
			switch kind {
			case "shell":
				checkShell(t, b.text)
			case "config":
				if _, err := config.Parse([]byte(b.text), func(string) string { return "" }); err != nil {
					t.Fatalf("config snippet is invalid: %v\n%s", err, b.text)
				}
			case "values":
				f := filepath.Join(t.TempDir(), "values.yaml")
				os.WriteFile(f, []byte(b.text), 0o644)
				out := runHelm(t, "template", "betterauthz", "charts/betterauthz", "-n", "betterauthz", "-f", f)
				var values struct {
					Config   map[string]any   `json:"config"`
					ExtraEnv []map[string]any `json:"extraEnv"`
				}
				if err := yaml.Unmarshal([]byte(b.text), &values); err != nil {
					t.Fatal(err)
				}
				if values.Config["routes"] != nil && len(renderedConfig(t, out).Routes) == 0 {
					t.Error("the values' routes did not reach the config")
				}
				for _, e := range values.ExtraEnv {
					if !strings.Contains(out, fmt.Sprintf("name: %v\n", e["name"])) {
						t.Errorf("extraEnv %v did not reach the Deployment", e["name"])
					}
				}
				if values.Config == nil && values.ExtraEnv == nil {
					t.Error("a values snippet that sets neither config nor extraEnv: nothing is checked")
				}
			case "kubernetes":
				for _, o := range decodeObjects(t, b.text) {
					if _, err := policy.ParseObjectRules(map[string]string(o.GetAnnotations()), "README"); err != nil {
						t.Errorf("%s %s: annotations: %v", o.GetKind(), o.GetName(), err)
					}
				}
				if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, []byte(b.text), "shop"); err != nil {
					t.Fatal(err)
				}
			case "meshconfig":
				var doc struct {
					MeshConfig any `json:"meshConfig"`
				}
				if err := yaml.Unmarshal([]byte(b.text), &doc); err != nil {
					t.Fatal(err)
				}
				js, _ := yaml.Marshal(doc.MeshConfig)
				var mc meshv1alpha1.MeshConfig
				if err := envoyvalidate.Check(js, &mc); err != nil {
					t.Fatal(err)
				}
				p := mc.GetExtensionProviders()[0].GetEnvoyExtAuthzGrpc()
				if p.GetPort() != 9000 || p.GetFailOpen() || p.GetService() != "betterauthz.betterauthz.svc.cluster.local" {
					t.Errorf("provider %v", p)
				}
			case "envoy-any":
				var a anypb.Any
				envoyvalidate.YAML(t, name, []byte(b.text), &a)
			case "envoy-route":
				var doc struct {
					TypedPerFilterConfig map[string]any `json:"typed_per_filter_config"`
				}
				if err := yaml.Unmarshal([]byte(b.text), &doc); err != nil {
					t.Fatal(err)
				}
				for k, v := range doc.TypedPerFilterConfig {
					js, _ := yaml.Marshal(v)
					var a anypb.Any
					envoyvalidate.YAML(t, k, js, &a)
				}
			case "output":
				// sample output, shown for orientation
			default:
				t.Fatalf("unclassified snippet:\n%s", b.text)
			}
		})
	}
	for _, kind := range []string{"shell", "config", "values", "kubernetes", "meshconfig", "envoy-any", "envoy-route"} {
		if checked[kind] == 0 {
			t.Errorf("no %s snippet found: has the README changed shape?", kind)
		}
	}

	// The --set variants the Install section mentions in prose.
	t.Run("istio mesh-wide via the chart", func(t *testing.T) {
		out := runHelm(t, "template", "betterauthz", "charts/betterauthz", "-n", "betterauthz", "--set", "betterAuthURL=https://auth.example.com",
			"--set", "istio.enabled=true", "--set", "istio.authorizationPolicy.namespace=istio-system", "--set-string", `podLabels.sidecar\.istio\.io/inject=false`)
		if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, []byte(out), "betterauthz"); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, o := range decodeObjects(t, out) {
			if o.GetKind() == "AuthorizationPolicy" && o.GetNamespace() == "istio-system" {
				found = true
			}
			if o.GetKind() == "Deployment" {
				if l, _, _ := unstructured.NestedString(o.Object, "spec", "template", "metadata", "labels", "sidecar.istio.io/inject"); l != "false" {
					t.Error("podLabels did not reach the pod template")
				}
			}
		}
		if !found {
			t.Error("no AuthorizationPolicy in istio-system")
		}
	})
	t.Run("istio per workload via the chart, and its NOTES snippet", func(t *testing.T) {
		kc := filepath.Join(t.TempDir(), "kubeconfig")
		if err := api.Kubeconfig(api.Admin, kc); err != nil {
			t.Fatal(err)
		}
		out := runHelm(t, "install", "betterauthz", "charts/betterauthz", "-n", "betterauthz", "--dry-run=client", "--kubeconfig", kc,
			"--set", "betterAuthURL=https://auth.example.com", "--set", "istio.enabled=true", "--set", "istio.authorizationPolicy.selector.app=orders")
		notes := out[strings.Index(out, "NOTES:"):]
		i := strings.Index(notes, "    meshConfig:")
		if i < 0 {
			t.Fatalf("NOTES lack the meshConfig snippet:\n%s", notes)
		}
		var lines []string
		for _, l := range strings.Split(notes[i:], "\n") {
			if l != "" && !strings.HasPrefix(l, "    ") {
				break
			}
			lines = append(lines, strings.TrimPrefix(l, "    "))
		}
		var doc struct {
			MeshConfig any `json:"meshConfig"`
		}
		if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &doc); err != nil {
			t.Fatal(err)
		}
		js, _ := yaml.Marshal(doc.MeshConfig)
		var mc meshv1alpha1.MeshConfig
		if err := envoyvalidate.Check(js, &mc); err != nil {
			t.Fatalf("NOTES snippet: %v\n%s", err, strings.Join(lines, "\n"))
		}
		if p := mc.GetExtensionProviders()[0].GetEnvoyExtAuthzGrpc(); p.GetService() != "betterauthz.betterauthz.svc.cluster.local" || p.GetPort() != 9000 {
			t.Errorf("NOTES provider %v", p)
		}
	})
}

func classify(b block) string {
	text := b.text
	switch {
	case b.lang == "sh":
		return "shell"
	case b.lang == "" && strings.HasPrefix(text, "$ "):
		return "output"
	case b.lang != "yaml":
		return "output"
	case strings.HasPrefix(text, "# values.yaml"):
		return "values"
	case strings.HasPrefix(text, "meshConfig:"):
		return "meshconfig"
	case strings.HasPrefix(text, `"@type"`):
		return "envoy-any"
	case strings.Contains(text, "typed_per_filter_config:"):
		return "envoy-route"
	case strings.Contains(text, "apiVersion:") && strings.Contains(text, "kind:"):
		return "kubernetes"
	default:
		return "config"
	}
}

// checkShell runs what it can of a shell snippet: helm installs as helm template, kubectl
// applies by checking the files exist (they are dry-run by the manifests tests).
func checkShell(t *testing.T, text string) {
	t.Helper()
	cmds := strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n")
	for _, c := range cmds {
		c = strings.TrimSpace(c)
		if i := strings.Index(c, "  #"); i >= 0 {
			c = strings.TrimSpace(c[:i])
		}
		f := strings.Fields(c)
		switch {
		case len(f) == 0:
		case f[0] == "helm" && len(f) > 3 && f[1] == "install":
			args := []string{"template", f[2], f[3]}
			for i := 4; i < len(f); i++ {
				switch f[i] {
				case "--create-namespace", "--wait":
				default:
					args = append(args, f[i])
				}
			}
			renderedConfig(t, runHelm(t, args...))
		case f[0] == "kubectl" && len(f) == 4 && f[1] == "apply" && f[2] == "-f":
			if _, err := os.Stat(filepath.Join("..", f[3])); err != nil {
				t.Error(err)
			}
		case f[0] == "kubectl" && len(f) == 4 && f[1] == "apply" && f[2] == "-k":
			if _, err := os.Stat(filepath.Join("..", f[3], "kustomization.yaml")); err != nil {
				t.Error(err)
			}
		case f[0] == "make" || f[0] == "go" || f[0] == "betterauthz" || strings.HasPrefix(f[0], "BETTER_AUTH_URL="):
			checkCommandLine(t, f)
		default:
			t.Errorf("snippet command not understood by the README test: %s", c)
		}
	}
}

// checkCommandLine: make targets exist; betterauthz flags exist.
func checkCommandLine(t *testing.T, f []string) {
	t.Helper()
	switch {
	case f[0] == "make":
		mk, _ := os.ReadFile("../Makefile")
		for _, target := range f[1:] {
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(mk) {
				t.Errorf("make target %s does not exist", target)
			}
		}
	case f[0] == "go":
	default:
		if strings.HasPrefix(f[0], "BETTER_AUTH_URL=") {
			f = f[1:]
		}
		usage, _ := exec.Command("go", "run", "../cmd/betterauthz", "serve", "-h").CombinedOutput()
		checkUsage, _ := exec.Command("go", "run", "../cmd/betterauthz", "check", "-h").CombinedOutput()
		for _, arg := range f[1:] {
			if strings.HasPrefix(arg, "--") {
				flag := strings.SplitN(strings.TrimPrefix(arg, "--"), "=", 2)[0]
				if !strings.Contains(string(usage)+string(checkUsage), "-"+flag+" ") {
					t.Errorf("betterauthz has no flag --%s", flag)
				}
			}
		}
	}
}
