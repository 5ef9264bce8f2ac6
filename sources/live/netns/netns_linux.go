//go:build linux

package netns

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread that has joined the network namespace at path
// (Path(name), or /proc/PID/ns/net). Sockets fn creates belong to that
// namespace and keep working from any goroutine afterwards. The thread is
// never handed back to the scheduler: it exits when fn returns, so no
// other goroutine ever runs in the namespace by accident. It needs
// CAP_SYS_ADMIN.
func Do(path string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		// No UnlockOSThread: a locked goroutine that exits takes its
		// thread with it.
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- fmt.Errorf("netns: open %s: %w", path, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		_ = unix.Close(fd)
		if err != nil {
			done <- fmt.Errorf("netns: enter %s: %w", path, err)
			return
		}
		done <- fn()
	}()
	return <-done
}
