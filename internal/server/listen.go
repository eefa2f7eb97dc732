package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// unixSocketMode lets the proxy's container reach the socket through the pod's fsGroup (the
// group of a shared emptyDir) while other users cannot; the directory is the real fence.
const unixSocketMode = 0o660

// listenGRPC listens on a TCP address, or on a Unix socket for "unix:///path" (or
// "unix:path"), the forms gRPC clients and Envoy's pipe address use.
func listenGRPC(addr string) (net.Listener, error) {
	path, ok := unixPath(addr)
	if !ok {
		return net.Listen("tcp", addr)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path) // removed again when the listener closes
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, unixSocketMode); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func unixPath(addr string) (string, bool) {
	if p, ok := strings.CutPrefix(addr, "unix://"); ok {
		return p, true
	}
	return strings.CutPrefix(addr, "unix:")
}

// removeStaleSocket removes a socket file left by a process that was killed (it never got to
// remove it), so that listening does not fail with "address already in use". Anything else at
// the path is left alone: a socket some process still accepts on, and any file that is not a
// socket.
func removeStaleSocket(path string) error {
	if path == "" {
		return errors.New("empty Unix socket path")
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket: not replacing it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: another process is listening on it", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: cannot tell whether the socket is in use: %w", path, err)
	}
	return os.Remove(path)
}
