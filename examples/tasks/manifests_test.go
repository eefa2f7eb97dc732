package tasks_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	securityv1beta1 "istio.io/api/security/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/betterauthz/betterauthz/internal/testenv/envoyvalidate"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// TestKubernetesManifestDryRun submits kubernetes.yaml to a real API server (server-side dry
// run) with Istio's CRDs installed, and reads the Istio specs with Istio's own protos.
func TestKubernetesManifestDryRun(t *testing.T) {
	data, err := os.ReadFile("kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api, err := kubeapi.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	crds, err := kubeapi.IstioCRDs()
	if err != nil {
		t.Fatal(err)
	}
	security := func(r string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "security.istio.io", Version: "v1", Resource: r}
	}
	if err := api.InstallCRDs(context.Background(), [][]byte{crds}, security("authorizationpolicies"), security("peerauthentications")); err != nil {
		t.Fatal(err)
	}
	if err := api.CreateNamespaces(context.Background(), "tasks"); err != nil {
		t.Fatal(err)
	}
	if err := kubeapi.ApplyDryRun(context.Background(), api.Admin, data, "default"); err != nil {
		t.Fatal(err)
	}
	objs, err := kubeapi.DecodeObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetAPIVersion() != "security.istio.io/v1" {
			continue
		}
		spec, _ := yaml.Marshal(o.Object["spec"])
		js, _ := yaml.YAMLToJSON(spec)
		var err error
		switch o.GetKind() {
		case "PeerAuthentication":
			err = envoyvalidate.Check(js, &securityv1beta1.PeerAuthentication{})
		case "AuthorizationPolicy":
			err = envoyvalidate.Check(js, &securityv1beta1.AuthorizationPolicy{})
		}
		if err != nil {
			t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestKubernetesManifestLocksTheAppToTheGateway: the three objects guard the same pods, and
// admit the same gateway — the one by its pods, the other by its service account.
func TestKubernetesManifestLocksTheAppToTheGateway(t *testing.T) {
	data, err := os.ReadFile("kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubeapi.DecodeObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		kinds[o.GetKind()] = o
		if o.GetNamespace() != "tasks" {
			t.Errorf("%s %s in namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		sel := []string{"spec", "selector", "matchLabels"}
		if o.GetKind() == "NetworkPolicy" {
			sel = []string{"spec", "podSelector", "matchLabels"}
		}
		if labels, _, _ := unstructured.NestedStringMap(o.Object, sel...); len(labels) != 1 || labels["app"] != "tasks" {
			t.Errorf("%s %s selects %v, want app: tasks", o.GetKind(), o.GetName(), labels)
		}
	}
	np, pa, ap := kinds["NetworkPolicy"], kinds["PeerAuthentication"], kinds["AuthorizationPolicy"]
	if np == nil || pa == nil || ap == nil || len(objs) != 3 {
		t.Fatalf("want a NetworkPolicy, a PeerAuthentication and an AuthorizationPolicy, got %v", kinds)
	}
	if mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode"); mode != "STRICT" {
		t.Errorf("PeerAuthentication mode %q", mode)
	}
	if action, _, _ := unstructured.NestedString(ap.Object, "spec", "action"); action != "ALLOW" {
		t.Errorf("AuthorizationPolicy action %q", action)
	}
	var in struct {
		Spec struct {
			PolicyTypes []string `json:"policyTypes"`
			Ingress     []struct {
				From []struct {
					NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`
				} `json:"from"`
			} `json:"ingress"`
		} `json:"spec"`
	}
	npJSON, _ := np.MarshalJSON()
	if err := yaml.Unmarshal(npJSON, &in); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in.Spec.PolicyTypes, []string{"Ingress"}) || len(in.Spec.Ingress) != 1 || len(in.Spec.Ingress[0].From) != 1 {
		t.Fatalf("NetworkPolicy admits %+v", in.Spec)
	}
	gatewayNS := in.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"]
	var allow struct {
		Spec struct {
			Rules []struct {
				From []struct {
					Source map[string][]string `json:"source"`
				} `json:"from"`
				To   []any `json:"to"`
				When []any `json:"when"`
			} `json:"rules"`
		} `json:"spec"`
	}
	apJSON, _ := ap.MarshalJSON()
	if err := yaml.Unmarshal(apJSON, &allow); err != nil {
		t.Fatal(err)
	}
	rules := allow.Spec.Rules
	if len(rules) != 1 || len(rules[0].From) != 1 || rules[0].To != nil || rules[0].When != nil {
		t.Fatalf("AuthorizationPolicy rules %+v, want one from the gateway", rules)
	}
	src := rules[0].From[0].Source
	ps := src["principals"]
	if len(src) != 1 || len(ps) != 1 || !strings.HasPrefix(ps[0], "cluster.local/ns/"+gatewayNS+"/sa/") {
		t.Errorf("AuthorizationPolicy admits %v; the NetworkPolicy admits the gateway of namespace %q", src, gatewayNS)
	}
}

// TestTutorialShowsTheFiles: the tutorial's copies are the tested files: the whole of
// kubernetes.yaml, and an excerpt of app.py.
func TestTutorialShowsTheFiles(t *testing.T) {
	page := readFile(t, tutorialPage)
	if !strings.Contains(page, "```yaml\n"+readFile(t, "kubernetes.yaml")+"```\n") {
		t.Errorf("%s does not show examples/tasks/kubernetes.yaml as it is", tutorialPage)
	}
	_, excerpt, _ := strings.Cut(page, "```python\n")
	excerpt, _, _ = strings.Cut(excerpt, "```\n")
	if excerpt == "" || !strings.Contains(readFile(t, "app.py"), excerpt) {
		t.Errorf("%s's python block is not in app.py:\n%s", tutorialPage, excerpt)
	}
}

// tutorialPage is the docs page of the Task example.
const tutorialPage = "../../docs/tutorial-tasks.md"
