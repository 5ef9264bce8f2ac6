package upload

import (
	"os"

	"github.com/tapview/tapview/internal/filelock"
)

// tryLock takes the spool directory's lock without waiting; false when a
// running tapview holds it (see filelock). Where no lock exists it says
// the directory is free, so 'storage push' must not be run beside a
// recorder using the same spool directory on such systems.
func tryLock(f *os.File) (bool, error) { return filelock.TryLock(f) }
