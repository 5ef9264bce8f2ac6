package packets

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestCommentListSortsAsOneSlice checks the chunked list against a
// plain slice sorted with slices.SortStableFunc, as plans kept comments
// before: same order, ties kept in arrival order, across chunk edges.
func TestCommentListSortsAsOneSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, commentChunk - 1, commentChunk, commentChunk + 1, 3*commentChunk + 17} {
		for _, shuffled := range []bool{false, true} {
			var l commentList
			var want []comment
			for i := range n {
				at := int64(i)
				if shuffled {
					at = r.Int64N(int64(n/3 + 1)) // ties too
				}
				c := comment{at: at, head: uint32(i)}
				l.add(c)
				want = append(want, c)
			}
			slices.SortStableFunc(want, func(a, b comment) int { return cmp.Compare(a.at, b.at) })
			l.sortByTime()
			if l.len() != n {
				t.Fatalf("n=%d: len %d", n, l.len())
			}
			for i := range n {
				if *l.at(i) != want[i] {
					t.Fatalf("n=%d shuffled=%v: comment %d is %+v, want %+v", n, shuffled, i, *l.at(i), want[i])
				}
			}
			for k, ch := range l.chunks[:max(len(l.chunks)-1, 0)] {
				if len(ch) != commentChunk {
					t.Fatalf("n=%d: chunk %d holds %d, want %d", n, k, len(ch), commentChunk)
				}
			}
		}
	}
}

// TestTextTableInterns checks that equal texts get one index, that every
// index gives back its text (across chunks, long and empty texts), and
// that texts past the index bound are still kept.
func TestTextTableInterns(t *testing.T) {
	var tt textTable
	texts := []string{"", "GET a → 200", strings.Repeat("x", textChunk+5), "GET b → 200"}
	for i := range 5000 {
		texts = append(texts, fmt.Sprintf("GET host/path/%d → 200", i))
	}
	idx := make(map[string]uint32)
	for round := range 2 {
		for _, s := range texts {
			i := tt.intern(s)
			if round == 0 {
				if _, dup := idx[s]; !dup {
					idx[s] = i
				}
			}
			if idx[s] != i {
				t.Fatalf("%.20q: index %d, first got %d", s, i, idx[s])
			}
		}
	}
	if len(tt.refs) != len(texts) {
		t.Fatalf("%d texts stored, want %d distinct", len(tt.refs), len(texts))
	}
	for s, i := range idx {
		if got := tt.text(i); got != s {
			t.Fatalf("text(%d) = %.20q, want %.20q", i, got, s)
		}
	}
}
