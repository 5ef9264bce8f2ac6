//go:build unix

package bench_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user + system),
// reported next to wall time because the benchmark machine is shared.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
