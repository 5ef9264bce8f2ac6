package packets

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readList reads a list back the way pass two does.
func readList(t *testing.T, p *Plan, l *commentList) []summary {
	t.Helper()
	if l.s == nil {
		return nil
	}
	p.comments.flush()
	l.s.rewind()
	var out []summary
	for {
		at, ok, err := l.s.peek(&p.comments.store)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		c, err := l.s.take()
		if err != nil || c.at != at {
			t.Fatalf("take: %+v, %v after peek gave %d", c, err, at)
		}
		out = append(out, c)
	}
}

// TestCommentListSortsAsOneSlice checks lists against a plain slice
// sorted with slices.SortStableFunc, as plans kept comments before:
// same order and texts, ties kept in arrival order, with the comments in
// memory and in a temp file, across flushes to the store.
func TestCommentListSortsAsOneSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	long := strings.Repeat("x", 70<<10) // longer than a memory chunk
	for _, spill := range []bool{false, true} {
		for _, n := range []int{0, 1, 7, 5000, 40000} {
			for _, shuffled := range []bool{false, true} {
				p := NewPlan(true, nil)
				if spill {
					if err := p.SpillComments(t.TempDir()); err != nil {
						t.Fatal(err)
					}
				}
				var l, other commentList
				var want []summary
				for i := range n {
					at := int64(i)
					if shuffled {
						at = r.Int64N(int64(n/3 + 1)) // ties too
					}
					head := "GET host/" + strconv.Itoa(i)
					if i == 3 {
						head = long
					}
					c := summary{at: at, lat: time.Duration(i), head: head, tail: strings.Repeat(" [x]", i%2)}
					p.comments.add(&l, c.at, c.lat, c.head, c.tail)
					p.comments.add(&other, 0, 0, "o", "") // interleaved in the store
					want = append(want, c)
				}
				slices.SortStableFunc(want, func(a, b summary) int { return cmp.Compare(a.at, b.at) })
				p.comments.flush() // as prepare does before it sorts the flows' lists
				if l.s != nil {
					if err := l.s.sortByTime(&p.comments.store); err != nil {
						t.Fatal(err)
					}
				}
				if l.len() != n {
					t.Fatalf("n=%d: len %d", n, l.len())
				}
				got := readList(t, p, &l)
				if !slices.Equal(got, want) {
					t.Fatalf("spill=%v n=%d shuffled=%v: read back %d comments, differing from the sorted %d", spill, n, shuffled, len(got), len(want))
				}
				if n > 5000 && len(l.s.segs) < 2 {
					t.Errorf("n=%d: %d segments, want the list moved to the store in parts", n, len(l.s.segs))
				}
				if o := readList(t, p, &other); len(o) != n {
					t.Fatalf("other list: %d comments, want %d", len(o), n)
				}
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
