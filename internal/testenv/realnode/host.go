package realnode

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What the node changes on the host, all under fixed names: one node runs at a time on a
// machine (the lock), so a run finds by these names whatever a killed run left, and removes it
// before it starts.
const (
	// stateDir holds the lock, the saved sysctls and the mount namespace's file.
	stateDir = "/run/betterauthz-node"
	// netnsName is the network namespace the node lives in.
	netnsName = "betterauthz-node"
	// cgroupName is the kubelet's cgroupRoot: the pods' cgroups are under it in every
	// hierarchy, so that they are found and removed, and the host's own /kubepods (if any)
	// is not touched.
	cgroupName = "betterauthz-node"
	// dirPrefix names the node's directory under os.TempDir.
	dirPrefix = "betterauthz-node-"
)

// kubeletSysctls are the host-wide settings the kubelet sets at start (its kernel tunables,
// "protectKernelDefaults: false"): saved before it starts, put back after.
var kubeletSysctls = []string{"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"}

// lockHost waits for any other node on this machine to finish (other test runs, other
// worktrees) and returns the lock's file; closing it releases the lock.
func lockHost() (*os.File, error) {
	if err := os.MkdirAll(filepath.Join(stateDir, "ns"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// saveSysctls records the kubelet's sysctls, unless a killed run recorded them first (then
// those are the host's own values).
func saveSysctls() error {
	file := filepath.Join(stateDir, "sysctls")
	if _, err := os.Stat(file); err == nil {
		return nil
	}
	var b strings.Builder
	for _, k := range kubeletSysctls {
		v, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s=%s\n", k, strings.TrimSpace(string(v)))
	}
	return os.WriteFile(file, []byte(b.String()), 0o600)
}

// restoreSysctls writes back the saved values and forgets them.
func restoreSysctls() error {
	file := filepath.Join(stateDir, "sysctls")
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	var errs []error
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		if cur, _ := os.ReadFile("/proc/sys/" + k); strings.TrimSpace(string(cur)) == v {
			continue
		}
		if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("realnode: restore %s=%s: %w", k, v, err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, os.Remove(file))
	}
	return errors.Join(errs...)
}

// sysctlsChanged lists the kubelet's sysctls that differ from the saved values.
func sysctlsChanged() []string {
	b, err := os.ReadFile(filepath.Join(stateDir, "sysctls"))
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		if cur, _ := os.ReadFile("/proc/sys/" + k); strings.TrimSpace(string(cur)) != v {
			out = append(out, fmt.Sprintf("sysctl %s=%s (was %s)", k, strings.TrimSpace(string(cur)), v))
		}
	}
	return out
}

// cgroupMounts are the mount points of every cgroup hierarchy (v1 controllers, the v2 tree).
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source super
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, after := strings.Fields(pre), strings.Fields(post)
		if ok && len(fields) > 4 && len(after) > 0 && (after[0] == "cgroup" || after[0] == "cgroup2") {
			out = append(out, fields[4])
		}
	}
	return out, sc.Err()
}

// makeCgroupRoot creates the kubelet's cgroupRoot in every hierarchy (the kubelet refuses a
// root that does not exist). A cpuset cgroup takes no task until it has CPUs and memory nodes.
func makeCgroupRoot() error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		dir := filepath.Join(m, cgroupName)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(m, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return err
				}
			}
		}
		// cgroup v2: the kubelet's pods need these controllers below the root.
		if ctrl, err := os.ReadFile(filepath.Join(m, "cgroup.subtree_control")); err == nil && filepath.Base(m) != "unified" {
			var enable []string
			for _, c := range strings.Fields(string(ctrl)) {
				enable = append(enable, "+"+c)
			}
			_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0o644)
		}
	}
	return nil
}

// cgroupDirs lists the directories of the cgroupRoot in every hierarchy, deepest first.
func cgroupDirs() []string {
	mounts, _ := cgroupMounts()
	var dirs []string
	for _, m := range mounts {
		_ = filepath.WalkDir(filepath.Join(m, cgroupName), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return dirs
}

// removeCgroups kills every process left in the cgroupRoot (the pods' containers) and removes
// its cgroups.
func removeCgroups() error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var busy []string
		for _, dir := range cgroupDirs() {
			for _, pid := range cgroupPIDs(dir) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
				busy = append(busy, fmt.Sprintf("%s: %v", dir, err))
			}
		}
		if len(busy) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("realnode: cgroups left: %s", strings.Join(busy, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func cgroupPIDs(dir string) []int {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountNSFile names the private mount namespace of containerd, its shims and the kubelet. Their
// mounts (container root filesystems, pod volumes, pod network namespaces) and the paths they
// write whatever their config says (/run/containerd, /var/run/netns, /var/log/containers,
// /var/lib/cni) are tmpfs inside it: they are never seen on the host, and they vanish with it.
const mountNSFile = stateDir + "/ns/mnt"

// createMountNS makes the namespace, kept alive by a bind mount of its file (in a private mount
// of its own: a namespace's file cannot be bound where its mounts would propagate into itself).
func createMountNS() error {
	nsDir := filepath.Dir(mountNSFile)
	steps := [][]string{
		{"mount", "--bind", nsDir, nsDir},
		{"mount", "--make-private", nsDir},
		{"touch", mountNSFile},
		{"unshare", "--mount=" + mountNSFile, "--propagation", "private", "--", "sh", "-ec",
			"for d in /run /var/log /var/lib; do mount -t tmpfs -o mode=0755 betterauthz-node \"$d\"; done"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("realnode: %s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// nsInode is the inode that names the mount namespace, 0 when there is none.
func nsInode() uint64 {
	var st syscall.Stat_t
	if syscall.Stat(mountNSFile, &st) != nil {
		return 0
	}
	return st.Ino
}

// killMountNS kills every process in the mount namespace (containerd's shims among them) and
// releases it: its mounts go with it.
func killMountNS() error {
	ino := nsInode()
	if ino != 0 {
		want := fmt.Sprintf("mnt:[%d]", ino)
		deadline := time.Now().Add(20 * time.Second)
		for {
			pids := processesIn(want)
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("realnode: processes %v outlive SIGKILL in the node's mount namespace", pids)
			}
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := syscall.Unmount(mountNSFile, 0); err != nil {
			return fmt.Errorf("realnode: umount %s: %w", mountNSFile, err)
		}
	}
	if err := syscall.Unmount(filepath.Dir(mountNSFile), 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("realnode: umount %s: %w", filepath.Dir(mountNSFile), err)
	}
	_ = os.Remove(mountNSFile)
	return nil
}

// processesIn lists the processes whose mount namespace is ns ("mnt:[inode]").
func processesIn(ns string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); link == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the host's mounts at or below dir.
func mountsUnder(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// removeStale undoes what a killed run left: its processes and mount namespace, its network
// namespace, its cgroups, its sysctls, its directories.
func removeStale() error {
	errs := []error{removeCgroups(), killMountNS(), deleteNetns(netnsName), restoreSysctls()}
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range old {
		if m := mountsUnder(dir); len(m) > 0 {
			errs = append(errs, fmt.Errorf("realnode: %s has mounts %v", dir, m))
			continue
		}
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}
