package kubeapi

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestStart proves the harness: a real API server that stores and serves objects.
func TestStart(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	cs, err := kubernetes.NewForConfig(s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts("t").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa, err := s.ServiceAccountConfig(ctx, "t", "sa")
	if err != nil {
		t.Fatal(err)
	}
	saClient, _ := kubernetes.NewForConfig(sa)
	// Without RBAC the service account may not list services: the authorizer is real.
	if _, err := saClient.CoreV1().Services("t").List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("service account listed services without RBAC")
	}
}
