package main

import (
	"runtime/debug"
	"runtime/metrics"
)

// headlessHeapFloor is the heap a headless run (open -o json/table,
// export) may grow to before the collector runs, whatever little is
// live. Such a run allocates a few kilobytes per exchange that die at
// once (messages, copies, the line being written) and keeps only its
// open connections live (about 13 MB over the nginx benchmark capture),
// so at the default GOGC of 100 it collected every 15 MB of allocation,
// 90 times in 3 seconds, and the collector and its write barriers were
// a sixth of the CPU. Letting the heap reach 64 MB more than what is
// live before collecting cuts the cycles to a quarter for at most 64 MB
// of RSS; once the live heap is that large itself, GOGC is back at 100
// (the heap doubles, as before), and the --memory soft limit still caps
// everything.
const headlessHeapFloor = 64 << 20

// gcPercentFor is the GOGC that lets the heap grow by floor over live
// (never below 100, the default, never above 400: at most 5x a tiny live
// heap), in steps of 25 so small changes of the live heap do not change
// it every cycle.
func gcPercentFor(live, floor uint64) int {
	if live == 0 {
		return 400
	}
	p := 100 * floor / live
	p -= p % 25
	return int(min(max(p, 100), 400))
}

// heapFloor sets GOGC from the live heap after each collection (see
// headlessHeapFloor) until the returned stop is called, which puts the
// previous GOGC back.
func heapFloor(floor uint64) (stop func()) {
	percent := gcPercentFor(0, floor)
	prev := debug.SetGCPercent(percent)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	stopCycles := afterEachGC(func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := gcPercentFor(sample[0].Value.Uint64(), floor); p != percent {
				percent = p
				debug.SetGCPercent(p)
			}
		}
	})
	return func() {
		stopCycles() // no cycle changes GOGC after this
		debug.SetGCPercent(prev)
	}
}
