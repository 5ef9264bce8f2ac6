package idmap

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// testID draws an ID as lanes number them: dense IDs below span of lane
// 0 and lane 1 (which numbers from 1<<48), and one in ten sparse.
func testID(r *rand.Rand, span int) uint64 {
	switch r.IntN(10) {
	case 0:
		return r.Uint64() // sparse
	case 1, 2, 3, 4:
		return 1<<48 | uint64(r.IntN(span)) // lane 1
	}
	return uint64(r.IntN(span)) // lane 0
}

// TestIDMapMatchesMap runs random sets, gets, deletes and sweeps on a
// Map and a Go map side by side, over dense IDs of two lanes and a
// few sparse ones, and requires the same answers and sizes.
func TestIDMapMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var m Map[uint64]
	ref := map[uint64]uint64{}
	id := func() uint64 { return testID(r, 5000) }
	var sparse []uint64
	for step := 0; step < 200000; step++ {
		k := id()
		if k > 1<<49 {
			sparse = append(sparse, k)
		} else if len(sparse) > 0 && r.IntN(4) == 0 {
			k = sparse[r.IntN(len(sparse))]
		}
		switch r.IntN(3) {
		case 0:
			v := 1 + r.Uint64N(1000)
			m.Set(k, v)
			ref[k] = v
		case 1:
			m.Delete(k)
			delete(ref, k)
		default:
			got, ok := m.Get(k)
			want, wok := ref[k]
			if got != want || ok != wok {
				t.Fatalf("step %d: get(%#x) = %d, %v; want %d, %v", step, k, got, ok, want, wok)
			}
		}
		if step%50000 == 49999 {
			// A sweep deleting odd values while iterating.
			seen := 0
			m.Each(func(k, v uint64) {
				seen++
				if ref[k] != v {
					t.Fatalf("each gave %#x=%d, want %d", k, v, ref[k])
				}
				if v%2 == 1 {
					m.Delete(k)
					delete(ref, k)
				}
			})
			if seen == 0 {
				t.Fatal("each saw nothing")
			}
		}
		if m.Len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, m.Len(), len(ref))
		}
	}
	var want []uint64
	for _, k := range slices.Sorted(maps.Keys(ref)) {
		want = append(want, ref[k])
	}
	if got := m.Sorted(); !slices.Equal(got, want) {
		t.Fatalf("Sorted gave %d values, not the %d in ID order", len(got), len(want))
	}
	if len(m.pages.pages) > 3*len(ref) {
		t.Fatalf("%d pages kept for %d IDs", len(m.pages.pages), len(ref))
	}
}
