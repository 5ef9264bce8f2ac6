package idmap

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// slotVal is not comparable (a slice), as a decode.Flow.
type slotVal struct {
	n    uint64
	tags []string
}

// TestSlotsMatchesMap runs random puts, gets and deletes on Slots and a
// Go map side by side (dense IDs of two lanes and sparse ones) and
// requires the same values, sizes and order, that a deleted place is
// zeroed, and that empty pages are dropped.
func TestSlotsMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var s Slots[slotVal]
	ref := map[uint64]uint64{}
	id := func() uint64 { return testID(r, 3000) }
	for step := 0; step < 100000; step++ {
		k := id()
		switch r.IntN(3) {
		case 0:
			v := s.Put(k)
			if _, ok := ref[k]; !ok && (v.n != 0 || v.tags != nil) {
				t.Fatalf("step %d: Put(%d) of a new ID gave %+v, not a zero value", step, k, *v)
			}
			*v = slotVal{n: uint64(step) + 1, tags: []string{"x"}}
			ref[k] = uint64(step) + 1
		case 1:
			v := s.Get(k)
			want, ok := ref[k]
			if (v != nil) != ok || ok && v.n != want {
				t.Fatalf("step %d: Get(%d) = %v, want %d (present %v)", step, k, v, want, ok)
			}
		case 2:
			v := s.Get(k)
			s.Delete(k)
			delete(ref, k)
			if v != nil && (v.n != 0 || v.tags != nil) {
				t.Fatalf("step %d: Delete(%d) left %+v in its place", step, k, *v)
			}
		}
		if s.Len() != len(ref) {
			t.Fatalf("step %d: Len %d, want %d", step, s.Len(), len(ref))
		}
	}
	var want []uint64
	for _, k := range slices.Sorted(maps.Keys(ref)) {
		want = append(want, ref[k])
	}
	var got []uint64
	for _, v := range s.Sorted() {
		got = append(got, v.n)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Sorted gave %d values, not the %d in ID order", len(got), len(want))
	}
	for k := range ref {
		s.Delete(k)
	}
	if s.Len() != 0 || len(s.pages.pages) != 0 {
		t.Fatalf("after deleting everything: Len %d, %d pages", s.Len(), len(s.pages.pages))
	}
}
