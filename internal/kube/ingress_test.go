package kube

import (
	"reflect"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIngressDeepCopy: a copy equals the original and shares nothing with it (informers and
// their mutation detector rely on that).
func TestIngressDeepCopy(t *testing.T) {
	exact := networkingv1.PathTypeExact
	in := asIngress(t, &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u", ResourceVersion: "3", Annotations: annotated},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{},
			Rules: []networkingv1.IngressRule{
				{Host: "a.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/x", PathType: &exact}}}}},
				{Host: "b.example.com"},
			},
		},
	})
	if p := in.Spec.Rules[0].HTTP.Paths[0]; in.Spec.DefaultBackend == nil || len(in.Spec.Rules) != 2 || p.Path != "/x" || *p.PathType != "Exact" {
		t.Fatalf("decoded %+v", in)
	}
	list := &networkingv1.IngressList{Items: []networkingv1.Ingress{*in}}
	cp := list.DeepCopyObject().(*networkingv1.IngressList)
	if !reflect.DeepEqual(cp, list) {
		t.Fatalf("copy %+v, want %+v", cp, list)
	}
	cp.Items[0].Annotations["betterauthz.io/policy"] = "deny"
	cp.Items[0].Spec.Rules[0].Host = "c.example.com"
	cp.Items[0].Spec.Rules[0].HTTP.Paths[0].Path = "/y"
	if in.Annotations["betterauthz.io/policy"] != "public" || in.Spec.Rules[0].Host != "a.example.com" || in.Spec.Rules[0].HTTP.Paths[0].Path != "/x" {
		t.Fatalf("the copy shares with the original: %+v", in)
	}
}
