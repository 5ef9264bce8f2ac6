package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tapview/tapview/decode/tcp"
)

// Memory defaults. 512 MiB suits a laptop running tapview next to a
// browser and an IDE for an afternoon; --memory moves everything that is
// derived from it.
const (
	defaultMemory   = 512 << 20
	defaultSpillMax = 4 << 30
	minMemory       = 64 << 20
)

// memoryFlags are the budget flags every source command shares.
type memoryFlags struct {
	memory   byteSize
	spillMax byteSize
}

func (m *memoryFlags) add(fs *pflag.FlagSet) {
	m.memory = defaultMemory
	m.spillMax = defaultSpillMax
	fs.Var(&m.memory, "memory", "memory budget for the whole process (e.g. 512MiB, 2GiB): the UI keeps summaries within it and evicts the oldest exchanges past it")
	fs.Var(&m.spillMax, "spill-max", "disk the UI may use in TMPDIR for whole exchanges (headers, bodies); the oldest are dropped past it")
}

// apply sets the Go runtime's soft memory limit to the whole budget, so
// the collector works harder before the process outgrows it instead of
// after, and checks the budget is usable.
func (m *memoryFlags) apply() error {
	if m.memory < minMemory {
		return usageErr("--memory %s is below the %s tapview needs to run: give it at least 64MiB", m.memory.String(), formatBytes(minMemory))
	}
	debug.SetMemoryLimit(int64(m.memory))
	return nil
}

// fixedMemory is what tapview holds whatever the traffic: the binary's
// code, the runtime, network buffers, the decoder's queues (measured:
// about 110MB RSS with a 2MiB store under a flood).
const fixedMemory = 128 << 20

// storeBudget is the UI store's share for summaries and flows: half of
// what the fixed part leaves (192MiB at the default, about 1.5M HTTP
// exchanges), at least 16MiB. The other half is the collector's headroom:
// with GOGC at 50 the heap grows to 1.5x what is live before a
// collection, and a live heap near the soft limit makes the collector run
// without pause (a soak at 256MiB with half the budget for the store spent
// a third of its CPU collecting, at 314MB RSS).
func (m *memoryFlags) storeBudget() int64 {
	return max((int64(m.memory)-fixedMemory)/2, 16<<20)
}

// maxFlows is how many flows the decoder tracks at once: a quarter of
// the budget at twice the measured cost of an open flow (tcp.FlowCost),
// the factor for reassembly buffers of flows with data in flight. 33k at
// the default 512MiB; a scan of a million SYNs closes the least recently
// active instead of growing.
func (m *memoryFlags) maxFlows() int {
	return int(int64(m.memory) / 4 / (2 * tcp.FlowCost))
}

// uiCollector makes the collector run at half the default heap growth
// while the UI holds a session. Most of what the UI keeps is summary
// bytes without pointers, which the collector does not scan, so the extra
// cycles are cheap, and they keep the process near its live size: 288 MB
// instead of 392 MB after loading a 1 GB capture (880k exchanges).
func uiCollector() { debug.SetGCPercent(50) }

// processMemory is the process's resident memory, what top and kubectl
// top show and what the status bar compares with the budget: read from
// /proc where there is one, else the memory the Go runtime holds from the
// system less what it returned.
func processMemory() int64 {
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return pages * int64(os.Getpagesize())
			}
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// byteSize is a flag value in bytes written with an optional unit: 512MiB,
// 2GiB, 300MB, 1g, or a plain number of bytes.
type byteSize int64

func (b *byteSize) String() string { return formatBytes(int64(*b)) }
func (b *byteSize) Type() string   { return "size" }

func (b *byteSize) Set(s string) error {
	v, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(v)
	return nil
}

// parseBytes reads sizes as people write them. Both binary and decimal
// suffixes are accepted; a bare K/M/G is binary, as in kubectl's Mi/Gi
// habits and most tools' --memory flags.
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	units := []struct {
		suffix string
		mult   float64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"ki", 1 << 10}, {"mi", 1 << 20}, {"gi", 1 << 30}, {"ti", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q is not a size: write it like 512MiB, 2GiB or 300MB", s)
	}
	return int64(f * mult), nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	default:
		return strconv.FormatInt(n, 10)
	}
}
