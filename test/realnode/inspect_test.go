package realnode_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/betterauthz/betterauthz/internal/testenv/realnode"
)

// assertLockedDown checks, in the kernel's own view of the running process (/proc on the
// host), what the pod's security settings ask for: user and group 65532, no capabilities, no
// privilege gain, seccomp filtering, a read-only root filesystem holding the binary and no
// shell.
func assertLockedDown(t *testing.T, node *realnode.Node, pod *corev1.Pod, container string) {
	t.Helper()
	var id string
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == container {
			id = cs.ContainerID
		}
	}
	pid, err := node.ContainerPID(id)
	if err != nil {
		t.Fatal(err)
	}
	proc := fmt.Sprintf("/proc/%d", pid)
	b, err := os.ReadFile(proc + "/status")
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		status[k] = strings.Join(strings.Fields(v), " ")
	}
	for k, want := range map[string]string{
		"Uid":        "65532 65532 65532 65532", // real, effective, saved, filesystem
		"Gid":        "65532 65532 65532 65532",
		"CapEff":     "0000000000000000",
		"CapPrm":     "0000000000000000",
		"CapBnd":     "0000000000000000",
		"NoNewPrivs": "1",
		"Seccomp":    "2", // a filter (RuntimeDefault)
	} {
		if status[k] != want {
			t.Errorf("%s/%s (pid %d): %s %q, want %q", pod.Name, container, pid, k, status[k], want)
		}
	}
	if exe, err := os.Readlink(proc + "/exe"); err != nil || exe != "/betterauthz" {
		t.Errorf("%s/%s runs %q (%v), want /betterauthz", pod.Name, container, exe, err)
	}
	// Through the process's own root: its mounts, its flags.
	err = os.WriteFile(proc+"/root/written-by-the-test", []byte("x"), 0o644)
	if !errors.Is(err, syscall.EROFS) {
		t.Errorf("%s/%s: writing to its root filesystem gave %v, want EROFS (read-only)", pod.Name, container, err)
	}
	for _, sh := range []string{"/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/sh"} {
		if _, err := os.Lstat(proc + "/root" + sh); err == nil {
			t.Errorf("%s/%s: the image has a shell: %s", pod.Name, container, sh)
		}
	}
	t.Logf("%s/%s is pid %d: uid/gid %s, capabilities %s, no_new_privs %s, seccomp %s, root filesystem read-only",
		pod.Name, container, pid, status["Uid"], status["CapEff"], status["NoNewPrivs"], status["Seccomp"])
}
