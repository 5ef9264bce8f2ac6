// Package taptrace turns Envoy tap traces into the decoder's model: HTTP
// traces become Exchanges directly (streamed segments are merged by trace
// id), and socket traces are replayed as byte streams through the same
// TCP protocol parsers as captured packets.
//
// A Decoder is owned by the decoder goroutine, like the TCP decoder it
// feeds.
package taptrace

import (
	"container/list"
	"net/netip"
	"reflect"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
	"github.com/tapview/tapview/sources"
)

// Stream is one synthetic TCP connection of the TCP decoder
// (decode/tcp.Stream): bytes go through protocol detection and parsers as
// if they had been captured.
type Stream interface {
	Data(dir decode.Direction, data []byte, ts time.Time)
	// Gap reports bytes the tap did not record (n < 0: unknown size).
	Gap(dir decode.Direction, n int, ts time.Time)
	Close(state decode.FlowState, ts time.Time)
}

// StreamOpener opens Streams for socket traces; decode/tcp.Decoder is the
// real one (through Opener).
type StreamOpener interface {
	OpenStream(source string, client, server netip.AddrPort, ts time.Time) Stream
}

// Opener adapts a method returning a concrete stream type, such as
// (*tcp.Decoder).OpenStream, to a StreamOpener. A nil stream (typed or
// not) means the connection is not decoded.
func Opener[S Stream](open func(source string, client, server netip.AddrPort, ts time.Time) S) StreamOpener {
	return openerFunc[S](open)
}

type openerFunc[S Stream] func(string, netip.AddrPort, netip.AddrPort, time.Time) S

// OpenStream calls the adapted method, turning a typed nil into nil.
func (f openerFunc[S]) OpenStream(source string, client, server netip.AddrPort, ts time.Time) Stream {
	s := f(source, client, server, ts)
	if v := reflect.ValueOf(s); !v.IsValid() || (v.Kind() == reflect.Pointer && v.IsNil()) {
		return nil
	}
	return s
}

// Defaults for Options fields left zero.
const (
	// DefaultMaxPending bounds streamed traces (HTTP and socket) awaiting
	// more segments; past it the least recently active one is finalised.
	DefaultMaxPending = 10000
	// DefaultMaxPendingBytes bounds the body bytes held by streamed HTTP
	// traces awaiting more segments; past it the least recently active
	// ones are finalised.
	DefaultMaxPendingBytes = 256 << 20
	// DefaultIdleTimeout finalises a streamed trace without segments for
	// this long (Envoy marks no end of an HTTP stream).
	DefaultIdleTimeout = 2 * time.Minute
)

// Options bound what the Decoder keeps. Zero values take the defaults.
type Options struct {
	// Limits caps bodies, decoded sizes and gRPC messages like the packet
	// parsers' limits.
	Limits decode.Limits
	// MaxPending bounds streamed traces kept open at once.
	MaxPending int
	// MaxPendingBytes bounds the body bytes those traces hold.
	MaxPendingBytes int64
	// IdleTimeout is how long a streamed trace may go without segments.
	IdleTimeout time.Duration
}

// Stats counts what the Decoder did, for the status bar and tests.
type Stats struct {
	Traces       int64 // traces given to Trace
	HTTPBuffered int64
	HTTPSegments int64
	SocketTraces int64 // buffered socket traces
	SocketSegs   int64 // streamed socket segments
	Exchanges    int64 // exchanges created
	Evicted      int64 // streamed traces finalised early because MaxPending or MaxPendingBytes was reached
	Expired      int64 // streamed traces finalised after IdleTimeout
	Empty        int64 // traces holding none of the four kinds
}

// Decoder turns traces into Exchanges and socket streams.
type Decoder struct {
	out     decode.Output
	streams StreamOpener
	nextID  func() uint64
	opts    Options
	lim     decode.Limits
	body    *body.Decoder
	stats   Stats

	pending map[key]*list.Element // of *entry
	// pendingBytes sums the body bytes of pending streamed exchanges.
	pendingBytes int64
	lru          *list.List // front = most recently active
	lastSweep    time.Time
}

// key identifies a streamed trace: Envoy's trace ids are per Envoy (and
// per tap), so the source and node are part of it.
type key struct {
	source, node string
	socket       bool
	id           uint64
}

// entry is one streamed trace awaiting more segments.
type entry struct {
	key  key
	seen time.Time // arrival of the latest segment
	// bytes counts the body bytes this entry holds (pendingBytes share).
	bytes int64
	http  *streamedHTTP
	sock  *streamedSocket
}

// NewDecoder publishes exchanges to out and opens socket streams with
// streams (nil: socket traces are counted but not decoded). nextID
// allocates exchange IDs; pass the TCP decoder's allocator so IDs never
// collide with packet-decoded exchanges.
func NewDecoder(out decode.Output, streams StreamOpener, nextID func() uint64, opts Options) *Decoder {
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxPendingBytes <= 0 {
		opts.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	return &Decoder{
		out:     out,
		streams: streams,
		nextID:  nextID,
		opts:    opts,
		lim:     opts.Limits.WithDefaults(),
		body:    &body.Decoder{},
		pending: make(map[key]*list.Element),
		lru:     list.New(),
	}
}

// Stats returns the counters so far.
func (d *Decoder) Stats() Stats { return d.stats }

// Pending returns how many streamed traces await more segments.
func (d *Decoder) Pending() int { return d.lru.Len() }

// Trace decodes one trace. It never keeps t, only what it points to.
func (d *Decoder) Trace(t *sources.Trace) {
	if t == nil || t.Wrapper == nil {
		return
	}
	d.stats.Traces++
	w := t.Wrapper
	switch {
	case w.GetHttpBufferedTrace() != nil:
		d.stats.HTTPBuffered++
		d.httpBuffered(t, w.GetHttpBufferedTrace())
	case w.GetHttpStreamedTraceSegment() != nil:
		d.stats.HTTPSegments++
		d.httpSegment(t, w.GetHttpStreamedTraceSegment())
	case w.GetSocketBufferedTrace() != nil:
		d.stats.SocketTraces++
		d.socketBuffered(t, w.GetSocketBufferedTrace())
	case w.GetSocketStreamedTraceSegment() != nil:
		d.stats.SocketSegs++
		d.socketSegment(t, w.GetSocketStreamedTraceSegment())
	default:
		d.stats.Empty++
	}
	if t.Arrival.Sub(d.lastSweep) >= time.Second {
		d.lastSweep = t.Arrival
		d.Expire(t.Arrival)
	}
}

// Expire finalises streamed traces that had no segment for IdleTimeout
// before now (arrival time). The pipeline may call it from its ticker so
// an idle sink still completes exchanges.
func (d *Decoder) Expire(now time.Time) {
	for e := d.lru.Back(); e != nil; e = d.lru.Back() {
		en := e.Value.(*entry)
		if now.Sub(en.seen) < d.opts.IdleTimeout {
			return
		}
		d.stats.Expired++
		d.finish(en, decode.FlowTimedOut)
	}
}

// Flush finalises every streamed trace still open, at the end of input.
func (d *Decoder) Flush() {
	for e := d.lru.Back(); e != nil; e = d.lru.Back() {
		d.finish(e.Value.(*entry), decode.FlowOpen)
	}
}

// lookup returns the pending entry of k, creating it (and evicting the
// least recently active one past MaxPending) when create is set.
func (d *Decoder) lookup(k key, seen time.Time, create bool) *entry {
	if e, ok := d.pending[k]; ok {
		en := e.Value.(*entry)
		if seen.After(en.seen) {
			en.seen = seen
		}
		d.lru.MoveToFront(e)
		return en
	}
	if !create {
		return nil
	}
	for d.lru.Len() >= d.opts.MaxPending {
		d.stats.Evicted++
		d.finish(d.lru.Back().Value.(*entry), decode.FlowTimedOut)
	}
	en := &entry{key: k, seen: seen}
	d.pending[k] = d.lru.PushFront(en)
	return en
}

// held records n more body bytes held by the pending entry en, and
// finalises the least recently active other entries while the total is
// over the bound.
func (d *Decoder) held(en *entry, n int) {
	en.bytes += int64(n)
	d.pendingBytes += int64(n)
	for d.pendingBytes > d.opts.MaxPendingBytes {
		back := d.lru.Back()
		if back == nil || back.Value.(*entry) == en {
			return
		}
		d.stats.Evicted++
		d.finish(back.Value.(*entry), decode.FlowTimedOut)
	}
}

// finish finalises en and forgets it. state is how a socket stream ends
// (timeout for idle or evicted ones, open at end of input).
func (d *Decoder) finish(en *entry, state decode.FlowState) {
	if e, ok := d.pending[en.key]; ok {
		d.lru.Remove(e)
		delete(d.pending, en.key)
	}
	d.pendingBytes -= en.bytes
	en.bytes = 0
	switch {
	case en.http != nil:
		d.finishHTTP(en.http, state != decode.FlowOpen)
	case en.sock != nil:
		en.sock.close(state, en.sock.last)
	}
}

// traceSource names where a trace came from on its exchanges: the sink or
// file, and the sending Envoy's node when known.
func traceSource(t *sources.Trace) string {
	if t.Node == "" {
		return t.Source
	}
	return t.Source + "/" + t.Node
}
