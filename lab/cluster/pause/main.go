// The pods' pause program: it holds a pod's namespaces while the pod lives, as PID 1 of
// the sandbox. It reaps the children it inherits and exits on SIGTERM or SIGINT, so that a
// pod stops at once. Built by lab/cluster/binaries.ts into the image localhost/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
