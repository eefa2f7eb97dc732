// Package charts_test checks the Helm chart with the real Helm CLI: lint, rendered output,
// server-side dry-run against a real API server with the CRDs it uses, and a real install,
// upgrade and uninstall on a cluster of a real API server, controller manager and scheduler with
// kwok's fake nodes.
package charts_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/betterauthz/betterauthz/internal/config"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

const chart = "betterauthz"

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	helmOnce.Do(func() {
		var bins map[string]string
		bins, helmErr = kubeapi.Binaries("helm")
		if helmErr == nil {
			helmPath = bins["helm"]
		}
	})
	if helmErr != nil {
		t.Fatalf("the Helm CLI could not be built: %v", helmErr)
	}
	cmd := exec.Command(helmPath, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	return out.String(), nil
}

func mustHelm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ciValues(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(chart, "ci", "*-values.yaml"))
	if len(files) < 4 {
		t.Fatalf("want the ci values files (istio, all toggles, sidecar-style, minimal), found %v", files)
	}
	return files
}

func TestLint(t *testing.T) {
	mustHelm(t, "lint", "--strict", chart)
	for _, f := range ciValues(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			mustHelm(t, "lint", "--strict", chart, "-f", f)
		})
	}
}

// objects renders the chart and decodes every object.
func objects(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out := mustHelm(t, append([]string{"template", "rel", chart, "--namespace", "authz"}, args...)...)
	return decode(t, out)
}

func decode(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kubeapi.DecodeObjects([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func one(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	got := find(objs, kind)
	if len(got) != 1 {
		t.Fatalf("%d %s objects, want 1", len(got), kind)
	}
	return got[0]
}

func nested(t *testing.T, o *unstructured.Unstructured, fields ...string) any {
	t.Helper()
	v, found, err := unstructured.NestedFieldNoCopy(o.Object, fields...)
	if err != nil || !found {
		t.Fatalf("%s %s: no %s", o.GetKind(), o.GetName(), strings.Join(fields, "."))
	}
	return v
}

func TestDefaultsAreSecureAndHotReloadable(t *testing.T) {
	objs := objects(t, "--set", "betterAuthURL=https://auth.example.com")
	dep := one(t, objs, "Deployment")
	if r := nested(t, dep, "spec", "replicas"); fmt.Sprint(r) != "2" {
		t.Errorf("replicas %v, want 2", r)
	}
	pod := nested(t, dep, "spec", "template", "spec").(map[string]any)
	psc := pod["securityContext"].(map[string]any)
	if psc["runAsNonRoot"] != true || psc["seccompProfile"].(map[string]any)["type"] != "RuntimeDefault" {
		t.Errorf("pod security context %v", psc)
	}
	c := pod["containers"].([]any)[0].(map[string]any)
	sc := c["securityContext"].(map[string]any)
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false ||
		!slices.Equal(toStrings(sc["capabilities"].(map[string]any)["drop"]), []string{"ALL"}) {
		t.Errorf("container security context %v", sc)
	}
	args := toStrings(c["args"])
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--configmap") && strings.Contains(a, "authz/") }) {
		t.Errorf("args %v do not watch the ConfigMap", args)
	}
	if c["livenessProbe"] == nil || c["readinessProbe"] == nil {
		t.Error("probes missing")
	}
	if ann, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "annotations"); hasChecksum(ann) {
		t.Errorf("pod template has a checksum annotation (%v): config edits would restart pods", ann)
	}
	if pod["affinity"] == nil {
		t.Error("no pod anti-affinity by default")
	}

	svc := one(t, objs, "Service")
	ports := nested(t, svc, "spec", "ports").([]any)
	var grpc map[string]any
	for _, p := range ports {
		if p.(map[string]any)["name"] == "grpc" {
			grpc = p.(map[string]any)
		}
	}
	if grpc == nil || fmt.Sprint(grpc["port"]) != "9000" || grpc["appProtocol"] != "grpc" {
		t.Errorf("grpc port %v", grpc)
	}

	// The rendered config is one betterauthz accepts.
	cm := one(t, objs, "ConfigMap")
	data, _, _ := unstructured.NestedString(cm.Object, "data", "config.yaml")
	s, err := config.Parse([]byte(data), func(string) string { return "" })
	if err != nil {
		t.Fatalf("rendered config.yaml is invalid:\n%s\n%v", data, err)
	}
	if s.Issuers[0].Issuer != "https://auth.example.com" {
		t.Errorf("issuer %s", s.Issuers[0].Issuer)
	}
	// Annotations may only tighten, and no preflight passes without a token, unless the
	// platform owner says otherwise.
	if s.Annotations.AllowPublic || s.AllowCORSPreflight {
		t.Errorf("allowPublic %v, allowCORSPreflight %v by default", s.Annotations.AllowPublic, s.AllowCORSPreflight)
	}

	if len(find(objs, "PodDisruptionBudget")) != 1 {
		t.Error("no PodDisruptionBudget by default")
	}
	for _, kind := range []string{"HorizontalPodAutoscaler", "ServiceMonitor", "NetworkPolicy", "AuthorizationPolicy"} {
		if len(find(objs, kind)) != 0 {
			t.Errorf("%s rendered by default", kind)
		}
	}
	// The ConfigMap Role; the annotations ClusterRole and its binding; the one reading
	// IngressClasses and Gateways (always bound cluster-wide).
	if len(find(objs, "ClusterRole")) != 2 || len(find(objs, "ClusterRoleBinding")) != 2 || len(find(objs, "Role")) != 1 {
		t.Error("want the ConfigMap Role and the annotations and IngressClasses ClusterRoles/Bindings")
	}
}

func TestToggles(t *testing.T) {
	objs := objects(t, "-f", filepath.Join(chart, "ci", "all-toggles-values.yaml"))
	for _, kind := range []string{"HorizontalPodAutoscaler", "ServiceMonitor", "NetworkPolicy", "AuthorizationPolicy", "PodDisruptionBudget"} {
		if len(find(objs, kind)) != 1 {
			t.Errorf("%d %s with every toggle on, want 1", len(find(objs, kind)), kind)
		}
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(one(t, objs, "Deployment").Object, "spec", "replicas"); found {
		t.Error("replicas set while the HPA scales")
	}
	// annotationPolicies.namespaces: the ClusterRole is bound per namespace, not cluster-wide;
	// only reading IngressClasses and Gateways is.
	for _, crb := range find(objs, "ClusterRoleBinding") {
		role, _, _ := unstructured.NestedString(crb.Object, "roleRef", "name")
		if !strings.HasSuffix(role, "-cluster") {
			t.Errorf("ClusterRoleBinding to %s with annotationPolicies.namespaces set", role)
		}
		for _, cr := range find(objs, "ClusterRole") {
			if cr.GetName() != role {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(cr.Object, "rules")
			var resources []string
			for _, r := range rules {
				resources = append(resources, fmt.Sprint(r.(map[string]any)["resources"]))
			}
			if strings.Join(resources, " ") != "[ingressclasses] [gateways]" {
				t.Errorf("the cluster-wide ClusterRole grants %v", rules)
			}
		}
	}
	var bound []string
	for _, rb := range find(objs, "RoleBinding") {
		if ref, _, _ := unstructured.NestedString(rb.Object, "roleRef", "kind"); ref == "ClusterRole" {
			bound = append(bound, rb.GetNamespace())
		}
	}
	slices.Sort(bound)
	if !slices.Equal(bound, []string{"billing", "shop"}) {
		t.Errorf("ClusterRole bound in %v, want [billing shop]", bound)
	}
	ap := one(t, objs, "AuthorizationPolicy")
	if nested(t, ap, "spec", "action") != "CUSTOM" {
		t.Error("AuthorizationPolicy is not CUSTOM")
	}

	off := objects(t, "--set", "annotationPolicies.enabled=false")
	if len(find(off, "ClusterRole")) != 0 {
		t.Error("ClusterRole rendered with annotation policies off")
	}
}

// The HTTP check endpoint trusts the headers that describe the original request: the chart
// lets only the listed proxies reach it, and refuses to render it unprotected by accident.
func TestCheckHTTPOnlyForTheProxies(t *testing.T) {
	objs := objects(t, "-f", filepath.Join(chart, "ci", "all-toggles-values.yaml"))
	np := one(t, objs, "NetworkPolicy")
	rules, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
	found := false
	for _, r := range rules {
		rule := r.(map[string]any)
		ports, _, _ := unstructured.NestedSlice(rule, "ports")
		from, _, _ := unstructured.NestedSlice(rule, "from")
		if len(ports) == 1 && ports[0].(map[string]any)["port"] == "check-http" {
			found = true
			if len(from) != 1 {
				t.Errorf("check-http reachable from %v, want the one proxy peer", from)
			}
		}
	}
	if !found {
		t.Error("no NetworkPolicy rule for the check-http port")
	}
	args := toStrings(nested(t, one(t, objs, "Deployment"), "spec", "template", "spec", "containers").([]any)[0].(map[string]any)["args"])
	if !slices.Contains(args, "--check-http-addr=:8081") {
		t.Errorf("args %v lack --check-http-addr", args)
	}
	for set, want := range map[string]string{
		"checkHTTP.enabled=true":                            "checkHTTP.enabled needs networkPolicy.enabled",
		"checkHTTP.enabled=true,networkPolicy.enabled=true": "checkHTTP.from must list the proxies",
	} {
		if _, err := helm(t, "template", "rel", chart, "--set", set); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want an error saying %q", set, err, want)
		}
	}
	if _, err := helm(t, "template", "rel", chart, "--set", "checkHTTP.enabled=true,checkHTTP.allowWithoutNetworkPolicy=true"); err != nil {
		t.Errorf("allowWithoutNetworkPolicy: %v", err)
	}
}

func TestSchemaRejectsTypos(t *testing.T) {
	for _, set := range []string{"replicaCont=3", "istio.enabeld=true", "logLevel=loud", "service.grpcPort=x"} {
		if _, err := helm(t, "template", "rel", chart, "--set", set); err == nil {
			t.Errorf("--set %s accepted", set)
		}
	}
}

// TestSeveralIssuers: config.issuers renders into a config betterauthz accepts; with
// betterAuthURL too, the chart refuses to render a config mixing
// the two forms.
func TestSeveralIssuers(t *testing.T) {
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	doc := "config:\n  issuers:\n    - name: production\n      betterAuthURL: https://auth.example.com\n    - name: staging\n      betterAuthURL: https://auth.staging.example.com\n"
	if err := os.WriteFile(values, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := objects(t, "-f", values)
	data, _, _ := unstructured.NestedString(one(t, objs, "ConfigMap").Object, "data", "config.yaml")
	s, err := config.Parse([]byte(data), func(string) string { return "" })
	if err != nil {
		t.Fatalf("rendered config.yaml is invalid:\n%s\n%v", data, err)
	}
	if len(s.Issuers) != 2 || s.Issuers[1].Name != "staging" {
		t.Errorf("issuers %+v", s.Issuers)
	}
	if _, err := helm(t, "template", "rel", chart, "-f", values, "--set", "betterAuthURL=https://auth.example.com"); err == nil ||
		!strings.Contains(err.Error(), "betterAuthURL and config.issuers cannot both be set") {
		t.Errorf("both forms rendered: %v", err)
	}
	if _, err := helm(t, "template", "rel", chart, "-f", values, "--set", "config.audiences[0]=https://app.example.com"); err == nil ||
		!strings.Contains(err.Error(), "config.audiences and config.issuers cannot both be set") {
		t.Errorf("config.audiences beside config.issuers rendered: %v", err)
	}
}

func hasChecksum(m map[string]string) bool {
	for k := range m {
		if strings.HasPrefix(k, "checksum/") {
			return true
		}
	}
	return false
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// crdsOnce installs, once per API server, the CRDs the chart's optional objects need.
func installCRDs(t *testing.T, api *kubeapi.Server) {
	t.Helper()
	for _, load := range []func() ([]byte, error){kubeapi.IstioCRDs, kubeapi.PrometheusOperatorCRDs, kubeapi.GatewayAPICRDs} {
		crds, err := load()
		if err != nil {
			t.Fatal(err)
		}
		if err := kubeapi.Apply(context.Background(), api.Admin, crds); err != nil {
			t.Fatal(err)
		}
	}
	for _, gvr := range []schema.GroupVersionResource{
		{Group: "security.istio.io", Version: "v1", Resource: "authorizationpolicies"},
		{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"},
	} {
		if err := kubeapi.WaitForResource(api.Admin, gvr, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

func namespace(t *testing.T, api *kubeapi.Server, names ...string) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(api.Admin)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range names {
		_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		// What the controller manager (not running here) gives every namespace; the helm test
		// Pod runs as it.
		_, err = cs.CoreV1().ServiceAccounts(ns).Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// TestServerSideDryRun sends every rendering (defaults and each ci values file) to a real API
// server with the Istio, Prometheus-operator and Gateway API CRDs installed: the schemas there
// are the ones the cluster will hold the chart's output to.
func TestServerSideDryRun(t *testing.T) {
	api, err := kubeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	installCRDs(t, api)
	namespace(t, api, "authz", "shop", "billing", "istio-system")
	renders := map[string][]string{"defaults": nil}
	for _, f := range ciValues(t) {
		renders[filepath.Base(f)] = []string{"-f", f}
	}
	for name, args := range renders {
		t.Run(name, func(t *testing.T) {
			out := mustHelm(t, append([]string{"template", "rel", chart, "--namespace", "authz"}, args...)...)
			if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, []byte(out), "authz"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestInstallUpgradeUninstall installs the chart for real with `helm install --wait` on a
// cluster whose pods kwok runs, upgrades it with a policy change (which must not restart pods:
// the config is hot-reloaded), and uninstalls it, leaving nothing behind.
func TestInstallUpgradeUninstall(t *testing.T) {
	api, err := kubeapi.StartCluster()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := api.Kubeconfig(api.Admin, kc); err != nil {
		t.Fatal(err)
	}
	cs, _ := kubernetes.NewForConfig(api.Admin)
	ctx := context.Background()
	minimal := filepath.Join(chart, "ci", "minimal-values.yaml")

	mustHelm(t, "install", "rel", chart, "--kubeconfig", kc, "--namespace", "authz", "--create-namespace",
		"-f", minimal, "--wait", "--timeout", "3m")
	dep, err := cs.AppsV1().Deployments("authz").Get(ctx, "rel-betterauthz", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Status.AvailableReplicas != 2 {
		t.Fatalf("after install: %d available replicas, want 2", dep.Status.AvailableReplicas)
	}
	if status := mustHelm(t, "status", "rel", "--kubeconfig", kc, "--namespace", "authz"); !strings.Contains(status, "STATUS: deployed") {
		t.Fatalf("helm status:\n%s", status)
	}
	rsBefore := replicaSets(t, cs)

	mustHelm(t, "upgrade", "rel", chart, "--kubeconfig", kc, "--namespace", "authz", "-f", minimal,
		"--set", "config.defaultPolicy=deny", "--wait", "--timeout", "3m")
	cm, err := cs.CoreV1().ConfigMaps("authz").Get(ctx, "rel-betterauthz", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cm.Data["config.yaml"], "defaultPolicy: deny") {
		t.Errorf("upgrade did not change the config:\n%s", cm.Data["config.yaml"])
	}
	if after := replicaSets(t, cs); !slices.Equal(after, rsBefore) {
		t.Errorf("a config change rolled the pods (ReplicaSets %v -> %v): it must hot-reload instead", rsBefore, after)
	}

	mustHelm(t, "uninstall", "rel", "--kubeconfig", kc, "--namespace", "authz", "--wait", "--timeout", "2m")
	selector := metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=rel"}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var left []string
		if l, _ := cs.AppsV1().Deployments("authz").List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "Deployment")
		}
		if l, _ := cs.CoreV1().Pods("authz").List(ctx, metav1.ListOptions{}); l != nil && len(l.Items) > 0 {
			left = append(left, fmt.Sprintf("%d Pods", len(l.Items)))
		}
		if l, _ := cs.CoreV1().Services("authz").List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "Service")
		}
		if l, _ := cs.CoreV1().ConfigMaps("authz").List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "ConfigMap")
		}
		if l, _ := cs.CoreV1().ServiceAccounts("authz").List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "ServiceAccount")
		}
		if l, _ := cs.RbacV1().Roles("authz").List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "Role")
		}
		if l, _ := cs.RbacV1().RoleBindings("authz").List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "RoleBinding")
		}
		if l, _ := cs.RbacV1().ClusterRoles().List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "ClusterRole")
		}
		if l, _ := cs.RbacV1().ClusterRoleBindings().List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "ClusterRoleBinding")
		}
		if l, _ := cs.PolicyV1().PodDisruptionBudgets("authz").List(ctx, selector); l != nil && len(l.Items) > 0 {
			left = append(left, "PodDisruptionBudget")
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after helm uninstall these remain: %v", left)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func replicaSets(t *testing.T, cs kubernetes.Interface) []string {
	t.Helper()
	l, err := cs.AppsV1().ReplicaSets("authz").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rs := range l.Items {
		names = append(names, rs.Name)
	}
	slices.Sort(names)
	return names
}

// TestInstallManifestIsCurrent: manifests/install.yaml is what `make manifests` renders now.
func TestInstallManifestIsCurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "install.yaml")
	cmd := exec.Command("../scripts/render-manifests.sh", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("render-manifests: %v\n%s", err, b)
	}
	want, _ := os.ReadFile(out)
	got, err := os.ReadFile("../manifests/install.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("manifests/install.yaml is stale: run `make manifests` and commit it")
	}
}

// TestRBACMatchesTheManifest: the chart grants exactly the rules of manifests/rbac.yaml (the
// set the Kubernetes tests prove sufficient).
func TestRBACMatchesTheManifest(t *testing.T) {
	b, err := os.ReadFile("../manifests/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := rulesByKind(t, decode(t, string(b)))
	got := rulesByKind(t, objects(t, "--set", "betterAuthURL=https://auth.example.com"))
	for _, kind := range []string{"Role", "ClusterRole"} {
		if fmt.Sprint(got[kind]) != fmt.Sprint(want[kind]) {
			t.Errorf("%s rules differ from manifests/rbac.yaml:\nchart:    %v\nmanifest: %v", kind, got[kind], want[kind])
		}
	}
}

// rulesByKind normalises the rules of Roles and ClusterRoles, ignoring resourceNames values
// (the ConfigMap's name depends on the release) but not their presence.
func rulesByKind(t *testing.T, objs []*unstructured.Unstructured) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, o := range objs {
		if o.GetKind() != "Role" && o.GetKind() != "ClusterRole" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			m := r.(map[string]any)
			names := ""
			if _, ok := m["resourceNames"]; ok {
				names = " (by name)"
			}
			out[o.GetKind()] = append(out[o.GetKind()], fmt.Sprintf("%v %v %v%s", m["apiGroups"], m["resources"], m["verbs"], names))
		}
		slices.Sort(out[o.GetKind()])
	}
	return out
}
