package realnode

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a network namespace the test creates (/run/netns/NAME): the whole node lives in it,
// so its bridge, routes and iptables rules never touch the host's network, and deleting it
// removes them all.
type netns struct {
	name string
	path string
	// self is this process's own namespace, which a dialing thread returns to.
	self *os.File
}

// createNetns makes the namespace with lo up and a veth pair whose two ends both stay inside it
// (this kernel has no dummy link): one end carries the node's IP and the default route, which
// the kubelet and kube-proxy need to find their node address.
func createNetns(name, cidr string) (*netns, error) {
	self, err := os.Open("/proc/self/ns/net")
	if err != nil {
		return nil, err
	}
	n := &netns{name: name, path: "/run/netns/" + name, self: self}
	ip, _, _ := strings.Cut(cidr, "/")
	steps := [][]string{
		{"netns", "add", name},
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "link", "add", "node0", "type", "veth", "peer", "name", "node1"},
		{"-n", name, "addr", "add", cidr, "dev", "node0"},
		{"-n", name, "link", "set", "node0", "up"},
		{"-n", name, "link", "set", "node1", "up"},
		{"-n", name, "route", "add", "default", "dev", "node0", "src", ip},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			return n, fmt.Errorf("realnode: ip %s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return n, nil
}

// deleteNetns removes the namespace by name (also one a killed run left).
func deleteNetns(name string) error {
	if _, err := os.Stat("/run/netns/" + name); os.IsNotExist(err) {
		return nil
	}
	if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("realnode: ip netns delete %s: %v\n%s", name, err, out)
	}
	return nil
}

// DialContext opens a connection from inside the namespace. The socket is made by a thread
// that has joined the namespace; the thread then returns to this process's namespace (a thread
// left behind would end with its goroutine, and a child process started from it earlier would
// receive its parent-death signal).
func (n *netns) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := os.Open(n.path)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, fmt.Errorf("realnode: setns: %w", err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, address)
		if unix.Setns(int(n.self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- result{conn, err}
	}()
	r := <-ch
	return r.conn, r.err
}

// httpClient sends its requests from inside the namespace.
func (n *netns) httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: n.DialContext, DisableKeepAlives: true}}
}
