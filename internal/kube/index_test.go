package kube

import (
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/betterauthz/betterauthz/authz"
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
	o := fromIngress(ing)
	want := []authz.MeshRoute{
		{Hosts: []string{"a.example.com"}, Paths: []authz.RoutedPath{{Value: "/x", Exact: true}, {Value: "/y"}, {Value: "/z"}, {Value: "/"}}},
		{Hosts: []string{"*"}, Paths: []authz.RoutedPath{{Value: "/"}}},
		{Hosts: []string{"*"}, Paths: []authz.RoutedPath{{Value: "/"}}},
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

func TestFromHTTPRoute(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "r", "namespace": "n", "annotations": map[string]any{"betterauthz.io/policy": "deny"}},
		"spec": map[string]any{
			"rules": []any{
				map[string]any{"matches": []any{
					map[string]any{"path": map[string]any{"type": "Exact", "value": "/e"}},
					map[string]any{"path": map[string]any{"value": "/p"}},
					map[string]any{"path": map[string]any{"type": "RegularExpression", "value": "/r.*"}},
					map[string]any{"headers": []any{}},
				}},
				map[string]any{},
			},
		},
	}}
	o := fromHTTPRoute(u)
	if len(o.Routes) != 1 || !slices.Equal(o.Routes[0].Hosts, []string{"*"}) {
		t.Fatalf("routes %+v", o.Routes)
	}
	want := []authz.RoutedPath{{Value: "/e", Exact: true}, {Value: "/p"}, {Value: "/"}, {Value: "/"}}
	if !slices.Equal(o.Routes[0].Paths, want) {
		t.Errorf("paths %+v, want %+v", o.Routes[0].Paths, want)
	}
	if len(o.Notes) != 1 || !strings.Contains(o.Notes[0], `RegularExpression path "/r.*" is not matched by betterauthz`) {
		t.Errorf("notes %v", o.Notes)
	}
}

func TestBuildIndex(t *testing.T) {
	objs := []*Object{
		{Kind: "Service", Namespace: "a", Name: "s", Annotations: annotated},
		{Kind: "Service", Namespace: "a", Name: "plain"},
		{Kind: "Service", Namespace: "a", Name: "bad", Annotations: map[string]string{"betterauthz.io/policy": "open"}},
	}
	m, invalid := BuildIndex(objs, config.Annotations{Enabled: true, AllowPublic: true, ClusterDomain: "corp.local"})
	if len(m.Objects) != 1 || len(invalid) != 1 || invalid[0].Object.Name != "bad" {
		t.Fatalf("objects %d invalid %+v", len(m.Objects), invalid)
	}
	if got := m.Objects[0].Routes[0].Hosts; !slices.Equal(got, []string{"s", "s.a", "s.a.svc", "s.a.svc.corp.local"}) {
		t.Errorf("service hosts %v", got)
	}
	if m.Tighten {
		t.Error("tighten with allowPublic")
	}
	if m, _ := BuildIndex(objs, config.Annotations{Enabled: true, ClusterDomain: "x"}); !m.Tighten {
		t.Error("allowPublic false does not tighten")
	}
}

func TestParseConfigMapRef(t *testing.T) {
	for in, ok := range map[string]bool{"ns/name": true, "name": false, "/name": false, "ns/": false, "a/b/c": false} {
		if _, _, err := ParseConfigMapRef(in); (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
}
