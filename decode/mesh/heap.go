package mesh

import "time"

// indexHeap is a min-heap of flows whose items know their own position,
// so that an item whose key changed can be moved, or an item that left
// for another reason (evicted, expired) removed, in O(log n) without a
// search. The Labeler and External keep their flows in such heaps
// instead of walking or sorting every flow they know on each sweep: with
// hundreds of thousands of open flows (a SYN scan, half-open
// connections) the walk and the sort were a large share of a whole
// decode.
//
// Keys are stored in the heap next to the item rather than read through
// it: sifting then compares entries that sit together in one slice
// instead of following a pointer per comparison, which on a heap of 64k
// flows was mostly cache misses. The heap is 4-ary for the same reason
// (half the levels, and a node's children share cache lines).
//
// pos returns where an item keeps its index; it holds -1 while the item
// is in no heap of this kind. An item can be in at most one heap per pos
// field.
type indexHeap[T any] struct {
	items []heapEntry[T]
	pos   func(T) *int
}

// heapEntry orders by at, then by tie.
type heapEntry[T any] struct {
	at  time.Time
	tie uint64
	x   T
}

func (a *heapEntry[T]) less(b *heapEntry[T]) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return a.tie < b.tie
}

const heapArity = 4

func newIndexHeap[T any](pos func(T) *int) *indexHeap[T] {
	return &indexHeap[T]{pos: pos}
}

func (h *indexHeap[T]) len() int { return len(h.items) }

// min returns the smallest item and its time key; the heap must not be
// empty.
func (h *indexHeap[T]) min() (T, time.Time) { return h.items[0].x, h.items[0].at }

// push adds x, which must not be in the heap, with its key.
func (h *indexHeap[T]) push(x T, at time.Time, tie uint64) {
	h.items = append(h.items, heapEntry[T]{at: at, tie: tie, x: x})
	*h.pos(x) = len(h.items) - 1
	h.up(len(h.items) - 1)
}

// remove takes x out of the heap; it does nothing when x is not in it.
func (h *indexHeap[T]) remove(x T) {
	i := *h.pos(x)
	if i < 0 {
		return
	}
	last := len(h.items) - 1
	if i != last {
		h.swap(i, last)
	}
	h.items[last] = heapEntry[T]{} // no reference kept in the spare capacity
	h.items = h.items[:last]
	*h.pos(x) = -1
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

// fix gives x, which must be in the heap, a new time key.
func (h *indexHeap[T]) fix(x T, at time.Time) {
	i := *h.pos(x)
	h.items[i].at = at
	if !h.down(i) {
		h.up(i)
	}
}

// popMin removes and returns the smallest item; the heap must not be
// empty.
func (h *indexHeap[T]) popMin() T {
	x := h.items[0].x
	h.remove(x)
	return x
}

func (h *indexHeap[T]) swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	*h.pos(h.items[i].x) = i
	*h.pos(h.items[j].x) = j
}

func (h *indexHeap[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / heapArity
		if !h.items[i].less(&h.items[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// down sinks item i and reports whether it moved.
func (h *indexHeap[T]) down(i int) bool {
	start, n := i, len(h.items)
	for {
		first := heapArity*i + 1
		if first >= n {
			break
		}
		c := first // the smallest child
		for j := first + 1; j < min(first+heapArity, n); j++ {
			if h.items[j].less(&h.items[c]) {
				c = j
			}
		}
		if !h.items[c].less(&h.items[i]) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i != start
}

// endedHeaps keeps ended flows in one heap per source, ordered by last
// packet, so a sweep takes only the flows whose linger is over (each
// source has its own capture clock). An item records the source of the
// heap it is in (src): a flow republished under another source, or
// reopened, must leave that heap. The Labeler and External share it.
type endedHeaps[T any] struct {
	bySrc map[string]*indexHeap[T]
	pos   func(T) *int
	src   func(T) *string
}

func newEndedHeaps[T any](pos func(T) *int, src func(T) *string) endedHeaps[T] {
	return endedHeaps[T]{bySrc: make(map[string]*indexHeap[T]), pos: pos, src: src}
}

// update puts x in step with its latest publication: in its source's
// heap at last while ended, in none otherwise. prevLast is its last
// packet before this publication.
func (e *endedHeaps[T]) update(x T, id uint64, ended bool, source string, last, prevLast time.Time) {
	if *e.pos(x) >= 0 && (!ended || *e.src(x) != source) {
		e.remove(x)
	}
	if !ended {
		return
	}
	if *e.pos(x) < 0 {
		h := e.bySrc[source]
		if h == nil {
			h = newIndexHeap(e.pos)
			e.bySrc[source] = h
		}
		*e.src(x) = source
		h.push(x, last, id)
	} else if !last.Equal(prevLast) {
		e.bySrc[*e.src(x)].fix(x, last)
	}
}

// remove takes x out of its heap, if it is in one; a heap left empty is
// dropped, so sources that come and go leave nothing behind.
func (e *endedHeaps[T]) remove(x T) {
	if *e.pos(x) < 0 {
		return
	}
	src := *e.src(x)
	h := e.bySrc[src]
	h.remove(x)
	if h.len() == 0 {
		delete(e.bySrc, src)
	}
}

// expire removes every flow whose source's clock is more than linger
// past its last packet, handing each to drop.
func (e *endedHeaps[T]) expire(clock func(source string) time.Time, linger time.Duration, drop func(T)) {
	for src, h := range e.bySrc {
		now := clock(src)
		for h.len() > 0 {
			x, last := h.min()
			if now.Sub(last) <= linger {
				break
			}
			h.remove(x)
			drop(x)
		}
		if h.len() == 0 {
			delete(e.bySrc, src)
		}
	}
}
