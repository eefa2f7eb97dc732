package scripts_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/cli"
	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/testenv/envoyvalidate"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// block is a fenced code block of a markdown page.
type block struct {
	file, lang, section, text string
	line                      int
}

// docPages are the markdown pages whose snippets the tests check, relative to the repository
// root: the README, CONTRIBUTING.md and every page of docs/.
func docPages(t *testing.T) []string {
	t.Helper()
	pages := []string{"README.md"}
	if _, err := os.Stat("../CONTRIBUTING.md"); err == nil {
		pages = append(pages, "CONTRIBUTING.md")
	}
	err := filepath.WalkDir("../docs", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			rel, _ := filepath.Rel("..", path)
			pages = append(pages, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

func readPage(t *testing.T, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", page))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// pageBlocks returns the fenced code blocks of a page, each with the heading it is under.
func pageBlocks(t *testing.T, page string) []block {
	t.Helper()
	var out []block
	var cur *block
	section := ""
	for i, line := range strings.Split(readPage(t, page), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "#"):
			section = strings.TrimSpace(strings.TrimLeft(line, "#"))
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{file: page, lang: strings.TrimPrefix(line, "```"), section: section, line: i + 1}
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if cur != nil {
		t.Errorf("%s:%d: a code block that never ends", page, cur.line)
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

// docsAPIServer starts a real API server with every CRD a snippet may use, and the namespaces
// the snippets name.
func docsAPIServer(t *testing.T) *kubeapi.Server {
	t.Helper()
	api, err := kubeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Stop)
	var crds [][]byte
	for _, load := range []func() ([]byte, error){kubeapi.IstioCRDs, kubeapi.GatewayAPICRDs, kubeapi.EnvoyGatewayCRDs} {
		c, err := load()
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, c)
	}
	ctx := context.Background()
	if err := api.InstallCRDs(ctx, crds,
		schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"},
		schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"},
		schema.GroupVersionResource{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Resource: "securitypolicies"}); err != nil {
		t.Fatal(err)
	}
	namespaces := []string{"betterauthz", "istio-system", "shop", "tasks", "gateway", "envoy-gateway-system", "ingress-nginx"}
	if err := api.CreateNamespaces(ctx, namespaces...); err != nil {
		t.Fatal(err)
	}
	// The controller manager (not running here) gives each namespace this; the chart's helm test
	// Pod runs as it.
	for _, ns := range namespaces {
		sa := fmt.Sprintf("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: %s}\n", ns)
		if err := kubeapi.Apply(ctx, api.Admin, []byte(sa)); err != nil {
			t.Fatal(err)
		}
	}
	return api
}

// TestDocSnippets checks every code block of the README, CONTRIBUTING.md and docs/: shell
// commands run (as helm template where they install) or name files, targets and flags that
// exist; YAML is parsed as what it is — betterauthz config, chart values, Kubernetes objects
// (server-side dry run on a real API server with the Istio, Gateway API and Envoy Gateway CRDs),
// Istio mesh config (Istio's MeshConfig proto) or Envoy config (Envoy's protos); a block that
// opens with "# from PATH" is an excerpt of that shipped file, which its own tests run.
func TestDocSnippets(t *testing.T) {
	api := docsAPIServer(t)
	checked := map[string]int{}
	for _, page := range docPages(t) {
		for _, b := range pageBlocks(t, page) {
			name := page + ":" + strconv.Itoa(b.line) + " " + b.section
			kind := classify(b)
			checked[kind]++
			t.Run(name, func(t *testing.T) { checkBlock(t, api, kind, b) })
		}
	}
	for _, kind := range []string{"shell", "config", "values", "kubernetes", "meshconfig", "envoy-any", "envoy-route", "excerpt"} {
		if checked[kind] == 0 {
			t.Errorf("no %s snippet found: have the docs changed shape?", kind)
		}
	}
	checkChartVariants(t, api)
}

func checkBlock(t *testing.T, api *kubeapi.Server, kind string, b block) {
	switch kind {
	case "shell":
		checkShell(t, b.text)
	case "config":
		if _, err := config.Parse([]byte(b.text), func(string) string { return "" }); err != nil {
			t.Fatalf("config snippet is invalid: %v\n%s", err, b.text)
		}
	case "values":
		checkValues(t, b.text)
	case "kubernetes":
		for _, o := range decodeObjects(t, b.text) {
			checkPolicyKeys(t, o)
		}
		if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, []byte(b.text), "shop"); err != nil {
			t.Fatal(err)
		}
	case "meshconfig":
		checkMeshConfig(t, b.text)
	case "envoy-any":
		var a anypb.Any
		envoyvalidate.YAML(t, b.file, []byte(b.text), &a)
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
	case "excerpt":
		checkExcerpt(t, b)
	case "output":
		// sample output and code in other languages, shown for orientation
	default:
		t.Fatalf("unclassified snippet:\n%s", b.text)
	}
}

// checkPolicyKeys parses what an object says to betterauthz: its betterauthz.io/ annotations,
// and an Envoy Gateway SecurityPolicy's context extensions (the same keys).
func checkPolicyKeys(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	if _, err := policy.ParseObjectRules(o.GetAnnotations(), "docs"); err != nil {
		t.Errorf("%s %s: annotations: %v", o.GetKind(), o.GetName(), err)
	}
	exts, _, _ := unstructured.NestedSlice(o.Object, "spec", "extAuth", "contextExtensions")
	keys := map[string]string{}
	for _, e := range exts {
		m, _ := e.(map[string]any)
		name, _ := m["name"].(string)
		value, _ := m["value"].(string)
		keys[name] = value
	}
	if _, err := policy.ParseObjectRules(keys, "docs"); err != nil {
		t.Errorf("%s %s: contextExtensions: %v", o.GetKind(), o.GetName(), err)
	}
}

func checkValues(t *testing.T, text string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	// The chart's values.schema.json is closed: a misspelt value fails the rendering.
	out := runHelm(t, "template", "betterauthz", "charts/betterauthz", "-n", "betterauthz", "-f", f)
	var values struct {
		Config   map[string]any   `json:"config"`
		ExtraEnv []map[string]any `json:"extraEnv"`
	}
	if err := yaml.Unmarshal([]byte(text), &values); err != nil {
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
}

func checkMeshConfig(t *testing.T, text string) {
	t.Helper()
	var doc struct {
		MeshConfig any `json:"meshConfig"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	js, _ := yaml.Marshal(doc.MeshConfig)
	var mc meshv1alpha1.MeshConfig
	if err := envoyvalidate.Check(js, &mc); err != nil {
		t.Fatal(err)
	}
	for _, ep := range mc.GetExtensionProviders() {
		if p := ep.GetEnvoyExtAuthzGrpc(); p != nil && (p.GetPort() != 9000 || p.GetFailOpen() || p.GetService() != "betterauthz.betterauthz.svc.cluster.local") {
			t.Errorf("provider %v", p)
		}
	}
}

// fromLine names the shipped file an excerpt is taken from: its first line is "# from PATH"
// (or "// from PATH").
var fromLine = regexp.MustCompile(`^(?:#|//) from (\S+)\n`)

// checkExcerpt: the block, less its first line, is in the file it names, byte for byte.
func checkExcerpt(t *testing.T, b block) {
	t.Helper()
	m := fromLine.FindStringSubmatch(b.text)
	file, err := os.ReadFile(filepath.Join("..", m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if excerpt := strings.TrimPrefix(b.text, m[0]); !strings.Contains(string(file), excerpt) {
		t.Errorf("this block is not an excerpt of %s, as it says:\n%s", m[1], excerpt)
	}
}

func classify(b block) string {
	text := b.text
	switch {
	case fromLine.MatchString(text):
		return "excerpt"
	case b.lang == "sh":
		return "shell"
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

// checkChartVariants renders the --set variants the Istio pages give in prose.
func checkChartVariants(t *testing.T, api *kubeapi.Server) {
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
		checkMeshConfig(t, strings.Join(lines, "\n"))
	})
}

// readerCommands are commands a page shows for the reader to run against their own cluster or
// machine; the test cannot run them, but checks that the repository files they name exist.
var readerCommands = map[string]bool{
	"kubectl": true, "istioctl": true, "curl": true, "docker": true, "node": true, "npm": true,
	"cd": true, "tail": true, "export": true, "git": true, "cosign": true, "mkdocs": true,
}

// checkShell runs what it can of a shell snippet: helm installs as helm template; make targets,
// betterauthz flags and the files commands name must exist.
func checkShell(t *testing.T, text string) {
	t.Helper()
	for _, c := range strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n") {
		c = strings.TrimSpace(c)
		if i := strings.Index(c, "  #"); i >= 0 {
			c = strings.TrimSpace(c[:i])
		}
		f := shellWords(c)
		for len(f) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(f[0]) {
			f = f[1:] // VAR=value before a command
		}
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case f[0] == "helm" && len(f) > 3 && (f[1] == "install" || f[1] == "upgrade"):
			checkHelmInstall(t, f)
		case f[0] == "helm" && len(f) > 1 && f[1] == "test":
		case f[0] == "make":
			checkMakeTargets(t, f[1:])
		case f[0] == "go":
		case f[0] == "betterauthz":
			checkFlags(t, f)
		case readerCommands[f[0]]:
			checkNamedFiles(t, f)
		default:
			t.Errorf("snippet command not understood by the docs test: %s", c)
		}
	}
}

// checkHelmInstall renders `helm install|upgrade [--install] NAME CHART …` with helm template.
// The released chart (oci://ghcr.io/betterauthz/charts/betterauthz) is the chart in charts/.
func checkHelmInstall(t *testing.T, f []string) {
	t.Helper()
	rest := f[2:]
	if len(rest) > 0 && rest[0] == "--install" {
		rest = rest[1:]
	}
	if len(rest) < 2 {
		t.Fatalf("helm %s without a release and a chart", f[1])
	}
	chart := rest[1]
	if chart == "oci://ghcr.io/betterauthz/charts/betterauthz" {
		chart = "charts/betterauthz"
	}
	args := []string{"template", rest[0], chart}
	for i := 2; i < len(rest); i++ {
		switch rest[i] {
		case "--create-namespace", "--wait", "--atomic":
		case "--version":
			i++
		default:
			args = append(args, rest[i])
		}
	}
	renderedConfig(t, runHelm(t, args...))
}

func checkMakeTargets(t *testing.T, targets []string) {
	t.Helper()
	mk, _ := os.ReadFile("../Makefile")
	for _, target := range targets {
		if strings.Contains(target, "=") {
			continue // a variable: FUZZTIME=10m
		}
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(target) + `:`).Match(mk) {
			t.Errorf("make target %s does not exist", target)
		}
	}
}

// checkFlags: the subcommand exists and has every flag given.
func checkFlags(t *testing.T, f []string) {
	t.Helper()
	cmd, args := "serve", f[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var out bytes.Buffer
	err := cli.Run(context.Background(), []string{cmd, "-h"}, func(string) string { return "" }, strings.NewReader(""), &out, &out)
	if cli.ExitCode(err) != 0 {
		t.Fatalf("betterauthz %s: no such command (%v)", cmd, err)
	}
	for _, arg := range args {
		if strings.HasPrefix(arg, "--") {
			flag := strings.SplitN(strings.TrimPrefix(arg, "--"), "=", 2)[0]
			if !strings.Contains(out.String(), "  -"+flag+" ") && !strings.Contains(out.String(), "  -"+flag+"\n") {
				t.Errorf("betterauthz %s has no flag --%s", cmd, flag)
			}
		}
	}
}

// repoPath matches arguments that name a file of the repository.
var repoPath = regexp.MustCompile(`^(manifests|examples|charts|scripts|docs|test)/[\w./-]*$`)

func checkNamedFiles(t *testing.T, f []string) {
	t.Helper()
	for _, arg := range f[1:] {
		if repoPath.MatchString(arg) {
			if _, err := os.Stat(filepath.Join("..", arg)); err != nil {
				t.Errorf("%s: %v", f[0], err)
			}
		}
	}
}

// shellWords splits a command line as a shell would, for the quoting the docs use: '…' and "…"
// without escapes inside.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
