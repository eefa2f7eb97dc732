package kubeapi

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// StartCluster runs a Server plus kube-controller-manager, kube-scheduler and kwok (fake nodes
// and pods) with one fake node, so that workloads reach Running and Ready without a kubelet or
// container runtime: enough for `helm install --wait`.
func StartCluster() (*Server, error) {
	bins, err := Binaries("kwok")
	if err != nil {
		return nil, err
	}
	s, err := StartControlPlane(Options{})
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	kc := filepath.Join(s.Dir, "admin.kubeconfig")
	kwokDir, err := ModuleDir(KwokModule)
	if err != nil {
		return nil, err
	}
	args := []string{"--kubeconfig", kc, "--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
		"--cidr", "10.244.0.0/16", "--node-ip", "10.0.0.10", "--server-address", ""}
	stages, _ := filepath.Glob(filepath.Join(kwokDir, "kustomize", "stage", "node", "fast", "*.yaml"))
	podStages, _ := filepath.Glob(filepath.Join(kwokDir, "kustomize", "stage", "pod", "fast", "*.yaml"))
	for _, f := range append(stages, podStages...) {
		if filepath.Base(f) != "kustomization.yaml" {
			args = append(args, "--config", f)
		}
	}
	if err := s.spawn("kwok", bins["kwok"], args...); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(s.Admin)
	if err != nil {
		return nil, err
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        "kwok-node-0",
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
		Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": "kwok-node-0", "topology.kubernetes.io/zone": "zone-a"},
	}}
	if _, err := cs.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := cs.CoreV1().Nodes().Get(context.Background(), node.Name, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ok = true
					return s, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("kubeapi: the kwok node never became Ready\n%s", s.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// KwokModule holds kwok's stage definitions (fast node and pod lifecycles).
const KwokModule = "sigs.k8s.io/kwok@v0.8.0"

// StartControlPlane runs a Server placed by o, plus kube-controller-manager (every controller
// but those of cloud nodes: node lifecycle, node IPAM, attach/detach) and kube-scheduler.
func StartControlPlane(o Options) (*Server, error) {
	bins, err := Binaries("kube-controller-manager", "kube-scheduler")
	if err != nil {
		return nil, err
	}
	s, err := StartWith(o)
	if err != nil {
		return nil, err
	}
	kc := filepath.Join(s.Dir, "admin.kubeconfig")
	if err := s.Kubeconfig(s.Admin, kc); err != nil {
		s.Stop()
		return nil, err
	}
	p := func(name string) string { return filepath.Join(s.Dir, name) }
	if err := s.spawn("kube-controller-manager", bins["kube-controller-manager"],
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--leader-elect=false", "--secure-port=0",
		"--service-account-private-key-file", p("sa.key"), "--root-ca-file", p("ca.crt"),
		"--use-service-account-credentials=false",
		"--controllers=*,-node-lifecycle-controller,-node-ipam-controller,-persistentvolume-attach-detach-controller",
		"--v=1",
	); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.spawn("kube-scheduler", bins["kube-scheduler"],
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--leader-elect=false", "--secure-port=0", "--v=1",
	); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}
