// Package realnode runs a real Kubernetes node for tests: Debian's containerd and runc, a
// kubelet and kube-proxy built from the Go module proxy at the control plane's version
// (tools/go.mod, scripts/build-tools.sh), Debian's bridge CNI plugin, and the control plane of
// internal/testenv/kubeapi (etcd, API server, controller manager, scheduler). Containers really
// start: images, probes, security contexts and signals behave as on a cluster.
//
// The whole node lives in a network namespace the test creates, so that its bridge, routes and
// iptables rules never touch the host's network; the runtime and the kubelet also share a
// private mount namespace, so that their mounts and their fixed paths (/run/containerd,
// /var/run/netns, /var/log/containers, /var/lib/cni) stay off the host. What is left on the host
// is undone when the test ends, by t.Cleanup, also when it fails: processes, the namespaces,
// the kubelet's cgroups (under a root of the node's own) and the host-wide sysctls the kubelet
// sets. A run killed before its cleanup is cleaned up by the next one. One node runs at a time
// on a machine (a lock in /run/betterauthz-node): tests in other packages or worktrees wait.
//
// The facts behind each setting are in the comments where they are set. It needs root, and
// Linux with network namespaces and cgroups; Start skips the test only when those are missing.
package realnode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// Node is a running node and its control plane.
type Node struct {
	// Name of the Node object.
	Name string
	// IP is the node's address in its network namespace: the API server, Better Auth
	// (StartBetterAuth) and the kubelet listen on it; pods reach it through their gateway.
	IP string
	// API is the control plane. Its Admin config dials from inside the namespace.
	API *kubeapi.Server
	// Kubeconfig is an admin kubeconfig file, for commands run with Command.
	Kubeconfig string
	// Clientset is an admin client.
	Clientset kubernetes.Interface

	dir   string
	ns    *netns
	bins  map[string]string
	procs []*process
}

const nodeCIDR = "10.88.0.2/24"

// Start brings a node up and registers its teardown with t.Cleanup. It fails t when the node
// cannot start, and skips t only when this machine cannot run one at all (not root, no network
// namespaces or cgroups).
func Start(t testing.TB) *Node {
	t.Helper()
	if why := impossible(); why != "" {
		t.Skipf("no real node on this machine: %s", why)
	}
	bins, err := kubeapi.Binaries("kubelet", "kube-proxy")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"containerd", "runc", "ctr", "iptables", "nsenter", "unshare", "ip"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("realnode: %s is not installed (scripts/system-deps.sh installs it: make test-deps)", c)
		}
	}
	if _, err := os.Stat(filepath.Join(cniBinDir, "bridge")); err != nil {
		t.Fatalf("realnode: the CNI plugins are not installed in %s (Debian's containernetworking-plugins; make test-deps)", cniBinDir)
	}
	start := time.Now()
	lock, err := lockHost()
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Logf("realnode: waited %s for another node on this machine to finish", waited.Round(time.Second))
	}
	n := &Node{Name: "betterauthz-node", IP: strings.Split(nodeCIDR, "/")[0], bins: bins}
	t.Cleanup(func() {
		if err := n.teardown(); err != nil {
			t.Error(err)
		}
		if left := leftovers(n.dir); len(left) > 0 {
			t.Errorf("realnode: the host still holds, after the node's teardown: %s", strings.Join(left, "; "))
		}
		lock.Close()
	})
	if err := n.up(); err != nil {
		t.Fatalf("%v\n%s", err, n.Logs())
	}
	t.Logf("realnode: node %s Ready in %s", n.Name, time.Since(start).Round(100*time.Millisecond))
	return n
}

// impossible says why this machine cannot run a node, or "".
func impossible() string {
	switch {
	case os.Getuid() != 0:
		return "the node's runtime needs root"
	case !fileExists("/proc/self/ns/net"):
		return "no network namespaces"
	case !fileExists("/sys/fs/cgroup"):
		return "no cgroups"
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// up does the work of Start, each step's undoing already in teardown.
func (n *Node) up() error {
	if err := removeStale(); err != nil {
		return fmt.Errorf("realnode: what an earlier run left: %w", err)
	}
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return err
	}
	n.dir = dir
	if n.ns, err = createNetns(netnsName, nodeCIDR); err != nil {
		return err
	}
	if err := createMountNS(); err != nil {
		return err
	}
	if err := makeCgroupRoot(); err != nil {
		return err
	}
	if n.API, err = kubeapi.StartControlPlane(kubeapi.Options{
		Address: n.IP, Wrap: n.wrap(), Dial: n.ns.DialContext,
		APIServerArgs: []string{
			// The kubernetes Service's endpoint (the node IP) for pods that talk to the API.
			"--endpoint-reconciler-type", "lease",
			// Else `kubectl logs` and exec look the node's name up in DNS.
			"--kubelet-preferred-address-types", "InternalIP",
		},
		RealNodes: true,
	}); err != nil {
		return err
	}
	n.Kubeconfig = filepath.Join(n.dir, "admin.kubeconfig")
	if err := n.API.Kubeconfig(n.API.Admin, n.Kubeconfig); err != nil {
		return err
	}
	if n.Clientset, err = kubernetes.NewForConfig(n.API.Admin); err != nil {
		return err
	}
	if err := saveSysctls(); err != nil {
		return err
	}
	if err := n.startContainerd(); err != nil {
		return err
	}
	if err := n.importPause(); err != nil {
		return err
	}
	if err := n.startKubelet(); err != nil {
		return err
	}
	if err := n.startKubeProxy(); err != nil {
		return err
	}
	return n.waitReady()
}

// wrap is the command line that runs argv inside the node's network and mount namespaces. It
// uses nsenter, not `ip netns exec`, which remounts /sys and so hides the cgroup mounts from the
// kubelet and runc.
func (n *Node) wrap(argv ...string) []string {
	return append([]string{"nsenter", "--net=" + n.ns.path, "--mount=" + mountNSFile, "--"}, argv...)
}

// waitReady waits for the Node to be Ready and its kube-root-ca.crt and default service
// account to exist (what pods need from the controller manager).
func (n *Node) waitReady() error {
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		node, err := n.Clientset.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
		ready := false
		if err == nil {
			for _, c := range node.Status.Conditions {
				ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
			}
		}
		_, saErr := n.Clientset.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if ready && saErr == nil {
			return nil
		}
		for _, p := range n.procs {
			if p.exited() {
				return fmt.Errorf("realnode: %s exited:\n%s", p.name, p.tail(40))
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("realnode: node not Ready within 2m (node: %v, service account: %v)", err, saErr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// teardown stops everything Start started and undoes what it changed, in reverse order. It
// runs whatever state Start reached.
func (n *Node) teardown() error {
	for i := len(n.procs) - 1; i >= 0; i-- {
		n.procs[i].stop(15 * time.Second)
	}
	if n.API != nil {
		n.API.Stop()
	}
	// The containers first (their cgroups), then the runtime's shims (the mount namespace).
	errs := []error{removeCgroups(), killMountNS(), deleteNetns(netnsName), restoreSysctls()}
	if n.dir != "" {
		if m := mountsUnder(n.dir); len(m) > 0 {
			errs = append(errs, fmt.Errorf("realnode: mounts left under %s: %v", n.dir, m))
		} else {
			errs = append(errs, os.RemoveAll(n.dir))
		}
	}
	return errors.Join(errs...)
}

// leftovers lists what the node left on the host: none of it should remain.
func leftovers(dir string) []string {
	var left []string
	if dir != "" && fileExists(dir) {
		left = append(left, "directory "+dir)
	}
	if fileExists("/run/netns/" + netnsName) {
		left = append(left, "network namespace "+netnsName)
	}
	if nsInode() != 0 {
		left = append(left, "mount namespace "+mountNSFile)
	}
	if m := mountsUnder(stateDir); len(m) > 0 {
		left = append(left, fmt.Sprintf("mounts %v", m))
	}
	if d := cgroupDirs(); len(d) > 0 {
		left = append(left, fmt.Sprintf("cgroups %v", d))
	}
	left = append(left, sysctlsChanged()...)
	if dir != "" {
		if out, err := exec.Command("pgrep", "-f", dir).Output(); err == nil && len(out) > 0 {
			left = append(left, "processes "+strings.Join(strings.Fields(string(out)), " "))
		}
	}
	return left
}

// Command is a command run inside the node's namespaces, e.g. helm with --kubeconfig
// n.Kubeconfig, in dir. (Entering a mount namespace starts in its /; nsenter's own --wd would
// open dir before entering, which leaves the working directory unreachable from inside.)
func (n *Node) Command(dir, name string, args ...string) *exec.Cmd {
	argv := n.wrap(append([]string{"env", "--chdir=" + dir, name}, args...)...)
	return exec.Command(argv[0], argv[1:]...)
}

// DialContext opens a connection from inside the node's network namespace: to a Service's
// ClusterIP (through kube-proxy's rules), a pod's IP, or the node's own address.
func (n *Node) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return n.ns.DialContext(ctx, network, address)
}

// HTTPClient sends requests from inside the node's network namespace.
func (n *Node) HTTPClient() *http.Client { return n.ns.httpClient() }

// StartBetterAuth runs the repository's Better Auth server on the node's address, where pods
// reach it, stopped by t.Cleanup.
func (n *Node) StartBetterAuth(t testing.TB, o betterauth.StartOptions) *betterauth.Server {
	t.Helper()
	o.Host, o.Wrap, o.HTTPClient = n.IP, n.wrap(), n.HTTPClient()
	if o.Port == 0 {
		o.Port = 3000
	}
	ba, err := betterauth.StartWith(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ba.Stop)
	return ba
}

// Logs is the end of each program's log, and the API server's, for a failing test.
func (n *Node) Logs() string {
	var b strings.Builder
	for _, p := range n.procs {
		fmt.Fprintf(&b, "--- %s (last lines) ---\n%s\n", p.name, p.tail(40))
	}
	if n.API != nil {
		logs := n.API.Logs()
		if len(logs) > 8000 {
			logs = "…" + logs[len(logs)-8000:]
		}
		b.WriteString(logs)
	}
	return b.String()
}
