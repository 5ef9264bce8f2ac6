package spill

import (
	"fmt"
	"os"
	"runtime"

	"github.com/tapview/tapview/internal/filelock"
)

// canLock: where no lock tells a live store from a dead one, stale
// directories are left alone rather than risk deleting a live one.
const canLock = filelock.Supported

// removeWhileLocked: unix lets a directory go while its lock file is open,
// so the cleaner keeps the lock until the directory is gone and no other
// process can lock the file in between. Windows refuses to delete an open
// file, so there the cleaner releases the lock first; the short window in
// between only matters to another cleaner, which removes the same
// directory.
const removeWhileLocked = runtime.GOOS != "windows"

func tryLock(f *os.File) (bool, error) {
	ok, err := filelock.TryLock(f)
	if err != nil {
		return false, fmt.Errorf("spill: %w", err)
	}
	return ok, nil
}
