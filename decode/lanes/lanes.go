// Package lanes decodes packets on several cores with the same output as
// on one. It is the decoder the pipeline feeds (pipeline.PacketDecoder):
// flows are split by a hash of their two endpoints over N decoder lanes
// (decode/tcp shards), each on its own goroutine with its own reassembly
// and parsers, and one merge goroutine puts what they publish back into
// one stream, hands out flow and exchange IDs, and calls the Output
// (masking, filters, encoding and writing run there, off the lanes).
//
// Determinism: every item the pipeline delivers (packet, tick, status
// note, trace, end of input) gets an ordinal. Packets and ticks go to
// every lane in batches, in ordinal order: each lane keeps every source's
// capture clock, so maintenance (idle timeouts, gap flushes, Finish) runs
// at the same packet in every lane, but only the lane a connection hashes
// to decodes it. The merge releases a batch once every lane has decoded
// it, in ordinal order; what maintenance caused in several lanes at one
// ordinal is ordered by connection (flow ID); IDs are numbered in that
// merged order. So the output (IDs, order, content) does not depend on
// the number of lanes, and one lane (-j 1) runs the very same path, on
// the caller's goroutine.
//
// Envoy tap traces (socket streams and HTTP traces) are decoded on the
// merge goroutine, in order with the packets. Key material embedded in a
// capture waits until every lane has decoded the packets before it.
package lanes

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/taptrace"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
)

// Defaults for Options fields left zero.
const (
	// DefaultBatch is the most items one batch carries to the lanes.
	DefaultBatch = 512
	// DefaultQueue is how many batches may wait for a lane, and for the
	// merge. A lane owns the connections hashed to it, and a capture with
	// few busy connections keeps one lane busier than another for
	// thousands of packets (an nginx capture of 8 keep-alive connections:
	// the busier of two lanes has 65% of each 4096 packets, 59% of each
	// 65536), so deeper queues would let the other lane run further
	// ahead; but what lanes publish waits for the merge too (decoded
	// exchanges: 300 MB of RSS at 64 batches, 115 MB at 4).
	DefaultQueue = 8
	// DefaultInFlight also bounds the packet bytes handed to the lanes and
	// not yet merged (traces count traceBytes each), for big packets.
	DefaultInFlight = 24 << 20
	// traceBytes is what a trace counts against InFlight.
	traceBytes = 4 << 10
	// traceBatch is the most traces one batch carries: only the merge
	// decodes them, so small batches cost no parallelism and keep a
	// flooded sink's backlog (at most 2*Queue batches) small.
	traceBatch = 128
)

// Options configure a Decoder.
type Options struct {
	// Lanes is the number of decoder lanes; 0 takes GOMAXPROCS.
	Lanes int
	// Config returns the TCP decoder configuration of one lane; it is
	// called once per lane and once for the decoder of socket streams,
	// and must return parsers of their own each time (parsers may keep
	// state across connections). Config.IDs is set by the Decoder.
	Config func() tcp.Config
	// Secrets receives key material embedded in captures, once every
	// packet before it is decoded; nil drops it.
	Secrets interface {
		Secrets(kind uint32, data []byte)
	}
	// Trace holds the tap-trace decoder's options.
	Trace taptrace.Options
	// Publish, when set, sees every exchange on the merge goroutine
	// just before out does, in the order the merge publishes them (the
	// same for any number of lanes), and may change it: it gets the
	// merge's own copy (kafka.Namer names topic ids there).
	Publish func(*decode.Exchange)
	// Batch, Queue and InFlight tune the hand-over (DefaultBatch,
	// DefaultQueue, DefaultInFlight).
	Batch, Queue int
	InFlight     int64
}

// lanes returns the number of lanes opts asks for.
func (o Options) lanes() int {
	if o.Lanes > 0 {
		return o.Lanes
	}
	return max(1, runtime.GOMAXPROCS(0))
}

// itemKind says what an item is.
type itemKind uint8

const (
	itemPacket itemKind = iota
	itemTick
	itemFinish
	itemNote
	itemTrace
	itemFence
)

// item is one packet or tick for the lanes (every lane sees every item).
type item struct {
	ord  uint64
	kind itemKind
	ts   time.Time // tick: wall time; finish: fallback clock
	pkt  sources.Packet
}

// extra is an item only the merge acts on.
type extra struct {
	ord   uint64
	kind  itemKind
	ts    time.Time
	note  sources.Status
	trace sources.Trace
	done  chan struct{} // fence
}

// work is one batch on its way through the lanes to the merge.
type work struct {
	items   []item
	extras  []extra
	results [][]tcp.Event // per lane
	wg      sync.WaitGroup
	bytes   int64 // what it counts against Options.InFlight
}

// Decoder runs the lanes and the merge. Its methods (the pipeline's
// PacketDecoder, TraceDecoder, NoteSink and SecretsSink, and EndBatch)
// are called from one goroutine, the pipeline's.
type Decoder struct {
	opts   Options
	n      int
	inline bool

	ord      uint64
	cur      *work
	pool     sync.Pool
	lanes    []*lane
	merge    *merger
	mergeCh  chan *work
	done     chan struct{} // closed when the merge goroutine returns
	finished bool

	// inFlight is the bytes of batches handed over and not yet merged;
	// room gets a token whenever the merge finished one.
	inFlight atomic.Int64
	room     chan struct{}
}

// lane is one decoder shard and its input.
type lane struct {
	dec    *tcp.Decoder
	idx    int
	in     chan *work
	events *eventPool
}

// New returns a Decoder publishing to out. With more than one lane it
// starts the lanes' and the merge's goroutines; they end with Finish.
func New(out decode.Output, opts Options) *Decoder {
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.InFlight <= 0 {
		opts.InFlight = DefaultInFlight
	}
	n := opts.lanes()
	d := &Decoder{opts: opts, n: n, inline: n == 1}
	d.merge = newMerger(out, n, opts)
	for i, dec := range tcp.NewShards(n, opts.Config) {
		d.lanes = append(d.lanes, &lane{dec: dec, idx: i, events: d.merge.events})
	}
	if !d.inline {
		d.mergeCh = make(chan *work, opts.Queue)
		d.done = make(chan struct{})
		d.room = make(chan struct{}, 1)
		for _, ln := range d.lanes {
			ln.in = make(chan *work, opts.Queue)
			go ln.run()
		}
		go func() {
			defer close(d.done)
			for w := range d.mergeCh {
				w.wg.Wait()
				d.merge.merge(w)
				d.inFlight.Add(-w.bytes)
				d.recycle(w)
				select {
				case d.room <- struct{}{}:
				default:
				}
			}
		}()
	}
	return d
}

// Lanes returns how many lanes decode.
func (d *Decoder) Lanes() int { return d.n }

func (d *Decoder) batch() *work {
	if d.cur == nil {
		if w, ok := d.pool.Get().(*work); ok {
			d.cur = w
		} else {
			d.cur = &work{results: make([][]tcp.Event, d.n)}
		}
	}
	return d.cur
}

func (d *Decoder) recycle(w *work) {
	clear(w.items)
	clear(w.extras)
	w.items, w.extras = w.items[:0], w.extras[:0]
	for i := range w.results {
		w.results[i] = nil
	}
	w.bytes = 0
	d.pool.Put(w)
}

// Packet implements pipeline.PacketDecoder.
// NextOrdinal is the ordinal the next item (packet) will get. A stage in
// front of the decoder (mesh.Wire) tags what it learns from a packet
// with it, and applies it when the merge reaches that ordinal (the
// merge's output is told through AtOrdinal), so what it records is in
// step with the merged output whatever the number of lanes. Call it from
// the goroutine that calls Packet.
func (d *Decoder) NextOrdinal() uint64 { return d.ord + 1 }

func (d *Decoder) Packet(p *sources.Packet) {
	if d.finished {
		return
	}
	w := d.batch()
	d.ord++
	w.items = append(w.items, item{ord: d.ord, kind: itemPacket, pkt: *p})
	w.bytes += int64(len(p.Data))
	if len(w.items) >= d.opts.Batch {
		d.flush()
	}
}

// Tick implements the pipeline's ticker: live captures move the clocks
// of quiet sources on (see tcp.Decoder.Tick) and expire idle traces.
func (d *Decoder) Tick(now time.Time) {
	if d.finished {
		return
	}
	w := d.batch()
	d.ord++
	w.items = append(w.items, item{ord: d.ord, kind: itemTick, ts: now})
	w.extras = append(w.extras, extra{ord: d.ord, kind: itemTick, ts: now})
	d.flush()
}

// Trace implements pipeline.TraceDecoder: traces are decoded on the merge
// goroutine, in order with the packets around them.
func (d *Decoder) Trace(t *sources.Trace) {
	if d.finished {
		return
	}
	w := d.batch()
	d.ord++
	w.extras = append(w.extras, extra{ord: d.ord, kind: itemTrace, trace: *t})
	w.bytes += traceBytes
	if len(w.extras) >= min(d.opts.Batch, traceBatch) {
		d.flush()
	}
}

// Note implements pipeline.NoteSink: a source's note is written in order
// with what the packets before it produced.
func (d *Decoder) Note(s sources.Status) {
	if d.finished {
		d.merge.out.Note(s)
		return
	}
	w := d.batch()
	d.ord++
	w.extras = append(w.extras, extra{ord: d.ord, kind: itemNote, note: s})
}

// Secrets implements pipeline.SecretsSink: the keys are added once every
// packet before them is decoded, and before any after them is, as on
// one goroutine.
func (d *Decoder) Secrets(kind uint32, data []byte) {
	if !d.finished {
		d.fence()
	}
	if d.opts.Secrets != nil {
		d.opts.Secrets.Secrets(kind, data)
	}
}

// EndBatch is called by the pipeline after each batch a source delivered;
// more says whether further batches are waiting. What is collected goes
// to the lanes when nothing more is waiting, so live traffic is decoded
// at once, and in full batches while a file is read.
func (d *Decoder) EndBatch(more bool) {
	if !more && !d.finished {
		d.flush()
	}
}

// fence waits until everything handed over so far is decoded and merged.
func (d *Decoder) fence() {
	w := d.batch()
	d.ord++
	done := make(chan struct{})
	w.extras = append(w.extras, extra{ord: d.ord, kind: itemFence, done: done})
	d.flush()
	<-done
}

// flush hands the current batch to the lanes and the merge.
func (d *Decoder) flush() {
	w := d.cur
	if w == nil || len(w.items) == 0 && len(w.extras) == 0 {
		return
	}
	d.cur = nil
	if d.inline {
		d.lanes[0].decode(w)
		d.merge.merge(w)
		d.recycle(w)
		return
	}
	// Wait while the batches in flight hold more than InFlight bytes
	// (one batch always goes, however big).
	for d.inFlight.Load() > 0 && d.inFlight.Load()+w.bytes > d.opts.InFlight {
		<-d.room
	}
	d.inFlight.Add(w.bytes)
	w.wg.Add(d.n)
	for _, ln := range d.lanes {
		ln.in <- w
	}
	d.mergeCh <- w
}

// Finish implements pipeline.PacketDecoder: every lane ends its flows
// (ts stands in for sources without a clock), the merge writes what that
// published, and the goroutines end.
func (d *Decoder) Finish(ts time.Time) {
	if d.finished {
		return
	}
	w := d.batch()
	d.ord++
	w.items = append(w.items, item{ord: d.ord, kind: itemFinish, ts: ts})
	w.extras = append(w.extras, extra{ord: d.ord, kind: itemFinish, ts: ts})
	d.flush()
	d.finished = true
	if !d.inline {
		for _, ln := range d.lanes {
			close(ln.in)
		}
		close(d.mergeCh)
		<-d.done
	}
}

// Stats returns the lanes' TCP decoder counters summed (packet-level
// counters, which every lane keeps alike, counted once), and the socket
// stream decoder's. Call it after Finish.
func (d *Decoder) Stats() tcp.Stats {
	var s tcp.Stats
	for i, ln := range d.lanes {
		st := ln.dec.Stats()
		if i == 0 {
			s = st
			continue
		}
		s.TCPPackets += st.TCPPackets
		s.UDPPackets += st.UDPPackets
		s.TCPFlows += st.TCPFlows
		s.UDPFlows += st.UDPFlows
		s.Truncated += st.Truncated
		s.OutOfOrder += st.OutOfOrder
		s.Gaps += st.Gaps
		s.GapBytes += st.GapBytes
		s.Detected += st.Detected
		s.Raw += st.Raw
		s.Exchanges += st.Exchanges
		s.PublishAfterFinal += st.PublishAfterFinal
		s.ParserPanics += st.ParserPanics
		s.Evicted += st.Evicted
	}
	st := d.merge.streams.Stats()
	s.Streams += st.Streams
	s.Exchanges += st.Exchanges
	s.Detected += st.Detected
	s.Raw += st.Raw
	s.Gaps += st.Gaps
	s.GapBytes += st.GapBytes
	s.PublishAfterFinal += st.PublishAfterFinal
	s.ParserPanics += st.ParserPanics
	return s
}

// TraceStats returns the tap-trace decoder's counters. Call it after
// Finish.
func (d *Decoder) TraceStats() taptrace.Stats { return d.merge.traces.Stats() }

func (ln *lane) run() {
	for w := range ln.in {
		ln.decode(w)
		w.wg.Done()
	}
}

// decode runs one batch through the lane's shard and keeps its events in
// the batch.
func (ln *lane) decode(w *work) {
	dec := ln.dec
	for i := range w.items {
		it := &w.items[i]
		dec.BeginItem(it.ord)
		switch it.kind {
		case itemPacket:
			dec.Packet(&it.pkt)
		case itemTick:
			dec.Tick(it.ts)
		case itemFinish:
			dec.Finish(it.ts)
		}
	}
	w.results[ln.idx] = dec.TakeEvents(ln.events.get())
}
