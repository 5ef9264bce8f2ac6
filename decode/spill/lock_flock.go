//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package spill

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// canLock says whether tryLock can tell a live store from a dead one.
// flock locks belong to the open file description and vanish with the
// process, which is exactly "is the owner still running". They also work
// between two Stores of one process, which the tests rely on.
const canLock = true

// removeWhileLocked: unix lets a directory go while its lock file is open,
// so the cleaner keeps the lock until the directory is gone and no other
// process can lock the file in between.
const removeWhileLocked = true

// tryLock takes an exclusive lock on f without waiting. It reports false
// when another open file holds the lock.
func tryLock(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		default:
			return false, fmt.Errorf("spill: flock %s: %w", f.Name(), err)
		}
	}
}
