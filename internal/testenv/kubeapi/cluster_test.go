package kubeapi

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestStartCluster proves the cluster harness: a Deployment becomes Available on kwok's node.
func TestStartCluster(t *testing.T) {
	s, err := StartCluster()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	cs, _ := kubernetes.NewForConfig(s.Admin)
	ctx := context.Background()
	two := int32(2)
	labels := map[string]string{"app": "x"}
	_, err = cs.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.example/x:1"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "x", metav1.GetOptions{})
		if err == nil && d.Status.AvailableReplicas == 2 {
			return
		}
		if time.Now().After(deadline) {
			pods, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			for _, p := range pods.Items {
				t.Logf("pod %s node %q phase %s conditions %+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions)
			}
			t.Fatalf("Deployment not available: %+v\n%s", d.Status, s.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
