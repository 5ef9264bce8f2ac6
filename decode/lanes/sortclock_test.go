package lanes

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tapview/tapview/decode/tcp"
)

// TestSortClockIsStableSort: merging the lanes' runs (each sorted first
// when it is not) gives what stable-sorting all clock events gives, for
// sorted and unsorted runs, repeated keys within a run, and empty lanes.
func TestSortClockIsStableSort(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	m := &merger{}
	evs := make([]tcp.Event, 4096)
	for trial := 0; trial < 500; trial++ {
		var clock []keyed
		var runs []int
		n := 0
		for lane := 0; lane < 1+r.IntN(4); lane++ {
			size := r.IntN(40)
			if size == 0 {
				continue
			}
			runs = append(runs, len(clock))
			key := uint64(r.IntN(5))
			for i := 0; i < size; i++ {
				if r.IntN(4) > 0 {
					key += uint64(r.IntN(3)) // mostly sorted, with repeats
				} else if trial%2 == 0 {
					key = uint64(r.IntN(100)) // out of order
				}
				clock = append(clock, keyed{key: key, ev: &evs[n]})
				n++
			}
		}
		want := slices.Clone(clock)
		slices.SortStableFunc(want, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
		got := m.sortClock(clock, runs)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: runs %v: merged order differs from a stable sort", trial, runs)
		}
	}
}
