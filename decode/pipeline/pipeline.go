// Package pipeline runs traffic sources into the decoder: every source
// reads in its own goroutine and hands batches to one goroutine that
// feeds the decoder (decode/lanes spreads that over cores itself). File
// sources are throttled by the decoder; live sources drop and count what
// the decoder cannot take.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// PacketDecoder is what Run feeds, from a single goroutine. Packet must
// not keep the *Packet after it returns (the Data slice it may keep).
// tcp.Decoder implements it.
type PacketDecoder interface {
	Packet(p *sources.Packet)
	Finish(ts time.Time)
}

// TraceDecoder receives Envoy tap traces, on the same goroutine as
// packets (socket traces open decoder streams).
type TraceDecoder interface {
	Trace(t *sources.Trace)
}

// NoteSink receives sources' status notes; decode.Output implements it.
type NoteSink interface {
	Note(s sources.Status)
}

// StatsSink receives per-source statistics; decode.Store implements it.
type StatsSink interface {
	SetStats(st decode.SourceStats)
}

// SecretsSink receives key material embedded in capture files (pcapng
// Decryption Secrets Blocks), in order with the packets.
type SecretsSink interface {
	Secrets(kind uint32, data []byte)
}

// ticker is implemented by decoders whose capture clock can be advanced
// without packets (tcp.Decoder.Tick), so live captures time out idle
// flows while traffic is quiet.
type ticker interface {
	Tick(now time.Time)
}

// batchEnder is implemented by decoders that collect packets into batches
// of their own (decode/lanes): EndBatch follows every batch a source
// delivered, more saying whether further batches are already waiting, so
// the decoder can pass on a partial batch when nothing else is coming.
type batchEnder interface {
	EndBatch(more bool)
}

// sizer is implemented by sources that know their total size (files).
type sizer interface {
	Size() int64
}

// Input is one source to run; Live says it cannot be throttled, so its
// emitter drops (and counts) what the decoder cannot take.
type Input struct {
	Source sources.Source
	Live   bool
}

// Defaults for Options fields left zero.
const (
	DefaultBatchSize     = 256
	DefaultQueueBatches  = 16
	DefaultFlushInterval = 20 * time.Millisecond
	DefaultStatsInterval = 100 * time.Millisecond
	DefaultTickInterval  = time.Second
	DefaultGrace         = 5 * time.Second
)

// Options are the optional receivers and the tuning of a Run.
type Options struct {
	Notes   NoteSink     // status notes; nil drops them
	Traces  TraceDecoder // Envoy traces; nil counts them only
	Stats   StatsSink    // per-source statistics; nil skips them
	Secrets SecretsSink  // embedded key material; nil drops it

	BatchSize     int           // items per batch
	QueueBatches  int           // batches queued between sources and decoder
	FlushInterval time.Duration // how long a partial batch may wait
	StatsInterval time.Duration // how often statistics are reported
	TickInterval  time.Duration // how often Tick runs while live inputs exist
	// Grace is how long, after cancellation, the decoder waits for
	// sources to return before finishing without them.
	Grace time.Duration
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.QueueBatches <= 0 {
		o.QueueBatches = DefaultQueueBatches
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.StatsInterval <= 0 {
		o.StatsInterval = DefaultStatsInterval
	}
	if o.TickInterval <= 0 {
		o.TickInterval = DefaultTickInterval
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	return o
}

// srcState is the decoder goroutine's view of one source.
type srcState struct {
	name        string
	em          *emitter
	counter     sources.Counter // drops inside a live source, when it counts them
	stats       decode.SourceStats
	changed     bool
	lastDropped int64
	// notedDropped and notedAt are the emitter's drop count at the last
	// "dropped" note and when it was sent (see noteDrops).
	notedDropped int64
	notedAt      time.Time
}

// dropNoteInterval is the least time between two "dropped" notes of one
// source: a decoder behind a flood drops on every batch, and a note per
// batch would bury the output it is warning about.
const dropNoteInterval = time.Second

// Run reads every input until all have ended, feeding dec from the
// calling goroutine, then finishes dec. It returns the sources' errors
// joined, each wrapped with the source name. When ctx is cancelled the
// sources stop, dec is still finished (nothing decoded is lost), and Run
// returns nil.
func Run(ctx context.Context, inputs []Input, dec PacketDecoder, opts Options) error {
	opts = opts.withDefaults()
	ch := make(chan *batch, opts.QueueBatches)
	pool := &sync.Pool{New: func() any { return &batch{} }}
	stop := make(chan struct{})
	defer close(stop)

	states := make([]*srcState, len(inputs))
	live := false
	for i, in := range inputs {
		em := &emitter{stop: stop, src: i, live: in.Live, size: opts.BatchSize, out: ch, pool: pool}
		st := &srcState{name: in.Source.Name(), em: em}
		st.stats.Name = st.name
		if s, ok := in.Source.(sizer); ok {
			st.stats.Total = s.Size()
		}
		if c, ok := in.Source.(sources.Counter); ok {
			st.counter = c
		}
		st.changed = true
		states[i] = st
		live = live || in.Live
	}
	for i, in := range inputs {
		go func(src sources.Source, em *emitter) {
			err := runSource(ctx, src, em)
			em.finish(err, stop)
		}(in.Source, states[i].em)
	}
	flushDone := make(chan struct{})
	go flusher(states, opts.FlushInterval, flushDone)
	defer close(flushDone)

	l := &loop{dec: dec, opts: opts, states: states, pool: pool}
	l.run(ctx, ch, live)
	l.noteDrops(time.Now(), true)
	dec.Finish(l.last)
	l.report(true)
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(l.errs...)
}

// runSource runs one source, turning a panic into an error so one broken
// source cannot take the others down.
func runSource(ctx context.Context, src sources.Source, em *emitter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("source panicked: %v", r)
		}
	}()
	return src.Run(ctx, em)
}

// flusher pushes out partial batches that waited too long.
func flusher(states []*srcState, every time.Duration, done <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			for _, st := range states {
				st.em.flushStale(every)
			}
		}
	}
}

// loop is the decoder goroutine's state during Run.
type loop struct {
	dec    PacketDecoder
	opts   Options
	states []*srcState
	pool   *sync.Pool
	last   time.Time // latest packet capture time
	errs   []error
}

func (l *loop) run(ctx context.Context, ch <-chan *batch, live bool) {
	remaining := len(l.states)
	statsT := time.NewTicker(l.opts.StatsInterval)
	defer statsT.Stop()
	var tickC <-chan time.Time
	tk, canTick := l.dec.(ticker)
	if live && canTick {
		t := time.NewTicker(l.opts.TickInterval)
		defer t.Stop()
		tickC = t.C
	}
	be, _ := l.dec.(batchEnder)
	cancelled := ctx.Done()
	var grace <-chan time.Time
	for remaining > 0 {
		select {
		case b := <-ch:
			if l.handle(b) {
				remaining--
			}
			if be != nil {
				be.EndBatch(len(ch) > 0)
			}
		case <-statsT.C:
			l.report(false)
		case now := <-tickC:
			tk.Tick(now)
		case <-cancelled:
			cancelled = nil
			gt := time.NewTimer(l.opts.Grace)
			defer gt.Stop()
			grace = gt.C
		case <-grace:
			// Sources that ignore cancellation are left behind; their
			// emitters drop from now on.
			return
		}
	}
}

// handle processes one batch and reports whether it ended its source.
func (l *loop) handle(b *batch) bool {
	st := l.states[b.src]
	st.changed = true
	for i := range b.pkts {
		p := &b.pkts[i]
		if p.Timestamp.After(l.last) {
			l.last = p.Timestamp
		}
		st.stats.Packets++
		if p.Offset >= 0 {
			st.stats.Bytes = max(st.stats.Bytes, p.Offset+int64(len(p.Data)))
		} else {
			st.stats.Bytes += int64(len(p.Data))
		}
		l.dec.Packet(p)
	}
	for i := range b.traces {
		st.stats.Packets++
		if l.opts.Traces != nil {
			l.opts.Traces.Trace(&b.traces[i])
		}
	}
	if b.status != nil && l.opts.Notes != nil {
		l.opts.Notes.Note(*b.status)
	}
	if b.secret != nil && l.opts.Secrets != nil {
		l.opts.Secrets.Secrets(b.secret.kind, b.secret.data)
	}
	done := b.done
	if done {
		st.stats.Done = true
		if b.err != nil {
			st.stats.Err = b.err.Error()
			l.errs = append(l.errs, fmt.Errorf("%s: %w", st.name, b.err))
			if l.opts.Notes != nil {
				l.opts.Notes.Note(sources.Status{Time: time.Now(), Source: st.name, Level: sources.Error, Kind: "error", Message: b.err.Error()})
			}
		} else if st.stats.Total > 0 && st.stats.Bytes > 0 {
			st.stats.Bytes = st.stats.Total
		}
	}
	l.recycle(b)
	return done
}

// recycle clears a batch (dropping its references to packet data) and
// returns it to the pool.
func (l *loop) recycle(b *batch) {
	clear(b.pkts)
	clear(b.traces)
	*b = batch{pkts: b.pkts[:0], traces: b.traces[:0]}
	l.pool.Put(b)
}

// noteDrops tells the notes (the UI's status line, "dropped" status lines
// in -o json) what live sources lost because the decoder was behind, with
// the count since the previous note: stats lines alone say it only to
// whoever sums them. At most one note per source per dropNoteInterval;
// final sends what is left. Sources that count their own drops (the
// sink's queue, a watched sink) note those themselves.
func (l *loop) noteDrops(now time.Time, final bool) {
	if l.opts.Notes == nil {
		return
	}
	for _, st := range l.states {
		d := st.em.dropped.Load()
		if d == st.notedDropped || (!final && now.Sub(st.notedAt) < dropNoteInterval) {
			continue
		}
		l.opts.Notes.Note(sources.Status{Time: now, Source: st.name, Level: sources.Warning, Kind: "dropped",
			Message: fmt.Sprintf("%d items dropped since the last note: the decoder is behind this live source (%d dropped in total)", d-st.notedDropped, d)})
		st.notedDropped, st.notedAt = d, now
	}
}

// report sends changed statistics (all of them when final) and, while
// running, notes new drops.
func (l *loop) report(final bool) {
	if !final {
		l.noteDrops(time.Now(), false)
	}
	if l.opts.Stats == nil {
		return
	}
	for _, st := range l.states {
		dropped := st.em.dropped.Load()
		if st.counter != nil {
			dropped += st.counter.Counts().Dropped
		}
		if !st.changed && dropped == st.lastDropped && !final {
			continue
		}
		st.changed, st.lastDropped = false, dropped
		s := st.stats
		s.Dropped = dropped
		l.opts.Stats.SetStats(s)
	}
}
