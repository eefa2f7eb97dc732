package kubeapi

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// InstallCRDs applies CRD manifests (e.g. IstioCRDs' output) and waits until the API server
// serves each resource of ready.
func (s *Server) InstallCRDs(ctx context.Context, crds [][]byte, ready ...schema.GroupVersionResource) error {
	for _, c := range crds {
		if err := Apply(ctx, s.Admin, c); err != nil {
			return err
		}
	}
	for _, gvr := range ready {
		if err := WaitForResource(s.Admin, gvr, 30*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// CreateNamespaces creates namespaces, as an administrator.
func (s *Server) CreateNamespaces(ctx context.Context, names ...string) error {
	cs, err := kubernetes.NewForConfig(s.Admin)
	if err != nil {
		return err
	}
	for _, ns := range names {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
