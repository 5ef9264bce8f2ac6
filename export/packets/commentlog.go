package packets

import (
	"cmp"
	"hash/maphash"
	"slices"
	"unsafe"
)

// A plan holds a comment per exchange and the distinct summary parts
// they name until pass two has written the last packet, and that was
// half of what a big export kept live (54 of 104 MB at the end of pass
// one over the 1 GB benchmark capture). The memory limit of an export
// follows what is live and what of it the collector has to scan, so the
// two structures below keep the same things in less, and without
// pointers.

// commentChunk is how many comments a list keeps per chunk once it has
// that many.
const commentChunk = 512

// commentList is one direction's comments in arrival order. The first
// chunk grows as a slice does, up to commentChunk; later chunks are
// allocated whole: a flow with many exchanges (a keep-alive connection
// carries thousands) wastes no doubling slack, which was a third of the
// comments' memory, and a flow with one wastes nothing either. It is as
// large as the slice it replaced (200k flows of half-open connections
// have a flowPlan each).
type commentList struct {
	chunks [][]comment
}

func (l *commentList) len() int {
	k := len(l.chunks)
	if k == 0 {
		return 0
	}
	return (k-1)*commentChunk + len(l.chunks[k-1])
}

func (l *commentList) add(c comment) {
	k := len(l.chunks) - 1
	if k < 0 || len(l.chunks[k]) == commentChunk {
		var first []comment
		if k >= 0 {
			first = make([]comment, 0, commentChunk)
		}
		l.chunks = append(l.chunks, first)
		k++
	}
	l.chunks[k] = append(l.chunks[k], c)
}

// at returns comment i (every chunk but the last holds commentChunk).
func (l *commentList) at(i int) *comment {
	return &l.chunks[i/commentChunk][i%commentChunk]
}

// sortByTime orders the comments by time, stably, as
// slices.SortStableFunc over one slice did. They mostly arrive in order
// already; only a list that does not is copied out to be sorted.
func (l *commentList) sortByTime() {
	n := l.len()
	sorted := true
	for i := 1; i < n && sorted; i++ {
		sorted = l.at(i-1).at <= l.at(i).at
	}
	if sorted {
		return
	}
	flat := make([]comment, 0, n)
	for _, ch := range l.chunks {
		flat = append(flat, ch...)
	}
	slices.SortStableFunc(flat, func(a, b comment) int { return cmp.Compare(a.at, b.at) })
	for i := range flat {
		*l.at(i) = flat[i]
	}
}

// textChunk is the size of the chunks a textTable stores texts in.
const textChunk = 64 << 10

// textTable interns strings: each distinct text is stored once, in
// chunks of bytes, and found by its hash. Neither the chunks' bytes nor
// the index hold pointers the collector must follow (a map from string
// keys and a []string did, at twice the size).
type textTable struct {
	seed   maphash.Seed
	chunks [][]byte
	refs   []textRef
	idx    map[uint64]uint32 // by hash; a colliding text is stored again, unindexed
}

type textRef struct{ chunk, off, n uint32 }

// intern returns the index of s, storing it when it is new; past
// maxInterned distinct texts, new ones are stored without being indexed.
func (t *textTable) intern(s string) uint32 {
	if t.idx == nil {
		t.seed = maphash.MakeSeed()
		t.idx = make(map[uint64]uint32)
	}
	h := maphash.String(t.seed, s)
	if i, ok := t.idx[h]; ok && t.text(i) == s {
		return i
	}
	i := uint32(len(t.refs))
	t.refs = append(t.refs, t.store(s))
	if len(t.idx) < maxInterned {
		if _, taken := t.idx[h]; !taken {
			t.idx[h] = i
		}
	}
	return i
}

func (t *textTable) store(s string) textRef {
	k := len(t.chunks) - 1
	if k < 0 || len(t.chunks[k])+len(s) > cap(t.chunks[k]) {
		t.chunks = append(t.chunks, make([]byte, 0, max(textChunk, len(s))))
		k++
	}
	c := t.chunks[k]
	t.chunks[k] = append(c, s...)
	return textRef{chunk: uint32(k), off: uint32(len(c)), n: uint32(len(s))}
}

// text returns text i. It shares the chunk's bytes, which are never
// written again once stored (a chunk is never grown past its capacity),
// so the string stays valid and unchanged as long as the table lives.
func (t *textTable) text(i uint32) string {
	r := t.refs[i]
	if r.n == 0 {
		return ""
	}
	return unsafe.String(&t.chunks[r.chunk][r.off], int(r.n))
}
