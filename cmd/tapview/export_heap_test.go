package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestExportHeapLimit(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ live, scan, ceiling, want int64 }{
		{0, 0, math.MaxInt64, exportHeapBase},                // a small heap may grow to the base
		{100 * mib, 20 * mib, math.MaxInt64, exportHeapBase}, // mostly pointer-free: the base holds
		{180 * mib, 150 * mib, math.MaxInt64, 330 * mib},     // mostly pointers: headroom as large as the scan
		{180 * mib, 150 * mib, 256 * mib, 256 * mib},         // never above the process's limit
		{10 * mib, 5 * mib, 100 * mib, 100 * mib},            // nor the base
	} {
		if got := exportHeapLimit(c.live, c.scan, c.ceiling); got != c.want {
			t.Errorf("exportHeapLimit(%d, %d, %d) = %d MiB, want %d MiB", c.live/mib, c.scan/mib, c.ceiling, got/mib, c.want/mib)
		}
	}
}

// TestLimitExportHeapRestores checks the limit is set while an export
// runs, follows collections, and is put back afterwards.
func TestLimitExportHeapRestores(t *testing.T) {
	prev := debug.SetMemoryLimit(1 << 40)
	defer debug.SetMemoryLimit(prev)
	stop := limitExportHeap()
	runtime.GC()
	runtime.GC()
	if got := debug.SetMemoryLimit(-1); got < exportHeapBase || got > 1<<40 {
		t.Errorf("limit during the export: %d", got)
	}
	stop()
	runtime.GC()
	runtime.GC() // a finalizer that runs after stop must not change it
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("limit after the export: %d, want %d", got, int64(1<<40))
	}
}
