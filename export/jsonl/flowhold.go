package jsonl

import (
	"math"
	"slices"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/internal/idmap"
)

// FlowLinger is how long (capture time) an ended flow is held before it is
// printed: the TCP layer keeps counting a closed connection's stray last
// packets for a while and republishes it, and a printed flow should carry
// its final counts, once.
const FlowLinger = 35 * time.Second

// FlowHold collects flows and releases each once, in ID order: an ended
// flow when capture time has moved FlowLinger past its end, every other
// flow at Drain (the end of the input, when the decoder has published
// flows still open in their last state).
//
// Ended flows also wait in a min-heap by end time, so Add only looks at
// the flows due now (O(log n) each) instead of every held flow: a capture
// with hundreds of thousands of open flows would otherwise make printing
// flows quadratic. The heap is typed and keeps each entry's end time
// inline, so sifting compares integers in one array rather than chasing
// a pointer per comparison (a quarter of the cost of printing 200k
// half-open flows went there). Republished versions leave stale heap
// entries behind; an entry counts only while its sequence number is
// the held version's.
//
// The held flows are copies, kept by ID in pages of consecutive IDs (see
// internal/idmap), not in a map keyed by ID: the decoder numbers flows
// densely, and a map of 100k+ flows cost a cache miss or two per Add.
// Copying lets the decoder publish from memory it reuses (see
// CopiesFlows) instead of allocating each version.
type FlowHold struct {
	held  idmap.Slots[heldFlow]
	ended endHeap
	clock time.Time
	seq   uint64
	// due and dueP hold what Add released, until the next Add.
	due  []decode.Flow
	dueP []*decode.Flow
}

// heldFlow is a held flow's newest version and the number of its Add.
type heldFlow struct {
	f   decode.Flow
	seq uint64
}

// Add keeps a copy of the newest version of a flow and returns the flows
// now old enough to print, valid until the next Add or Drain.
func (h *FlowHold) Add(f *decode.Flow) []*decode.Flow {
	h.seq++
	hf := h.held.Put(f.ID)
	hf.f, hf.seq = *f, h.seq
	if f.Last.After(h.clock) {
		h.clock = f.Last
	}
	if FlowEnded(f) {
		h.ended.push(endEntry{at: nanos(f.Last), id: f.ID, seq: h.seq})
	}
	clear(h.due)
	h.due = h.due[:0]
	due := nanos(h.clock.Add(-FlowLinger))
	for len(h.ended) > 0 && h.ended[0].at < due {
		e := h.ended.pop()
		if g := h.held.Get(e.id); g != nil && g.seq == e.seq {
			h.due = append(h.due, g.f)
			h.held.Delete(e.id)
		}
	}
	h.compact()
	if len(h.due) == 0 {
		return nil
	}
	out := h.dueP[:0]
	for i := range h.due {
		out = append(out, &h.due[i])
	}
	sortFlows(out)
	h.dueP = out
	return out
}

// compact drops stale heap entries once they outnumber the held flows, so
// a flow republished many times after it ended (stray packets while it
// lingers) cannot grow the heap without bound.
func (h *FlowHold) compact() {
	if len(h.ended) < 64 || len(h.ended) <= 2*h.held.Len() {
		return
	}
	live := h.ended[:0]
	for _, e := range h.ended {
		if g := h.held.Get(e.id); g != nil && g.seq == e.seq {
			live = append(live, e)
		}
	}
	clear(h.ended[len(live):])
	h.ended = live
	h.ended.init()
}

// Drain returns every held flow, in ID order.
func (h *FlowHold) Drain() []*decode.Flow {
	held := h.held.Sorted()
	out := make([]*decode.Flow, len(held))
	for i, g := range held {
		out[i] = &g.f
	}
	h.held = idmap.Slots[heldFlow]{}
	h.ended = nil
	h.due, h.dueP = nil, nil
	return out
}

func sortFlows(fs []*decode.Flow) {
	slices.SortFunc(fs, func(a, b *decode.Flow) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// nanos is t in Unix nanoseconds, clamped to what an int64 holds: a
// corrupt capture's timestamps may lie centuries away, and UnixNano does
// not say what it returns for those.
func nanos(t time.Time) int64 {
	const limit = math.MaxInt64 / int64(time.Second)
	switch s := t.Unix(); {
	case s >= limit:
		return math.MaxInt64
	case s <= -limit:
		return math.MinInt64
	}
	return t.UnixNano()
}

// endEntry is an ended flow in the heap with its end time, in Unix
// nanoseconds, and the number of the Add that pushed it.
type endEntry struct {
	at  int64
	id  uint64
	seq uint64
}

// endHeap is a binary min-heap of ended flows by end time.
type endHeap []endEntry

func (e *endHeap) push(x endEntry) {
	*e = append(*e, x)
	e.up(len(*e) - 1)
}

func (e *endHeap) pop() endEntry {
	h := *e
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = endEntry{}
	*e = h[:n]
	if n > 0 {
		e.down(0)
	}
	return top
}

func (e endHeap) init() {
	for i := len(e)/2 - 1; i >= 0; i-- {
		e.down(i)
	}
}

func (e endHeap) up(i int) {
	x := e[i]
	for i > 0 {
		p := (i - 1) / 2
		if e[p].at <= x.at {
			break
		}
		e[i] = e[p]
		i = p
	}
	e[i] = x
}

func (e endHeap) down(i int) {
	x := e[i]
	n := len(e)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && e[r].at < e[c].at {
			c = r
		}
		if x.at <= e[c].at {
			break
		}
		e[i] = e[c]
		i = c
	}
	e[i] = x
}
