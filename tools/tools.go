//go:build tools

// Package tools records the commands this module builds (scripts/build-tools.sh): the control
// plane the Kubernetes tests run, and the kubelet and kube-proxy of the real node
// (internal/testenv/realnode), all at one Kubernetes version.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
