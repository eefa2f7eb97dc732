package realnode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The container runtime and network: Debian's containerd and runc (scripts/system-deps.sh),
// Debian's CNI plugins.
const (
	cniBinDir = "/usr/lib/cni"
	// PauseImage is the image of every pod's sandbox container (ImportImage it first).
	PauseImage = "betterauthz.test/pause:1"
	// podCIDR is the bridge's subnet on the node.
	podCIDR = "10.244.0.0/24"
)

// containerdConfig is containerd 1.6's config: state under the node's directory, the CRI
// plugin with runc and the bridge CNI.
//
// restrict_oom_score_adj: this VM grants every capability but CAP_SYS_RESOURCE, so the
// sandbox's oom_score_adj of -998 would fail ("can't get final child's PID from pipe: EOF").
// SystemdCgroup false: the kubelet's cgroupfs driver (there may be no systemd).
func containerdConfig(dir string) string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
`, filepath.Join(dir, "containerd", "root"), filepath.Join(dir, "containerd", "state"),
		filepath.Join(dir, "containerd.sock"), filepath.Join(dir, "containerd-ttrpc.sock"),
		PauseImage, cniBinDir, filepath.Join(dir, "cni"))
}

// cniConfig is a bridge network for the pods: cni0 is their gateway, masquerade for what
// leaves the subnet, hairpin so that a pod reaches itself through a Service.
func cniConfig(dir string) string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "betterauthz-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    }
  ]
}
`, podCIDR, filepath.Join(dir, "cni-ipam"))
}

// startContainerd writes the configs and runs containerd, waiting for its socket.
func (n *Node) startContainerd() error {
	if err := os.MkdirAll(filepath.Join(n.dir, "cni"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.dir, "cni", "10-betterauthz-node.conflist"), []byte(cniConfig(n.dir)), 0o644); err != nil {
		return err
	}
	cfg := filepath.Join(n.dir, "containerd.toml")
	if err := os.WriteFile(cfg, []byte(containerdConfig(n.dir)), 0o644); err != nil {
		return err
	}
	p, err := spawn(n.dir, "containerd", n.wrap("containerd", "--config", cfg, "--log-level", "warn"))
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if out, err := n.ctr("version"); err == nil {
			return nil
		} else if time.Now().After(deadline) || p.exited() {
			return fmt.Errorf("realnode: containerd did not come up: %v\n%s\n%s", err, out, p.tail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ctr runs containerd's CLI against the node's containerd, in the CRI plugin's namespace.
func (n *Node) ctr(args ...string) (string, error) {
	out, err := exec.Command("ctr", append([]string{"--address", filepath.Join(n.dir, "containerd.sock"), "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	return string(out), err
}

// ImportImage loads a docker-archive or OCI tarball (e.g. `make image`'s) into the node, where
// pods use it with imagePullPolicy IfNotPresent or Never: there is no registry.
func (n *Node) ImportImage(tarball string) error {
	out, err := n.ctr("images", "import", tarball)
	if err != nil {
		return fmt.Errorf("realnode: ctr images import %s: %v\n%s", tarball, err, out)
	}
	return nil
}

// Tasks lists the running containers of a pod namespace, by containerd's container ID.
func (n *Node) Tasks(namespace string) ([]string, error) {
	out, err := n.ctr("containers", "ls", "-q", fmt.Sprintf(`labels."io.kubernetes.pod.namespace"==%s`, namespace))
	if err != nil {
		return nil, fmt.Errorf("realnode: ctr containers ls: %v\n%s", err, out)
	}
	ids := strings.Fields(out)
	out, err = n.ctr("tasks", "ls")
	if err != nil {
		return nil, fmt.Errorf("realnode: ctr tasks ls: %v\n%s", err, out)
	}
	var running []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "RUNNING" && slices.Contains(ids, f[0]) {
			running = append(running, f[0])
		}
	}
	return running, nil
}

// ContainerPID is the host PID of a running container (a pod status's containerID, with or
// without its containerd:// prefix): its /proc entry shows what the kernel enforces on it.
func (n *Node) ContainerPID(containerID string) (int, error) {
	id := strings.TrimPrefix(containerID, "containerd://")
	out, err := n.ctr("tasks", "ls")
	if err != nil {
		return 0, fmt.Errorf("realnode: ctr tasks ls: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == id && f[2] == "RUNNING" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("realnode: no running task for container %s:\n%s", id, out)
}
