package lanes

import (
	"math/rand/v2"
	"testing"
)

// TestIDMapMatchesMap runs random sets, gets, deletes and sweeps on an
// idMap and a Go map side by side, over dense IDs of two lanes and a
// few sparse ones, and requires the same answers and sizes.
func TestIDMapMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var m idMap[uint64]
	ref := map[uint64]uint64{}
	id := func() uint64 {
		switch r.IntN(10) {
		case 0:
			return r.Uint64() // sparse
		case 1, 2, 3, 4:
			return 1<<48 | uint64(r.IntN(5000)) // lane 1
		}
		return uint64(r.IntN(5000)) // lane 0
	}
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
			m.set(k, v)
			ref[k] = v
		case 1:
			m.del(k)
			delete(ref, k)
		default:
			got, ok := m.get(k)
			want, wok := ref[k]
			if got != want || ok != wok {
				t.Fatalf("step %d: get(%#x) = %d, %v; want %d, %v", step, k, got, ok, want, wok)
			}
		}
		if step%50000 == 49999 {
			// A sweep deleting odd values while iterating.
			seen := 0
			m.each(func(k, v uint64) {
				seen++
				if ref[k] != v {
					t.Fatalf("each gave %#x=%d, want %d", k, v, ref[k])
				}
				if v%2 == 1 {
					m.del(k)
					delete(ref, k)
				}
			})
			if seen == 0 {
				t.Fatal("each saw nothing")
			}
		}
		if m.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, m.len(), len(ref))
		}
	}
	if len(m.pages) > 3*len(ref) {
		t.Fatalf("%d pages kept for %d IDs", len(m.pages), len(ref))
	}
}
