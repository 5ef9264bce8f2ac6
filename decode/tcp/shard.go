package tcp

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/sources"
)

// A shard is one Decoder of several that split a capture by connection so
// they can run on different goroutines (decode/lanes runs them). Every
// shard is given every packet, in the same order, each tagged with its
// item ordinal (BeginItem): all shards keep the same capture clocks and
// run maintenance at the same packets, but only the shard a connection
// hashes to (ShardOf) creates and reassembles it. A shard publishes
// nothing itself: it records Events, which decode/lanes merges into one
// stream that is the same whatever the number of shards:
//
//   - Events carry the ordinal of the item that caused them. Those a
//     packet's own processing causes (PhasePacket) come from the one
//     shard owning the packet's connection; those of maintenance, ticks,
//     evictions and Finish (PhaseClock) may come from every shard, and
//     the merge orders them by connection (flow ID), each connection's
//     events in the order its shard produced them.
//   - IDs are local to a shard (shard i numbers from i<<ShardIDShift);
//     EventNewFlow and EventNewExchange say when one was allocated, and
//     the merge hands out the public IDs in merged order.
//   - EventForget says a flow will publish nothing more (its local IDs
//     may be forgotten).
//   - The flows of EventFlow are in chunks the shard reuses: each take
//     ends with an EventRelease per chunk its flows are in, and the
//     merge releases the chunk there (see FlowChunk).
type Event struct {
	Ordinal uint64
	Kind    EventKind
	Phase   uint8
	// Group is the local flow ID of the connection the event belongs to.
	Group    uint64
	ID       uint64 // the local ID allocated (EventNew*) or forgotten
	Flow     *decode.Flow
	Exchange *decode.Exchange
	Evicted  *Eviction
	Chunk    *FlowChunk // EventRelease: release it (FlowChunk.Release)
}

// Eviction is what an EventEvicted reports: Count flows of Source closed
// early for Config.MaxFlows (0 at a maintenance, when only the clock is
// news), at Clock, the source's capture clock.
type Eviction struct {
	Source string
	Count  int64
	Clock  time.Time
}

// EventKind says what an Event records.
type EventKind uint8

// Event kinds.
const (
	EventNewFlow     EventKind = iota + 1 // a flow ID was allocated (ID)
	EventNewExchange                      // an exchange ID was allocated (ID, Group its flow)
	EventFlow                             // Flow was published
	EventExchange                         // Exchange was published
	EventForget                           // flow ID will not be published again
	EventEvicted                          // flows were closed for the flow cap (Evicted)
	EventRelease                          // the take's flows in Chunk were all published
)

// Event phases: within one item, clock-driven work (maintenance, ticks,
// evictions, Finish) runs before the packet itself.
const (
	PhaseClock  uint8 = 0
	PhasePacket uint8 = 1
)

// ShardIDShift places each shard's local IDs in its own range.
const ShardIDShift = 48

// ShardBuckets is how many buckets connection hashes fall into; bucket b
// belongs to shard b % count. Limits that must not depend on the shard
// count are kept per bucket.
const ShardBuckets = 64

// shardState is what a Decoder that is a shard keeps besides a plain
// decoder's state.
type shardState struct {
	index, count int
	item         uint64 // ordinal of the item being decoded
	phase        uint8
	events       []Event

	// chunks holds the flow copies published (see FlowChunk): chunk is
	// the one being filled, filled those used since the last take.
	chunks chunkPool
	chunk  *FlowChunk
	filled []*FlowChunk

	cap        *capSync
	nextSync   uint64 // next cap sync point
	quietUntil uint64 // no cap decision before this sync point
	evictions  int    // cap evictions decided
}

// NewShards returns the n shards of one decoder, recording Events instead
// of publishing. cfg is called once per shard: parsers must not be shared
// between shards (a parser may keep state across connections), and
// Config.Owner must be safe for concurrent use. Each shard is used from
// one goroutine, and they must all be given the same items (BeginItem,
// then Packet, Tick or Finish) in the same order: the flow cap makes a
// shard wait for the others now and then (see DefaultCapEvery).
func NewShards(n int, cfg func() Config) []*Decoder {
	if n < 1 {
		panic("tcp.NewShards: no shards")
	}
	cs := newCapSync(n)
	ds := make([]*Decoder, n)
	for i := range ds {
		sh := &shardState{index: i, count: n, cap: cs}
		c := cfg()
		c.IDs = nil
		d := NewDecoder(sh, c)
		d.shard = sh
		d.nextFlowID = uint64(i) << ShardIDShift
		d.nextExchangeID = uint64(i) << ShardIDShift
		ds[i] = d
	}
	return ds
}

// BeginItem tells a shard the ordinal of the next item (packet, tick or
// Finish); the events it causes carry it. Ordinals increase; items of
// other kinds (notes, traces) may leave gaps.
func (d *Decoder) BeginItem(ordinal uint64) {
	sh := d.shard
	sh.item = ordinal
	sh.phase = PhaseClock
	if d.finished {
		return
	}
	for sh.nextSync*uint64(d.cfg.CapEvery) <= ordinal {
		d.capPoint(sh.nextSync)
		sh.nextSync++
	}
}

// TakeEvents returns the events recorded since the last call, and keeps
// buf (emptied) to record the next ones. The events end with the
// EventRelease of the chunks their flows are in: whoever takes them
// releases those once done with the flows (or lets the collector have
// them).
func (d *Decoder) TakeEvents(buf []Event) []Event {
	sh := d.shard
	sh.releaseChunks()
	evs := sh.events
	sh.events = buf[:0]
	return evs
}

func (sh *shardState) record(ev Event) {
	ev.Ordinal = sh.item
	ev.Phase = sh.phase
	if len(sh.events) == cap(sh.events) {
		// Double: append grows a long slice by a quarter, and a flush
		// of thousands of flows records tens of thousands of events.
		sh.events = slices.Grow(sh.events, max(len(sh.events), 256))
	}
	sh.events = append(sh.events, ev)
}

// Flow implements decode.Output for a shard's decoder.
func (sh *shardState) Flow(f *decode.Flow) {
	sh.record(Event{Kind: EventFlow, Group: f.ID, Flow: f})
}

// Exchange implements decode.Output for a shard's decoder.
func (sh *shardState) Exchange(e *decode.Exchange) {
	sh.record(Event{Kind: EventExchange, Group: e.FlowID, Exchange: e})
}

// Note implements decode.Output; a shard's notes (evictions) are made by
// the merge, which sees every shard's evictions.
func (sh *shardState) Note(sources.Status) {}

// owns reports whether the connection of a parsed TCP or UDP frame belongs
// to this decoder (always, unless it is a shard).
// A shard notes the connection's hash bucket (Decoder.bucket) for the
// flow it may create.
func (d *Decoder) owns(f *link.Frame) bool {
	sh := d.shard
	if sh == nil {
		return true
	}
	b := shardBucket(f)
	d.bucket = uint8(b)
	return int(b)%sh.count == sh.index
}

// shardBucket hashes a frame's two endpoints (the innermost addresses
// and ports, as the connection's key has them), the same in both
// directions, into one of ShardBuckets.
func shardBucket(f *link.Frame) uint64 {
	a, b := f.Src.As16(), f.Dst.As16()
	x := mix64(mix64(binary.BigEndian.Uint64(a[:8]))^binary.BigEndian.Uint64(a[8:])) + uint64(f.SrcPort)
	y := mix64(mix64(binary.BigEndian.Uint64(b[:8]))^binary.BigEndian.Uint64(b[8:])) + uint64(f.DstPort)
	return mix64(mix64(x)+mix64(y)) % ShardBuckets
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// forget records that c will publish nothing more.
func (d *Decoder) forget(c *conn) {
	if d.shard != nil {
		d.shard.record(Event{Kind: EventForget, Group: c.flow.ID, ID: c.flow.ID})
	}
}
