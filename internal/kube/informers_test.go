package kube

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

// TestDropManagedFields: the informers' caches keep no managedFields, and everything else.
func TestDropManagedFields(t *testing.T) {
	fields := []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{}}`)}}
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "orders", Namespace: "shop", Annotations: annotated, ManagedFields: fields}
	}
	u := &unstructured.Unstructured{}
	u.SetName("orders")
	u.SetAnnotations(annotated)
	u.SetManagedFields(fields)
	tests := map[string]metav1.Object{
		"unstructured": u,
		"metadata":     &metav1.PartialObjectMetadata{ObjectMeta: meta()},
		"ingress":      &networkingv1.Ingress{ObjectMeta: meta()},
	}
	for name, obj := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := dropManagedFields(obj)
			if err != nil {
				t.Fatal(err)
			}
			o := got.(metav1.Object)
			if o.GetManagedFields() != nil || o.GetName() != "orders" || o.GetAnnotations()["betterauthz.io/policy"] != "public" {
				t.Errorf("got %+v", got)
			}
		})
	}
	tombstone := cache.DeletedFinalStateUnknown{Key: "shop/orders"}
	if got, err := dropManagedFields(tombstone); err != nil || got != tombstone {
		t.Errorf("a tombstone: %v, %v", got, err)
	}
}
