package pipeline

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapview/tapview/sources"
)

// batch is what travels from a source's emitter to the decoder goroutine:
// packets or traces (never both, so order is kept), or one status, one
// block of secrets, or the end of the source.
type batch struct {
	src    int
	pkts   []sources.Packet
	traces []sources.Trace
	status *sources.Status
	secret *secret
	done   bool
	err    error
}

type secret struct {
	kind uint32
	data []byte
}

// emitter is the sources.Emitter (and TraceEmitter) given to one source.
// It batches items and sends full batches to the decoder: a file source
// waits when the decoder is behind, a live source drops and counts.
type emitter struct {
	// stop closes when the decoder stops reading (after the grace period
	// that follows cancellation). Until then a blocking send waits, so
	// what a source drains after cancellation (an agent's last packets
	// and its CAPTURE_STOPPED note) still reaches the decoder.
	stop  <-chan struct{}
	src   int
	live  bool
	size  int
	out   chan<- *batch
	pool  *sync.Pool
	mu    sync.Mutex
	cur   *batch
	since time.Time // when the first item of cur was added

	dropped atomic.Int64
}

func (e *emitter) newBatch() *batch {
	b := e.pool.Get().(*batch)
	b.src = e.src
	return b
}

// Packet implements sources.Emitter.
func (e *emitter) Packet(p sources.Packet) {
	e.add(func(b *batch) int { b.pkts = append(b.pkts, p); return len(b.pkts) },
		func(b *batch) (mine, other int) { return len(b.pkts), len(b.traces) })
}

// Trace implements sources.TraceEmitter.
func (e *emitter) Trace(t sources.Trace) {
	e.add(func(b *batch) int { b.traces = append(b.traces, t); return len(b.traces) },
		func(b *batch) (mine, other int) { return len(b.traces), len(b.pkts) })
}

// add appends one item (packets and traces never share a batch, so order
// is kept): push adds it and returns the batch's new count of its kind,
// lens tells how many items of its kind and of the other kind the batch
// holds. A full batch goes out; a live source drops (and counts) the item
// when the decoder has not taken the previous full batch.
func (e *emitter) add(push func(*batch) int, lens func(*batch) (mine, other int)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur != nil {
		if _, other := lens(e.cur); other > 0 {
			e.flushLocked(true)
		}
	}
	if e.live && e.cur != nil {
		if mine, _ := lens(e.cur); mine >= e.size && !e.flushLocked(false) {
			// The last full batch could not be sent: the decoder is behind.
			e.dropped.Add(1)
			return
		}
	}
	if e.cur == nil {
		e.cur = e.newBatch()
		e.since = time.Now()
	}
	if push(e.cur) >= e.size {
		e.flushLocked(!e.live)
	}
}

// Status implements sources.Emitter. Notes are never dropped: they say
// what went wrong, which matters most when the decoder is behind.
func (e *emitter) Status(s sources.Status) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushLocked(true)
	b := e.newBatch()
	b.status = &s
	e.send(b, true)
}

// Secrets forwards key material a capture file embeds (see
// pcapfile.SecretsEmitter), in order with the packets around it.
func (e *emitter) Secrets(kind uint32, data []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flushLocked(true)
	b := e.newBatch()
	b.secret = &secret{kind: kind, data: data}
	e.send(b, true)
}

// flushLocked sends the current batch; it reports whether it went out
// (or there was nothing to send).
func (e *emitter) flushLocked(block bool) bool {
	if e.cur == nil {
		return true
	}
	ok := e.send(e.cur, block)
	if ok || block {
		// Sent, or dropped because the run was cancelled.
		e.cur = nil
	}
	return ok
}

// flushStale sends a partial batch that has waited at least age, so a
// slow trickle of packets still reaches the decoder promptly. It never
// waits: a busy emitter is sending anyway.
func (e *emitter) flushStale(age time.Duration) {
	if !e.mu.TryLock() {
		return
	}
	defer e.mu.Unlock()
	if e.cur != nil && time.Since(e.since) >= age {
		e.flushLocked(false)
	}
}

// send hands b to the decoder. With block it waits for room, giving up
// (and dropping b) only when the decoder stopped reading.
func (e *emitter) send(b *batch, block bool) bool {
	if !block {
		select {
		case e.out <- b:
			return true
		default:
			return false
		}
	}
	select {
	case e.out <- b:
		return true
	case <-e.stop:
		e.dropped.Add(int64(len(b.pkts) + len(b.traces)))
		return false
	}
}

// finish sends what is left and the end marker. The end marker must
// arrive even after cancellation (the decoder waits for it), so it waits
// on the stop channel, closed only when the decoder gives up waiting.
func (e *emitter) finish(err error, stop <-chan struct{}) {
	e.mu.Lock()
	e.flushLocked(true)
	e.mu.Unlock()
	b := e.newBatch()
	b.done, b.err = true, err
	select {
	case e.out <- b:
	case <-stop:
	}
}
