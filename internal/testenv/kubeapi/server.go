// Package kubeapi runs a real Kubernetes API server for tests: etcd and kube-apiserver, built
// from the Go module proxy by scripts/build-tools.sh (pinned in tools/go.mod) and cached in
// .cache/bin. It generates the CA, serving, admin and service-account keys itself. When the
// binaries cannot be built or started, Start fails: the tests never skip.
package kubeapi

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
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

	caPEM  []byte
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	procs  []*proc
	bins   map[string]string
	opts   Options
}

// Options place the servers elsewhere than on loopback, for a real node (internal/testenv/
// realnode) whose kubelet and pods must reach them. The zero value is Start's loopback setup.
type Options struct {
	// Address etcd and the API server listen on, and the API server advertises (default
	// 127.0.0.1). The serving certificate names it.
	Address string
	// Wrap is put before every command, e.g. nsenter --net=/run/netns/NAME to start the
	// servers inside a network namespace.
	Wrap []string
	// Dial opens the connections of this process to the servers (default: a plain dialer); the
	// Admin config and every client built from it use it.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// APIServerArgs are added after the API server's own flags (a repeated flag takes the last
	// value).
	APIServerArgs []string
	// RealNodes sets the API server up for real kubelets: the Node authorizer beside RBAC
	// (kubelets authenticate as system:node:NAME), and access to them (logs, exec) with the
	// admin certificate, theirs checked against the cluster CA.
	RealNodes bool
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
func Start() (*Server, error) { return StartWith(Options{}) }

// StartWith is Start, placed by o.
func StartWith(o Options) (*Server, error) {
	bins, err := Binaries("etcd", "kube-apiserver")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kubeapi-")
	if err != nil {
		return nil, err
	}
	if o.Address == "" {
		o.Address = "127.0.0.1"
	}
	s := &Server{Dir: dir, bins: bins, opts: o}
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
	host := net.JoinHostPort(o.Address, "")
	etcdURL := fmt.Sprintf("http://%s%d", host, ports[0])
	peerURL := fmt.Sprintf("http://%s%d", host, ports[1])
	if err := s.spawn("etcd", bins["etcd"],
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL,
		"--unsafe-no-fsync", "--log-level", "error",
	); err != nil {
		return nil, err
	}
	if err := waitHTTP(etcdURL+"/health", nil, o.Dial, s.procs[0].done, 30*time.Second); err != nil {
		return nil, fmt.Errorf("kubeapi: etcd: %w\n%s", err, s.procs[0].output())
	}

	s.URL = "https://" + host + strconv.Itoa(ports[2])
	p := func(name string) string { return filepath.Join(dir, name) }
	args := []string{
		"--etcd-servers", etcdURL,
		"--bind-address", o.Address, "--advertise-address", o.Address,
		"--secure-port", strconv.Itoa(ports[2]),
		"--tls-cert-file", p("serving.crt"), "--tls-private-key-file", p("serving.key"),
		"--client-ca-file", p("ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", p("sa.pub"),
		"--service-account-signing-key-file", p("sa.key"),
		"--api-audiences", "https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--allow-privileged",
		"--enable-priority-and-fairness=false",
		// No node-lifecycle controller runs to lift the not-ready taint from kwok's fake nodes.
		"--disable-admission-plugins=TaintNodesByCondition",
		"--profiling=false",
		"--endpoint-reconciler-type", "none",
		"--v", "1",
	}
	if o.RealNodes {
		args = append(args, "--authorization-mode", "Node,RBAC",
			"--kubelet-client-certificate", p("admin.crt"), "--kubelet-client-key", p("admin.key"),
			"--kubelet-certificate-authority", p("ca.crt"))
	} else {
		args = append(args, "--authorization-mode", "RBAC")
	}
	if err := s.spawn("kube-apiserver", bins["kube-apiserver"], append(args, o.APIServerArgs...)...); err != nil {
		return nil, err
	}
	if s.Admin, err = s.clientConfig(p("admin.crt"), p("admin.key")); err != nil {
		return nil, err
	}
	tlsCfg, err := rest.TLSConfigFor(s.Admin)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(s.URL+"/readyz", tlsCfg, o.Dial, s.procs[1].done, 90*time.Second); err != nil {
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
		Dial:            s.opts.Dial,
	}, nil
}

func (s *Server) clientConfig(certFile, keyFile string) (*rest.Config, error) {
	return &rest.Config{
		Host:            s.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.caPEM, CertFile: certFile, KeyFile: keyFile},
		QPS:             100,
		Burst:           200,
		Dial:            s.opts.Dial,
	}, nil
}

func (s *Server) spawn(name, bin string, args ...string) error {
	p := &proc{name: name, done: make(chan struct{})}
	argv := append(append(slices.Clone(s.opts.Wrap), bin), args...)
	p.cmd = exec.Command(argv[0], argv[1:]...)
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

// waitHTTP waits for url to answer 200, until within has passed or the server has exited
// (exited closed).
func waitHTTP(url string, tlsCfg *tls.Config, dial func(ctx context.Context, network, address string) (net.Conn, error), exited <-chan struct{}, within time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg, DialContext: dial}}
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.Join(fmt.Errorf("%s: the server exited", url), last)
		default:
		}
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
