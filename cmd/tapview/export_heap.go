package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
)

// A pcap/pcapng export holds what pass one learnt (packet comments,
// stream patches, each flow's packet ordinals) until pass two has
// written the last packet: on the 1 GB benchmark capture it grows to
// about 58 MB live by the end of pass one (86 MB while the plan kept its
// exchange comments in memory rather than in a temp file, 104 MB before
// they were kept without pointers), while the decoder allocates
// gigabytes that die at once. At the default
// GOGC the heap doubles over what is live (380 MB RSS). Most of what an
// export keeps holds no pointers, which the collector does not scan, so
// its heap is held instead to what is live plus what the collector has
// to scan of it (a cycle's marking is then paid for by as many bytes of
// allocation as it scans, as at GOGC 100 for a heap of pointers), and at
// least to exportHeapBase; never above the process's limit (GOMEMLIMIT).
// A capture of 200k half-open flows, whose decoder state is all
// pointers, gets the headroom it needs (a fixed 150 MiB had the
// collector run without pause, at twice the CPU). The base was 150 MiB,
// which with the binary's mapped pages (about 40 MB) put the 1 GB export
// at 195-200 MB RSS; at 135 MiB it is 180-185 MB, for about 1 CPU-s more
// than at 150 MiB once the plan got smaller (still less than before).
// With the comments in a file, 120 MiB would give 168 MB RSS but about
// 30 more collections (205 against 175) and 1-2 CPU-s more, so the
// smaller live heap is spent on fewer collections instead.
const exportHeapBase = 135 << 20

// exportHeapLimit returns the soft memory limit for a live heap of live
// bytes, of which scan are scannable, under a process limit of ceiling.
func exportHeapLimit(live, scan, ceiling int64) int64 {
	return min(max(exportHeapBase, live+scan), ceiling)
}

// limitExportHeap sets the soft memory limit from the live heap after
// each collection until the returned stop is called, which puts the
// previous limit back.
func limitExportHeap() (stop func()) {
	ceiling := debug.SetMemoryLimit(-1)
	limit := exportHeapLimit(0, 0, ceiling)
	debug.SetMemoryLimit(limit)
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/heap:bytes"}}
	stopCycles := afterEachGC(func() {
		metrics.Read(sample)
		var v [2]int64
		for i, x := range sample {
			if x.Value.Kind() != metrics.KindUint64 {
				return
			}
			v[i] = int64(min(x.Value.Uint64(), math.MaxInt64))
		}
		if lim := exportHeapLimit(v[0], v[1], ceiling); lim != limit {
			limit = lim
			debug.SetMemoryLimit(lim)
		}
	})
	return func() {
		stopCycles() // no cycle changes the limit after this
		debug.SetMemoryLimit(ceiling)
	}
}
