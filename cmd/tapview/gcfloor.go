package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
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
	t := &gcTuner{floor: floor, percent: gcPercentFor(0, floor)}
	prev := debug.SetGCPercent(t.percent)
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.stopped = true
		debug.SetGCPercent(prev)
	}
}

// gcTuner re-reads the live heap each time a collection frees its
// sentinel (on the finalizer goroutine); mu orders that with stop, so
// no cycle changes GOGC after stop put it back.
type gcTuner struct {
	mu      sync.Mutex
	floor   uint64
	percent int
	stopped bool
	sample  [1]metrics.Sample
}

// sentinel is an object only the collector can end: its finalizer runs
// once per cycle. It holds a pointer so it is not a tiny allocation
// (those may share a block with live data and never be collected).
type sentinel struct {
	_ *int
	_ [2]uint64
}

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { t.cycle() })
}

func (t *gcTuner) cycle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.sample[0].Name = "/gc/heap/live:bytes"
	metrics.Read(t.sample[:])
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		if p := gcPercentFor(t.sample[0].Value.Uint64(), t.floor); p != t.percent {
			t.percent = p
			debug.SetGCPercent(p)
		}
	}
	t.arm()
}
