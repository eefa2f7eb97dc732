package kube

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

var annotated = map[string]string{"betterauthz.io/policy": "public"}

func TestFromIngress(t *testing.T) {
	exact, prefix, impl := networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Annotations: annotated},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{},
			Rules: []networkingv1.IngressRule{
				{Host: "a.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/x", PathType: &exact}, {Path: "/y", PathType: &prefix}, {Path: "/z", PathType: &impl}, {PathType: &prefix},
				}}}},
				{Host: "", IngressRuleValue: networkingv1.IngressRuleValue{}},
			},
		},
	}
	o := fromIngress(asIngress(t, ing))
	// The host-less rule and the default backend are left out, with a note.
	want := []policy.ServedRoute{
		{Hosts: []string{"a.example.com"}, Paths: []policy.RoutedPath{{Value: "/x", Exact: true}, {Value: "/y"}, {Value: "/z"}, {Value: "/"}}},
	}
	if len(o.Notes) != 1 || !strings.Contains(o.Notes[0], "without a host") {
		t.Errorf("notes %v", o.Notes)
	}
	if len(o.Routes) != len(want) {
		t.Fatalf("routes %+v", o.Routes)
	}
	for i := range want {
		if !slices.Equal(o.Routes[i].Hosts, want[i].Hosts) || !slices.Equal(o.Routes[i].Paths, want[i].Paths) {
			t.Errorf("route %d: %+v, want %+v", i, o.Routes[i], want[i])
		}
	}
}

// asIngress is ing as betterauthz decodes it from the API server's JSON.
func asIngress(t *testing.T, ing *networkingv1.Ingress) *ingress {
	t.Helper()
	b, err := json.Marshal(ing)
	if err != nil {
		t.Fatal(err)
	}
	out := &ingress{}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// toUnstructured is obj as the dynamic client receives it.
func toUnstructured(t *testing.T, obj any) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func httpRoute(spec map[string]any, accepted bool) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "r", "namespace": "n", "annotations": map[string]any{"betterauthz.io/policy": "deny"}},
		"spec":     spec,
	}}
	if accepted {
		u.Object["status"] = map[string]any{"parents": []any{map[string]any{
			"parentRef":  map[string]any{"name": "gw"},
			"conditions": []any{map[string]any{"type": "Accepted", "status": "True"}},
		}}}
	}
	return u
}

func TestFromHTTPRoute(t *testing.T) {
	spec := map[string]any{
		"hostnames": []any{"a.example.com"},
		"rules": []any{
			map[string]any{"matches": []any{
				map[string]any{"path": map[string]any{"type": "Exact", "value": "/e"}},
				map[string]any{"path": map[string]any{"value": "/p"}},
				map[string]any{"path": map[string]any{"type": "RegularExpression", "value": "/r.*"}},
				map[string]any{"headers": []any{}},
			}},
			map[string]any{},
		},
	}
	o := fromHTTPRoute(httpRoute(spec, true))
	if len(o.Routes) != 1 || !slices.Equal(o.Routes[0].Hosts, []string{"a.example.com"}) {
		t.Fatalf("routes %+v", o.Routes)
	}
	want := []policy.RoutedPath{{Value: "/e", Exact: true}, {Value: "/p"}, {Value: "/"}, {Value: "/"}}
	if !slices.Equal(o.Routes[0].Paths, want) {
		t.Errorf("paths %+v, want %+v", o.Routes[0].Paths, want)
	}
	if !slices.Equal(o.UnknownPaths, []string{"a.example.com"}) {
		t.Errorf("a regular-expression match must leave the host to the config: %v", o.UnknownPaths)
	}
	if len(o.Notes) != 1 || !strings.Contains(o.Notes[0], `RegularExpression path "/r.*" is not matched by betterauthz`) {
		t.Errorf("notes %v", o.Notes)
	}

	if o := fromHTTPRoute(httpRoute(spec, false)); len(o.Routes) != 0 || !strings.Contains(strings.Join(o.Notes, ""), "not accepted") {
		t.Errorf("a route no Gateway accepted is indexed: %+v", o)
	}
	if o := fromHTTPRoute(httpRoute(map[string]any{"rules": []any{map[string]any{}}}, true)); len(o.Routes) != 0 || !strings.Contains(strings.Join(o.Notes, ""), "no spec.hostnames") {
		t.Errorf("a route without hostnames is indexed: %+v", o)
	}
}

func TestBuildIndex(t *testing.T) {
	objs := []*Object{
		{Kind: "Service", Namespace: "a", Name: "s", Annotations: annotated},
		{Kind: "Service", Namespace: "a", Name: "plain"},
		{Kind: "Service", Namespace: "a", Name: "bad", Annotations: map[string]string{"betterauthz.io/policy": "open"}},
	}
	m, invalid := BuildIndex(objs, config.Annotations{Enabled: true, AllowPublic: true, ClusterDomain: "corp.local"})
	// Objects with a policy are listed; all three are indexed (plain and bad without a policy).
	if len(m.Objects) != 1 || len(invalid) != 1 || invalid[0].Object.Name != "bad" {
		t.Fatalf("objects %d invalid %+v", len(m.Objects), invalid)
	}
	if got := m.Objects[0].Routes[0].Hosts; !slices.Equal(got, []string{"s", "s.a", "s.a.svc", "s.a.svc.corp.local"}) {
		t.Errorf("service hosts %v", got)
	}
}

// TestBuildIndexKeepsRulesOfUnknownIssuers: an annotation rule that names an issuer the config
// does not have stays in force (it refuses every token), rather than making the object invalid:
// an invalid object falls back to the config, and removing an issuer from the config must not
// open what an object keeps for it.
func TestBuildIndexKeepsRulesOfUnknownIssuers(t *testing.T) {
	rules := func(issuer string) map[string]string {
		return map[string]string{"betterauthz.io/rules": "- paths: [/admin/*]\n  issuer: " + issuer + "\n"}
	}
	objs := []*Object{
		{Kind: "Service", Namespace: "a", Name: "known", Annotations: rules("production")},
		{Kind: "Service", Namespace: "a", Name: "unknown", Annotations: rules("staging")},
	}
	m, invalid := BuildIndex(objs, config.Annotations{Enabled: true, AllowPublic: true, ClusterDomain: "cluster.local"})
	if len(invalid) != 0 || len(m.Objects) != 2 {
		t.Fatalf("objects %d, invalid %+v", len(m.Objects), invalid)
	}
}

func TestParseConfigMapRef(t *testing.T) {
	for in, ok := range map[string]bool{"ns/name": true, "name": false, "/name": false, "ns/": false, "a/b/c": false} {
		if _, _, err := ParseConfigMapRef(in); (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
}
