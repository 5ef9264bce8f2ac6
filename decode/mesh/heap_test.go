package mesh

import (
	"math/rand"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

type heapItem struct {
	at  time.Time
	id  uint64
	pos int
}

// TestIndexHeap runs random pushes, key changes, removals and pops on
// heaps of up to a few thousand items (several levels of the 4-ary tree,
// where the flow tests rarely get) and checks every popped item against
// a sorted list of what should be in the heap.
func TestIndexHeap(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rounds := 10
	if testing.Short() || raceEnabled {
		rounds = 3
	}
	for round := 0; round < rounds; round++ {
		h := newIndexHeap(func(x *heapItem) *int { return &x.pos })
		var in []*heapItem // what the heap should hold
		var nextID uint64
		cmp := func(a, b *heapItem) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return int(a.id) - int(b.id)
		}
		key := func() time.Time { return t0.Add(time.Duration(r.Intn(1000)) * time.Millisecond) } // many equal keys
		for op := 0; op < 20000; op++ {
			switch p := r.Intn(100); {
			case p < 45 || len(in) == 0:
				nextID++
				x := &heapItem{at: key(), id: nextID, pos: -1}
				h.push(x, x.at, x.id)
				in = append(in, x)
			case p < 65:
				x := in[r.Intn(len(in))]
				x.at = key()
				h.fix(x, x.at)
			case p < 80:
				i := r.Intn(len(in))
				h.remove(in[i])
				if in[i].pos != -1 {
					t.Fatalf("removed item still has position %d", in[i].pos)
				}
				h.remove(in[i]) // a second remove does nothing
				in = slices.Delete(in, i, i+1)
			default:
				want := slices.MinFunc(in, cmp)
				if x, at := h.min(); x != want || !at.Equal(want.at) {
					t.Fatalf("round %d op %d: min is %d at %v, want %d at %v", round, op, x.id, at, want.id, want.at)
				}
				if got := h.popMin(); got != want {
					t.Fatalf("round %d op %d: popped %d, want %d", round, op, got.id, want.id)
				}
				in = slices.DeleteFunc(in, func(x *heapItem) bool { return x == want })
			}
			if h.len() != len(in) {
				t.Fatalf("round %d op %d: heap holds %d, want %d", round, op, h.len(), len(in))
			}
		}
		// Draining gives everything in order.
		slices.SortFunc(in, cmp)
		for i, want := range in {
			if got := h.popMin(); got != want {
				t.Fatalf("round %d: drain %d popped %d, want %d", round, i, got.id, want.id)
			}
		}
		if h.len() != 0 {
			t.Fatalf("round %d: %d left after draining", round, h.len())
		}
	}
}

// discard is an Output that keeps nothing.
type discard struct{}

func (discard) Flow(*decode.Flow)         {}
func (discard) Exchange(*decode.Exchange) {}
func (discard) Note(sources.Status)       {}

// halfOpenFlows publishes what the TCP decoder publishes for
// bench/halfopen's capture, reduced to the flows: n flows starting 500 µs
// apart that never close, each published when it opens and once more a
// moment later, and closed as timed out once 32768 newer ones are open
// (the decoder's cap).
func halfOpenFlows(n int, out decode.Output) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const openCap = 32768
	flow := func(i int, last time.Time, state decode.FlowState) *decode.Flow {
		return &decode.Flow{ID: uint64(i + 1), Source: "halfopen.pcap", Transport: "tcp",
			Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), uint16(1024+i%60000)),
			Server: netip.MustParseAddrPort("10.0.0.1:8080"), First: t0.Add(time.Duration(i) * 500 * time.Microsecond),
			Last: last, State: state}
	}
	for i := 0; i < n; i++ {
		now := t0.Add(time.Duration(i) * 500 * time.Microsecond)
		out.Flow(flow(i, now, decode.FlowOpen))
		if j := i - 100; j >= 0 {
			out.Flow(flow(j, now, decode.FlowOpen))
		}
		if j := i - openCap; j >= 0 {
			out.Flow(flow(j, now, decode.FlowTimedOut))
		}
	}
}

// BenchmarkLabelerHalfOpen compares the Labeler with the oracle (its
// bookkeeping before the heaps) on 200k half-open flows, the case that
// made the old sweep and sort costly. ns/flow is wall time: on a shared
// machine compare old and new from one run.
func BenchmarkLabelerHalfOpen(b *testing.B) {
	const n = 200000
	for _, impl := range []string{"old", "new"} {
		b.Run(impl, func(b *testing.B) {
			for range b.N {
				var out decode.Output = NewLabeler(discard{}, Options{})
				if impl == "old" {
					out = oracleOutput{newOldLabeler(discard{}, Options{})}
				}
				halfOpenFlows(n, out)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/flow")
		})
	}
}

// oracleOutput makes the oracle a decode.Output.
type oracleOutput struct{ l *oldLabeler }

func (o oracleOutput) Flow(f *decode.Flow)         { o.l.Flow(f) }
func (o oracleOutput) Exchange(e *decode.Exchange) { o.l.Exchange(e) }
func (o oracleOutput) Note(sources.Status)         {}
