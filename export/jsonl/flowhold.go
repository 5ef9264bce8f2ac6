package jsonl

import (
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
type FlowHold struct {
	held  map[uint64]*decode.Flow
	clock time.Time
}

// Add keeps the newest version of a flow and returns the flows now
// old enough to print.
func (h *FlowHold) Add(f *decode.Flow) []*decode.Flow {
	if h.held == nil {
		h.held = make(map[uint64]*decode.Flow)
	}
	h.held[f.ID] = f
	if f.Last.After(h.clock) {
		h.clock = f.Last
	}
	var out []*decode.Flow
	for id, g := range h.held {
		if FlowEnded(g) && h.clock.Sub(g.Last) > FlowLinger {
			out = append(out, g)
			delete(h.held, id)
		}
	}
	sortFlows(out)
	return out
}

// Drain returns every held flow, in ID order.
func (h *FlowHold) Drain() []*decode.Flow {
	out := make([]*decode.Flow, 0, len(h.held))
	for _, g := range h.held {
		out = append(out, g)
	}
	h.held = nil
	sortFlows(out)
	return out
}

func sortFlows(fs []*decode.Flow) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].ID < fs[j].ID })
}
