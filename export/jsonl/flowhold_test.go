package jsonl

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// scanHold is FlowHold as it was before the heap: every Add scans every
// held flow. It is the reference the heap version must match exactly.
type scanHold struct {
	held  map[uint64]*decode.Flow
	clock time.Time
}

func (h *scanHold) Add(f *decode.Flow) []*decode.Flow {
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
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (h *scanHold) Drain() []*decode.Flow {
	var out []*decode.Flow
	for _, g := range h.held {
		out = append(out, g)
	}
	h.held = nil
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TestFlowHoldMatchesScan feeds both implementations the same random
// publication sequences (open flows, republished counters, ends, stray
// packets after the end, late timestamps, flows reopened after release)
// and requires the same releases, batch by batch, in the same order.
// FlowHold is given every flow in one place that is overwritten after
// each Add, as a decoder publishing from reused memory does: what it
// holds and releases must be its own copies.
func TestFlowHoldMatchesScan(t *testing.T) {
	states := []decode.FlowState{decode.FlowOpen, decode.FlowPartial, decode.FlowClosed, decode.FlowReset, decode.FlowTimedOut}
	base := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	for seed := uint64(0); seed < 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		var heapH FlowHold
		var scan scanHold
		var reused decode.Flow
		last := map[uint64]time.Time{}
		now := base
		ids := 1 + r.IntN(300)
		released := 0
		for step := 0; step < 3000; step++ {
			now = now.Add(time.Duration(r.IntN(2000)) * time.Millisecond)
			id := uint64(1 + r.IntN(ids))
			if seed%2 == 1 {
				// Sparse IDs spread over many pages of the held set.
				id = id*uint64(97+seed) + id<<40
			}
			ts := now
			if r.IntN(10) == 0 {
				// A flow from a slower source: its time is behind.
				ts = now.Add(-time.Duration(r.IntN(60)) * time.Second)
			}
			if l, ok := last[id]; ok && ts.Before(l) {
				ts = l
			}
			last[id] = ts
			f := &decode.Flow{ID: id, Last: ts, State: states[r.IntN(len(states))], PacketsC2S: int64(step)}
			reused = *f
			got, want := heapH.Add(&reused), scan.Add(f)
			reused = decode.Flow{ID: 1 << 62, State: decode.FlowOpen, PacketsC2S: -1}
			if !sameFlows(got, want) {
				t.Fatalf("seed %d step %d: Add released %v, the scan %v", seed, step, ids2(got), ids2(want))
			}
			released += len(got)
		}
		if got, want := heapH.Drain(), scan.Drain(); !sameFlows(got, want) {
			t.Fatalf("seed %d: Drain gave %v, the scan %v", seed, ids2(got), ids2(want))
		}
		if released == 0 {
			t.Fatalf("seed %d: nothing released before Drain; the test exercises nothing", seed)
		}
	}
}

// TestFlowHoldHeapStaysBounded republishes one ended flow many times
// while its linger has not passed: stale heap entries must be dropped.
func TestFlowHoldHeapStaysBounded(t *testing.T) {
	var h FlowHold
	base := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 10000; i++ {
		h.Add(&decode.Flow{ID: 1, Last: base, State: decode.FlowClosed})
	}
	if len(h.ended) > 64 {
		t.Fatalf("heap holds %d entries for one flow", len(h.ended))
	}
	out := h.Add(&decode.Flow{ID: 2, Last: base.Add(FlowLinger + time.Second), State: decode.FlowOpen})
	if len(out) != 1 || out[0].ID != 1 {
		t.Fatalf("released %v, want flow 1 once", ids2(out))
	}
}

// sameFlows compares the flows' values: FlowHold gives copies.
func sameFlows(a, b []*decode.Flow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.ID != y.ID || !x.Last.Equal(y.Last) || x.State != y.State || x.PacketsC2S != y.PacketsC2S {
			return false
		}
	}
	return true
}

func ids2(fs []*decode.Flow) []uint64 {
	out := make([]uint64, len(fs))
	for i, f := range fs {
		out[i] = f.ID
	}
	return out
}
