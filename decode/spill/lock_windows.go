//go:build windows

package spill

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// canLock: LockFileEx locks are released by the system when the owning
// process exits, so they tell a live store from a dead one like flock.
const canLock = true

// removeWhileLocked: windows refuses to delete a file that is open, so
// the cleaner releases the lock file before removing the directory. The
// short window in between only matters to another cleaner, which removes
// the same directory.
const removeWhileLocked = false

// tryLock takes an exclusive lock on the first byte of f without waiting.
// It reports false when another handle holds it.
func tryLock(f *os.File) (bool, error) {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, nil
	default:
		return false, fmt.Errorf("spill: LockFileEx %s: %w", f.Name(), err)
	}
}
