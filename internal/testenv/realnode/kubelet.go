package realnode

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
)

// kubeletConfig is the kubelet's KubeletConfiguration.
//
//   - failCgroupV1: false — this machine has cgroup v1 (hybrid), which the kubelet refuses
//     otherwise; cgroupfs driver, as there is no systemd.
//   - cgroupRoot: the pods' cgroups go under one root of the node's own, found and removed at
//     the end.
//   - Image garbage collection and eviction thresholds out of reach: the imported images are
//     the only copies (no registry), and a full disk must not evict a test's pods.
//   - podLogsDir and volumePluginDir in the node's directory, not the host's /var.
//   - Webhook authorization and x509 authentication of the API server's client certificate, as
//     clusters run it; no read-only port.
func kubeletConfig(dir, ca, cert, key string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%[1]s
containerRuntimeEndpoint: unix://%[2]s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[3]q}
authorization: {mode: Webhook}
tlsCertFile: %[4]q
tlsPrivateKeyFile: %[5]q
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
clusterDomain: cluster.local
resolvConf: %[6]q
podLogsDir: %[7]q
volumePluginDir: %[8]q
failSwapOn: false
protectKernelDefaults: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 1Mi
  nodefs.available: 1%%
  nodefs.inodesFree: 1%%
  imagefs.available: 1%%
serializeImagePulls: false
maxPods: 30
syncFrequency: 10s
`, cgroupName, filepath.Join(dir, "containerd.sock"), ca, cert, key,
		filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "pod-logs"), filepath.Join(dir, "volume-plugins"))
}

// kubeProxyConfig is kube-proxy's configuration: iptables mode; conntrack settings left as
// they are (their sysctls are host-wide).
func kubeProxyConfig(kubeconfig, node string) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %q
hostnameOverride: %s
mode: iptables
clusterCIDR: %s
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
`, kubeconfig, node, podCIDR)
}

// startKubelet writes its certificates and configs and runs the kubelet: a client certificate
// in system:nodes (the Node authorizer), a serving certificate for the node's IP (the API
// server verifies it for logs and exec).
func (n *Node) startKubelet() error {
	cert, key, err := n.API.Issue("kubelet", "system:node:"+n.Name, []string{"system:nodes"})
	if err != nil {
		return err
	}
	kc := filepath.Join(n.dir, "kubelet.kubeconfig")
	if err := n.API.Kubeconfig(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CertFile: cert, KeyFile: key}}, kc); err != nil {
		return err
	}
	scert, skey, err := n.API.Issue("kubelet-serving", "system:node:"+n.Name, []string{"system:nodes"}, net.ParseIP(n.IP))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.dir, "resolv.conf"), nil, 0o644); err != nil {
		return err
	}
	cfg := filepath.Join(n.dir, "kubelet.yaml")
	if err := os.WriteFile(cfg, []byte(kubeletConfig(n.dir, n.API.CAFile(), scert, skey)), 0o644); err != nil {
		return err
	}
	p, err := spawn(n.dir, "kubelet", n.wrap(n.bins["kubelet"], "--config", cfg, "--kubeconfig", kc,
		"--root-dir", filepath.Join(n.dir, "kubelet"), "--hostname-override", n.Name, "--node-ip", n.IP, "--v", "1"))
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	return nil
}

// startKubeProxy runs kube-proxy as system:kube-proxy (the node-proxier binding).
func (n *Node) startKubeProxy() error {
	cert, key, err := n.API.Issue("kube-proxy", "system:kube-proxy", nil)
	if err != nil {
		return err
	}
	kc := filepath.Join(n.dir, "kube-proxy.kubeconfig")
	if err := n.API.Kubeconfig(&rest.Config{TLSClientConfig: rest.TLSClientConfig{CertFile: cert, KeyFile: key}}, kc); err != nil {
		return err
	}
	cfg := filepath.Join(n.dir, "kube-proxy.yaml")
	if err := os.WriteFile(cfg, []byte(kubeProxyConfig(kc, n.Name)), 0o644); err != nil {
		return err
	}
	p, err := spawn(n.dir, "kube-proxy", n.wrap(n.bins["kube-proxy"], "--config", cfg, "--v", "1"))
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	return nil
}
