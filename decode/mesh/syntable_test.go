package mesh

import (
	"math/rand/v2"
	"testing"
)

// TestSynTableMatchesMap runs random puts, gets and deletes on a
// synTable and a Go map side by side, with few distinct keys so that
// probe runs collide, wrap around the end and are shifted back by
// deletes, and requires the same answers throughout.
func TestSynTableMatchesMap(t *testing.T) {
	for _, max := range []int{1, 4, 100, 5000} {
		r := rand.New(rand.NewPCG(uint64(max), 9))
		var tab synTable
		tab.init(max)
		ref := map[synKey]synEntry{}
		keys := make([]synKey, 2*max+3)
		for i := range keys {
			keys[i] = synKey{isn: r.Uint32(), port: uint16(r.IntN(3)), source: uint32(r.IntN(2))}
			keys[i].client[15] = byte(r.IntN(4))
		}
		for step := 0; step < 50000; step++ {
			k := keys[r.IntN(len(keys))]
			switch op := r.IntN(3); {
			case op == 0 && (len(ref) < max || ref[k] != synEntry{}):
				e := synEntry{port: uint16(step), hw: 1}
				tab.put(k, e)
				ref[k] = e
			case op == 1:
				tab.del(k)
				delete(ref, k)
			}
			got, ok := tab.get(k)
			want, wok := ref[k]
			if ok != wok || got != want {
				t.Fatalf("max %d step %d: get = %v %v, want %v %v", max, step, got, ok, want, wok)
			}
			if tab.len() != len(ref) {
				t.Fatalf("max %d step %d: len %d, want %d", max, step, tab.len(), len(ref))
			}
		}
		for k, want := range ref {
			if got, ok := tab.get(k); !ok || got != want {
				t.Fatalf("max %d: %v lost (%v %v)", max, k, got, ok)
			}
		}
	}
}
