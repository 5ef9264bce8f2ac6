//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package upload

import "os"

// tryLock cannot tell a running recorder from a finished one here; it
// says the directory is free, so 'storage push' must not be run beside a
// recorder using the same spool directory on such systems.
func tryLock(*os.File) (bool, error) { return true, nil }
