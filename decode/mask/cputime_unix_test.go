//go:build unix

package mask

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (user + system). The
// benchmarks report it next to wall time because the build machine is
// shared: wall time there measures the neighbours as much as the code.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
