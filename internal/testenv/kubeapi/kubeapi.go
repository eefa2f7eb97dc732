// Package kubeapi runs a real Kubernetes API server for tests: etcd and kube-apiserver, built
// from the Go module proxy by scripts/build-tools.sh (pinned in tools/go.mod) and cached in
// .cache/bin. It generates the CA, serving, admin and service-account keys itself. When the
// binaries cannot be built or started, Start fails: the tests never skip.
package kubeapi

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// Server is a running etcd + kube-apiserver.
type Server struct {
	// URL of the API server, https://127.0.0.1:PORT.
	URL string
	// Admin is a client config with system:masters rights.
	Admin *rest.Config
	// Dir holds certificates, keys and etcd's data.
	Dir string

	caPEM []byte
	procs []*proc
	bins  map[string]string
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out.Len() < 1<<20 {
		p.out.Write(b)
	}
	return len(b), nil
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Binaries builds (if needed) and returns the path of each named tool in .cache/bin.
func Binaries(names ...string) (map[string]string, error) {
	root, err := betterauth.ModuleRoot()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "build-tools.sh"), names...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("kubeapi: scripts/build-tools.sh %v: %v\n%s", names, err, out)
	}
	paths := map[string]string{}
	for _, n := range names {
		paths[n] = filepath.Join(root, ".cache", "bin", n)
	}
	return paths, nil
}

// Start runs etcd and kube-apiserver on free loopback ports and waits until the API server is
// healthy. Stop it with Stop.
func Start() (*Server, error) {
	bins, err := Binaries("etcd", "kube-apiserver")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kubeapi-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bins: bins}
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	if err := s.writePKI(); err != nil {
		return nil, err
	}

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	if err := s.spawn("etcd", bins["etcd"],
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL,
		"--unsafe-no-fsync", "--log-level", "error",
	); err != nil {
		return nil, err
	}
	if err := waitHTTP(etcdURL+"/health", nil, 30*time.Second); err != nil {
		return nil, fmt.Errorf("kubeapi: etcd: %w\n%s", err, s.procs[0].output())
	}

	s.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	p := func(name string) string { return filepath.Join(dir, name) }
	if err := s.spawn("kube-apiserver", bins["kube-apiserver"],
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[2]),
		"--tls-cert-file", p("serving.crt"), "--tls-private-key-file", p("serving.key"),
		"--client-ca-file", p("ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", p("sa.pub"),
		"--service-account-signing-key-file", p("sa.key"),
		"--api-audiences", "https://kubernetes.default.svc.cluster.local",
		"--authorization-mode", "RBAC",
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--allow-privileged",
		"--enable-priority-and-fairness=false",
		// No node-lifecycle controller runs to lift the not-ready taint from kwok's fake nodes.
		"--disable-admission-plugins=TaintNodesByCondition",
		"--profiling=false",
		"--endpoint-reconciler-type", "none",
		"--v", "1",
	); err != nil {
		return nil, err
	}
	if s.Admin, err = s.clientConfig(p("admin.crt"), p("admin.key")); err != nil {
		return nil, err
	}
	tlsCfg, err := rest.TLSConfigFor(s.Admin)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(s.URL+"/readyz", tlsCfg, 90*time.Second); err != nil {
		return nil, fmt.Errorf("kubeapi: kube-apiserver: %w\n%s", err, s.procs[1].output())
	}
	// RBAC bootstrap (the default ClusterRoles) finishes shortly after /readyz.
	cs, err := kubernetes.NewForConfig(s.Admin)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := cs.RbacV1().ClusterRoles().Get(context.Background(), "cluster-admin", metav1.GetOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("kubeapi: RBAC bootstrap: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ok = true
	return s, nil
}

// Stop ends both processes and removes the data.
func (s *Server) Stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	if s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
}

// Logs is what the processes printed, for failing tests.
func (s *Server) Logs() string {
	var b bytes.Buffer
	for _, p := range s.procs {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", p.name, p.output())
	}
	return b.String()
}

// Kubeconfig writes a kubeconfig file for cfg (admin, or a service account's token) and
// returns its path.
func (s *Server) Kubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: s.URL, CertificateAuthorityData: s.caPEM}
	ai := &clientcmdapi.AuthInfo{Token: cfg.BearerToken, ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	if cfg.CertFile != "" {
		ai.ClientCertificate, ai.ClientKey = cfg.CertFile, cfg.KeyFile
	}
	kc.AuthInfos["test"] = ai
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	return clientcmd.WriteToFile(*kc, path)
}

// ServiceAccountConfig returns a client config that authenticates as a service account, with a
// token from the TokenRequest API (the service account must exist).
func (s *Server) ServiceAccountConfig(ctx context.Context, namespace, name string) (*rest.Config, error) {
	cs, err := kubernetes.NewForConfig(s.Admin)
	if err != nil {
		return nil, err
	}
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            s.URL,
		BearerToken:     tr.Status.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.caPEM},
	}, nil
}

func (s *Server) clientConfig(certFile, keyFile string) (*rest.Config, error) {
	return &rest.Config{
		Host:            s.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.caPEM, CertFile: certFile, KeyFile: keyFile},
		QPS:             100,
		Burst:           200,
	}, nil
}

func (s *Server) spawn(name, bin string, args ...string) error {
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("kubeapi: start %s: %w", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	s.procs = append(s.procs, p)
	return nil
}

// writePKI generates a CA, the API server's serving certificate, an admin client certificate
// (O=system:masters) and the service-account signing key pair.
func (s *Server) writePKI() error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "betterauthz-test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	s.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(filepath.Join(s.Dir, "ca.crt"), s.caPEM, 0o600); err != nil {
		return err
	}
	leaf := func(name string, serial int64, tmpl *x509.Certificate) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(s.Dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(s.Dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	}
	if err := leaf("serving", 2, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return err
	}
	if err := leaf("admin", 3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitHTTP(url string, tlsCfg *tls.Config, within time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return errors.Join(fmt.Errorf("%s not healthy within %s", url, within), last)
}

// Apply server-side-applies every object in a multi-document YAML stream (as kubectl apply
// --server-side would), in the namespace each object names (or defaultNamespace).
func Apply(ctx context.Context, cfg *rest.Config, manifest []byte) error {
	return apply(ctx, cfg, manifest, "", false)
}

// ApplyDryRun is Apply with --dry-run=server: the API server validates and admits every object
// (schemas, CRDs, defaulting) without storing anything. Objects without a namespace go to
// namespace.
func ApplyDryRun(ctx context.Context, cfg *rest.Config, manifest []byte, namespace string) error {
	return apply(ctx, cfg, manifest, namespace, true)
}

func apply(ctx context.Context, cfg *rest.Config, manifest []byte, defaultNamespace string, dryRun bool) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	objs, err := DecodeObjects(manifest)
	if err != nil {
		return err
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			mapper.Reset() // a CRD applied earlier in the stream
			if mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				return fmt.Errorf("%s %s: %w", gvk, obj.GetName(), err)
			}
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if obj.GetNamespace() == "" {
				obj.SetNamespace(defaultNamespace)
			}
			ri = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		opts := metav1.ApplyOptions{FieldManager: "betterauthz-tests", Force: true}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := ri.Apply(ctx, obj.GetName(), obj, opts); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
	}
	return nil
}

// ModuleDir downloads a Go module (path@version) through the module proxy and returns its
// folder, for manifests that ship inside modules (CRDs).
func ModuleDir(module string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", module, info.Error)
	}
	return info.Dir, nil
}

// Modules whose CRDs the tests install, pinned.
const (
	GatewayAPIModule         = "sigs.k8s.io/gateway-api@v1.6.3"
	IstioAPIModule           = "istio.io/api@v1.32.0"
	PrometheusOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
)

// GatewayAPICRDs returns the standard-channel Gateway API CRDs (HTTPRoute among them).
func GatewayAPICRDs() ([]byte, error) {
	return moduleFiles(GatewayAPIModule, "config/crd/standard/*.yaml")
}

// IstioCRDs returns Istio's CRDs (AuthorizationPolicy, ServiceEntry, EnvoyFilter, ...).
func IstioCRDs() ([]byte, error) {
	return moduleFiles(IstioAPIModule, "kubernetes/customresourcedefinitions.gen.yaml")
}

// PrometheusOperatorCRDs returns the ServiceMonitor CRD.
func PrometheusOperatorCRDs() ([]byte, error) {
	return moduleFiles(PrometheusOperatorModule, "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml")
}

// moduleFiles concatenates the files of a module matching a glob into one YAML stream.
func moduleFiles(module, glob string) ([]byte, error) {
	dir, err := ModuleDir(module)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(glob)))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no files %s in %s", glob, module)
	}
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, []byte("\n---\n")...)
		all = append(all, b...)
	}
	return all, nil
}

// WaitForResource waits until the API server serves a resource (a CRD just created becomes
// established).
func WaitForResource(cfg *rest.Config, gvr schema.GroupVersionResource, within time.Duration) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for {
		list, err := dc.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
		if err == nil {
			for _, r := range list.APIResources {
				if r.Name == gvr.Resource {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not served within %s", gvr, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartCluster runs a Server plus kube-controller-manager, kube-scheduler and kwok (fake nodes
// and pods) with one fake node, so that workloads reach Running and Ready without a kubelet or
// container runtime: enough for `helm install --wait`.
func StartCluster() (*Server, error) {
	bins, err := Binaries("kube-controller-manager", "kube-scheduler", "kwok")
	if err != nil {
		return nil, err
	}
	s, err := Start()
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
	if err := s.Kubeconfig(s.Admin, kc); err != nil {
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
		return nil, err
	}
	if err := s.spawn("kube-scheduler", bins["kube-scheduler"],
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--leader-elect=false", "--secure-port=0", "--v=1",
	); err != nil {
		return nil, err
	}
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

// DecodeObjects reads every object of a multi-document YAML (or JSON) stream.
func DecodeObjects(manifest []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, &u)
		}
	}
}
