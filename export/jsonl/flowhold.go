package jsonl

import (
	"container/heap"
	"sort"
	"time"

	"github.com/tapview/tapview/decode"
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
// flows quadratic. Republished versions leave stale heap entries behind;
// an entry counts only while it still points at the held version.
type FlowHold struct {
	held  map[uint64]*decode.Flow
	ended endHeap
	clock time.Time
}

// Add keeps the newest version of a flow and returns the flows now
// old enough to print. f must not change after Add (the decoder publishes
// a fresh copy each time): the heap is ordered by its end time.
func (h *FlowHold) Add(f *decode.Flow) []*decode.Flow {
	if h.held == nil {
		h.held = make(map[uint64]*decode.Flow)
	}
	h.held[f.ID] = f
	if f.Last.After(h.clock) {
		h.clock = f.Last
	}
	if FlowEnded(f) {
		heap.Push(&h.ended, f)
	}
	var out []*decode.Flow
	for len(h.ended) > 0 && h.clock.Sub(h.ended[0].Last) > FlowLinger {
		g := heap.Pop(&h.ended).(*decode.Flow)
		if h.held[g.ID] == g {
			out = append(out, g)
			delete(h.held, g.ID)
		}
	}
	h.compact()
	sortFlows(out)
	return out
}

// compact drops stale heap entries once they outnumber the held flows, so
// a flow republished many times after it ended (stray packets while it
// lingers) cannot grow the heap without bound.
func (h *FlowHold) compact() {
	if len(h.ended) < 64 || len(h.ended) <= 2*len(h.held) {
		return
	}
	live := h.ended[:0]
	for _, g := range h.ended {
		if h.held[g.ID] == g {
			live = append(live, g)
		}
	}
	clear(h.ended[len(live):])
	h.ended = live
	heap.Init(&h.ended)
}

// Drain returns every held flow, in ID order.
func (h *FlowHold) Drain() []*decode.Flow {
	out := make([]*decode.Flow, 0, len(h.held))
	for _, g := range h.held {
		out = append(out, g)
	}
	h.held = nil
	h.ended = nil
	sortFlows(out)
	return out
}

func sortFlows(fs []*decode.Flow) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].ID < fs[j].ID })
}

// endHeap orders ended flows by their last packet time.
type endHeap []*decode.Flow

func (e endHeap) Len() int           { return len(e) }
func (e endHeap) Less(i, j int) bool { return e[i].Last.Before(e[j].Last) }
func (e endHeap) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *endHeap) Push(x any)        { *e = append(*e, x.(*decode.Flow)) }
func (e *endHeap) Pop() any {
	old := *e
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*e = old[:len(old)-1]
	return g
}
