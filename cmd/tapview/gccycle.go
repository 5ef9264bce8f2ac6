package main

import (
	"runtime"
	"sync"
)

// afterEachGC calls f after each garbage collection (on the finalizer
// goroutine) until the returned stop is called; f runs under a lock
// stop also takes, so no call runs after stop returns. The heap floor of
// headless runs (gcfloor.go) and the export's memory limit
// (export_heap.go) retune the collector from the live heap this way.
func afterEachGC(f func()) (stop func()) {
	c := &gcCycle{f: f}
	c.arm()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.stopped = true
	}
}

// gcCycle re-arms a sentinel whose finalizer runs once per collection.
type gcCycle struct {
	mu      sync.Mutex
	f       func()
	stopped bool
}

// sentinel is an object only the collector can end: its finalizer runs
// once per cycle. It holds a pointer so it is not a tiny allocation
// (those may share a block with live data and never be collected).
type sentinel struct {
	_ *int
	_ [2]uint64
}

func (c *gcCycle) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { c.cycle() })
}

func (c *gcCycle) cycle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.f()
	c.arm()
}
