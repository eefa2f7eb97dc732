// Command pause is the real node's sandbox image (realnode.PauseImage): the process that holds
// a pod's namespaces open. As PID 1 of the pod it reaps the orphans it inherits, and it exits
// at SIGTERM or SIGINT, as the Kubernetes pause container does. A Go program, so that the
// tests need no C toolchain and no registry to have one.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			return
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
