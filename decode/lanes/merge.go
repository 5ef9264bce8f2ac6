package lanes

import (
	"cmp"
	"slices"
	"sync"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/internal/idmap"
)

// merger turns the lanes' events back into one stream: it runs on one
// goroutine (the merge's, or the caller's with one lane).
type merger struct {
	out decode.Output
	at  ordinalObserver // out, when it wants to know the merged ordinal
	n   int

	// flows and exchanges map lanes' local IDs (unique over lanes: lane
	// i numbers from i<<tcp.ShardIDShift) to public ones.
	flows     idmap.Map[uint64]
	exchanges idmap.Map[exchangeID]
	sweepAt   int // exchanges' size that triggers the next sweep
	nextFlow  uint64
	nextEx    uint64

	// streams decodes Envoy socket traces and traces decodes all traces,
	// on this goroutine, with public IDs.
	streams *tcp.Decoder
	traces  *taptrace.Decoder

	evictions evictionNotes

	clock     []keyed // scratch for ordering an ordinal's clock events
	runs      []int   // where each lane's clock events start in clock
	merged    []keyed // clock's events merged by key
	runPos    []int
	lost      int64 // publications of unknown local IDs (dropped)
	pos       []int
	events    *eventPool
	noteCheck bool // evictions to consider noting after this ordinal
	finishing bool
	// copies is set when out copies what it keeps of a flow: the lanes'
	// flows (in chunks they reuse, see tcp.FlowChunk) are then handed
	// on as they are, else as a heap copy each.
	copies bool
}

// exchangeID is an exchange's public ID and its flow's local ID.
type exchangeID struct {
	id, flow uint64
}

// keyed is a clock event with its sort key.
type keyed struct {
	key uint64
	ev  *tcp.Event
}

// minSweep is the least number of mapped exchanges before unpublished
// exchanges of forgotten flows are swept.
const minSweep = 4096

func newMerger(out decode.Output, n int, opts Options) *merger {
	m := &merger{
		out:     out,
		n:       n,
		sweepAt: minSweep,
		pos:     make([]int, n),
		events:  &eventPool{},
	}
	m.at, _ = out.(ordinalObserver)
	m.copies = decode.CopiesFlows(out)
	if opts.Publish != nil {
		out = publishing{out, opts.Publish}
		m.out = out
	}
	cfg := opts.Config()
	m.evictions.init(cmp.Or(cfg.MaxFlows, tcp.DefaultMaxFlows))
	cfg.IDs = m
	m.streams = tcp.NewDecoder(out, cfg)
	m.traces = taptrace.NewDecoder(out, taptrace.Opener(m.streams.OpenStream), m.streams.NextExchangeID, opts.Trace)
	return m
}

// NextFlowID implements tcp.IDSource for the socket stream decoder.
func (m *merger) NextFlowID() uint64 {
	m.nextFlow++
	return m.nextFlow
}

// NextExchangeID implements tcp.IDSource.
func (m *merger) NextExchangeID() uint64 {
	m.nextEx++
	return m.nextEx
}

// ordinalObserver is an output that wants to know which ordinal the merge
// is about to publish the events of (mesh.Labeler, whose Wire recorded
// packet timing tagged with ordinals ahead of the lanes).
type ordinalObserver interface {
	AtOrdinal(ord uint64)
}

// merge writes out one batch: ordinal by ordinal, the merge's own items
// (notes, traces, the trace side of ticks and Finish), then the clock
// events of every lane ordered by connection, then the packet's events.
func (m *merger) merge(w *work) {
	ex := w.extras
	for i := range m.pos {
		m.pos[i] = 0
	}
	for {
		ord := uint64(0)
		found := false
		if len(ex) > 0 {
			ord, found = ex[0].ord, true
		}
		for i, evs := range w.results {
			if p := m.pos[i]; p < len(evs) && (!found || evs[p].Ordinal < ord) {
				ord, found = evs[p].Ordinal, true
			}
		}
		if !found {
			break
		}
		if m.at != nil {
			m.at.AtOrdinal(ord)
		}
		for len(ex) > 0 && ex[0].ord == ord {
			m.extra(&ex[0])
			ex = ex[1:]
		}
		// Clock events of every lane, by connection.
		clock := m.clock[:0]
		runs := m.runs[:0]
		for i, evs := range w.results {
			p := m.pos[i]
			start := len(clock)
			for ; p < len(evs) && evs[p].Ordinal == ord && evs[p].Phase == tcp.PhaseClock; p++ {
				clock = append(clock, keyed{key: m.groupKey(evs[p].Group), ev: &evs[p]})
			}
			if len(clock) > start {
				runs = append(runs, start)
			}
			m.pos[i] = p
		}
		sorted := m.sortClock(clock, runs)
		for _, k := range sorted {
			m.event(k.ev)
		}
		clear(clock)
		clear(sorted)
		m.clock, m.runs = clock[:0], runs[:0]
		// The packet's own events (one lane).
		for i, evs := range w.results {
			p := m.pos[i]
			for ; p < len(evs) && evs[p].Ordinal == ord; p++ {
				m.event(&evs[p])
			}
			m.pos[i] = p
		}
		if m.noteCheck || m.finishing {
			m.evictions.check(m, m.finishing)
			m.noteCheck = false
		}
	}
	for i, evs := range w.results {
		clear(evs)
		m.events.put(evs[:0])
		w.results[i] = nil
	}
}

// sortClock orders an ordinal's clock events by key, stably, as sorting
// all of them would: clock holds one run per lane (runs are their start
// indexes), a lane's events of one flow stay in its order, and a flow
// belongs to one lane. Each run is usually sorted already (a flush
// replays its connections in flow order), so a run is sorted only when
// it is not, and the runs are merged: stable-sorting the tens of
// thousands of events of an eviction cost more than publishing them.
func (m *merger) sortClock(clock []keyed, runs []int) []keyed {
	if len(clock) < 2 {
		return clock
	}
	byKey := func(a, b keyed) int { return cmp.Compare(a.key, b.key) }
	end := func(r int) int {
		if r+1 < len(runs) {
			return runs[r+1]
		}
		return len(clock)
	}
	for r := range runs {
		run := clock[runs[r]:end(r)]
		if !slices.IsSortedFunc(run, byKey) {
			slices.SortStableFunc(run, byKey)
		}
	}
	if len(runs) == 1 {
		return clock
	}
	out := m.merged[:0]
	pos := append(m.runPos[:0], runs...)
	for len(out) < len(clock) {
		best := -1
		for r := range runs {
			if pos[r] < end(r) && (best < 0 || clock[pos[r]].key < clock[pos[best]].key) {
				best = r
			}
		}
		out = append(out, clock[pos[best]])
		pos[best]++
	}
	m.merged, m.runPos = out[:0], pos[:0]
	return out
}

// groupKey orders clock events: by the public ID of their flow. Every
// flow with clock events was created by an earlier packet, so it has one.
func (m *merger) groupKey(local uint64) uint64 {
	if id, ok := m.flows.Get(local); ok {
		return id
	}
	return ^uint64(0)
}

// extra acts on one of the merge's own items.
func (m *merger) extra(x *extra) {
	switch x.kind {
	case itemNote:
		m.out.Note(x.note)
	case itemTrace:
		m.traces.Trace(&x.trace)
	case itemTick:
		m.traces.Expire(x.ts)
		m.streams.Tick(x.ts)
	case itemFinish:
		m.finishing = true
		m.traces.Flush()
		m.streams.Finish(x.ts)
	case itemFence:
		close(x.done)
	}
}

// event maps one lane event's IDs and publishes it.
func (m *merger) event(ev *tcp.Event) {
	switch ev.Kind {
	case tcp.EventNewFlow:
		m.nextFlow++
		m.flows.Set(ev.ID, m.nextFlow)
	case tcp.EventNewExchange:
		m.nextEx++
		m.exchanges.Set(ev.ID, exchangeID{id: m.nextEx, flow: ev.Group})
	case tcp.EventFlow:
		f := ev.Flow
		id, ok := m.flows.Get(f.ID)
		if !ok {
			m.lost++
			return
		}
		f.ID = id
		if !m.copies {
			cp := *f
			f = &cp
		}
		m.out.Flow(f)
	case tcp.EventExchange:
		e := ev.Exchange
		x, ok := m.exchanges.Get(e.ID)
		if !ok {
			m.lost++
			return
		}
		if e.State.Final() {
			m.exchanges.Delete(e.ID)
		}
		e.ID = x.id
		e.FlowID, _ = m.flows.Get(e.FlowID)
		m.out.Exchange(e)
	case tcp.EventForget:
		m.flows.Delete(ev.ID)
		if m.exchanges.Len() >= m.sweepAt {
			m.sweep()
		}
	case tcp.EventEvicted:
		m.evictions.add(m, ev)
		m.noteCheck = true
	case tcp.EventRelease:
		// A lane's take ends with these: every flow in the chunk was
		// published above.
		ev.Chunk.Release()
	}
}

// sweep forgets exchanges of forgotten flows that never published a
// final state (a parser that failed, say), so the map stays the size of
// what is open.
func (m *merger) sweep() {
	m.exchanges.Each(func(local uint64, x exchangeID) {
		if _, ok := m.flows.Get(x.flow); !ok {
			m.exchanges.Delete(local)
		}
	})
	m.sweepAt = max(minSweep, 2*m.exchanges.Len())
}

// publishing is an output whose exchanges go through Options.Publish.
type publishing struct {
	decode.Output
	publish func(*decode.Exchange)
}

func (p publishing) Exchange(e *decode.Exchange) {
	p.publish(e)
	p.Output.Exchange(e)
}

// eventPool recycles the lanes' event buffers. It is a plain free list,
// not a sync.Pool: a sync.Pool empties itself at every other collection,
// and a capture that allocates much (200k half-open flows) collected so
// often that most batches began with no buffer and regrew one by
// doubling, a tenth of a lane's time copying events. It keeps at most
// eventPoolKeep buffers of at most eventPoolMaxCap events, and apart
// from those up to eventPoolBig of at most eventPoolBigCap: a batch with
// an eviction records two events per evicted flow (tens of thousands),
// and without one kept each eviction allocated its buffer anew (and
// copied it while it doubled), 90 MB over 200k half-open flows; with one
// lane the only buffer in use grew past 32k events at an eviction, and
// dropping it left the next batches none. Big buffers (at most 4 MB
// each) are handed out first, for whatever batch comes.
type eventPool struct {
	mu   sync.Mutex
	free [][]tcp.Event
	big  [][]tcp.Event
}

const (
	eventPoolKeep   = 32
	eventPoolMaxCap = 8192
	eventPoolBig    = 8
	eventPoolBigCap = 1 << 16
)

func (p *eventPool) get() []tcp.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := &p.free
	if len(p.big) > 0 {
		list = &p.big
	}
	n := len(*list)
	if n == 0 {
		return nil
	}
	b := (*list)[n-1]
	(*list)[n-1] = nil
	*list = (*list)[:n-1]
	return b
}

func (p *eventPool) put(evs []tcp.Event) {
	c := cap(evs)
	if c == 0 || c > eventPoolBigCap {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case c > eventPoolMaxCap:
		if len(p.big) < eventPoolBig {
			p.big = append(p.big, evs[:0])
		}
	case len(p.free) < eventPoolKeep:
		p.free = append(p.free, evs[:0])
	}
}
