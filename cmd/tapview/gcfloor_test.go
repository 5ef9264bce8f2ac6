package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestGCPercentFor(t *testing.T) {
	const floor = 64 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400}, {1 << 20, 400}, {13 << 20, 400}, {16 << 20, 400}, {20 << 20, 300},
		{32 << 20, 200}, {40 << 20, 150}, {64 << 20, 100}, {1 << 30, 100},
	} {
		if got := gcPercentFor(c.live, floor); got != c.want {
			t.Errorf("live %d MiB: GOGC %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// TestHeapFloorRestores checks that the tuner changes GOGC while it runs
// (after collections too, which re-read the live heap of this small
// test process) and puts the previous value back when stopped, even
// with collections after that.
func TestHeapFloorRestores(t *testing.T) {
	prev := debug.SetGCPercent(123)
	defer debug.SetGCPercent(prev)
	stop := heapFloor(headlessHeapFloor)
	for range 3 {
		runtime.GC()
	}
	if p := debug.SetGCPercent(400); p != 400 {
		t.Errorf("GOGC with a small live heap: %d, want 400", p)
	}
	stop()
	for range 3 {
		runtime.GC()
	}
	if p := debug.SetGCPercent(123); p != 123 {
		t.Errorf("GOGC after stop: %d, want the previous 123", p)
	}
}
