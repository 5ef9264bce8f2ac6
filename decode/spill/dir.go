package spill

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// dirPrefix names every store directory, so a later Open can find the
// ones a crashed process left behind.
const dirPrefix = "tapview-spill-"

const lockName = "lock"

// errLockRace means the directory being created was taken away by a
// concurrent cleaner (or its lock file was): Open simply tries a new one.
var errLockRace = errors.New("spill: store directory was removed while it was being created")

// createDir makes a fresh store directory in parent and locks it.
func createDir(parent string) (dir string, lock *os.File, err error) {
	for attempt := 0; ; attempt++ {
		dir, err = os.MkdirTemp(parent, fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
		if err != nil {
			return "", nil, fmt.Errorf("spill: create store directory in %s: %w", parent, err)
		}
		lock, err = lockDir(dir)
		if err == nil {
			return dir, lock, nil
		}
		_ = os.RemoveAll(dir)
		if !errors.Is(err, errLockRace) || attempt >= 4 {
			return "", nil, err
		}
	}
}

// lockDir creates and locks dir's lock file. A cleaner in another process
// may see the directory between MkdirTemp and the lock and remove it as
// stale; afterwards the path no longer names the file we locked, which
// lockDir checks so the store never runs in a deleted directory.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errLockRace
		}
		return nil, fmt.Errorf("spill: create lock file: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		if err == nil {
			err = errLockRace
		}
		return nil, err
	}
	held, err1 := f.Stat()
	named, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, named) {
		f.Close()
		return nil, errLockRace
	}
	return f, nil
}

// removeStale deletes store directories in parent whose lock no process
// holds: they belong to processes that died without Close. It is best
// effort: a directory that cannot be inspected or removed is left, since
// failing Open over someone else's leftovers would help nobody.
func removeStale(parent string) {
	if !canLock {
		return
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, ent := range entries {
		if !ent.IsDir() || !strings.HasPrefix(ent.Name(), dirPrefix) {
			continue
		}
		removeIfStale(filepath.Join(parent, ent.Name()))
	}
}

func removeIfStale(dir string) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		// Either a crash between MkdirTemp and the lock file, or a
		// store being created right now; lockDir notices the latter
		// and retries, so removing is safe in both cases.
		_ = os.RemoveAll(dir)
		return
	}
	if err != nil {
		return
	}
	ok, err := tryLock(f)
	if err != nil || !ok {
		f.Close()
		return
	}
	if removeWhileLocked {
		_ = os.RemoveAll(dir)
		f.Close()
		return
	}
	f.Close()
	_ = os.RemoveAll(dir)
}
