package http2

import (
	"fmt"
	"slices"
	"time"

	"golang.org/x/net/http2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// Bounds on per-connection bookkeeping, so a hostile peer cannot grow it.
const (
	// maxStreams is how many unfinished streams a connection tracks;
	// opening more finalises the oldest as partial. Servers commonly
	// allow 100 to 250 concurrent streams.
	maxStreams = 512
	// closedMemory is how many finished stream ids are remembered, so
	// late frames on them (WINDOW_UPDATE, RST_STREAM, trailing DATA) do
	// not open phantom exchanges.
	closedMemory = 1024
)

// headerBlock is a header block being collected from HEADERS or
// PUSH_PROMISE and its CONTINUATION frames.
type headerBlock struct {
	active    bool
	push      bool
	lost      bool // a fragment could not be kept
	endStream bool
	stream    uint32 // stream of the HEADERS or PUSH_PROMISE frame
	promised  uint32 // PUSH_PROMISE: the stream it reserves
	ts        time.Time
	buf       []byte
}

// handler is the StreamHandler of one HTTP/2 connection.
type handler struct {
	p   *Parser
	c   decode.Conn
	lim decode.Limits
	ts  time.Time // capture time of the bytes being parsed

	rd       [2]*reader // by decode.Direction
	oriented bool       // which side is the client is settled
	handoff  bool       // the connection was upgraded from HTTP/1.1
	// upgradeReq is the HTTP/1.1 request that asked for the upgrade:
	// stream 1's request (RFC 7540 §3.2).
	upgradeReq *decode.Message
	stopped    bool // End was called

	streams    map[uint32]*stream
	order      []*stream // streams in creation order, finished ones removed lazily
	closed     map[uint32]struct{}
	closedRing []uint32
	closedPos  int
	dirty      []*stream
	dec        *body.Decoder // borrowed from the Parser for this connection
}

func newHandler(p *Parser, c decode.Conn) *handler {
	h := &handler{
		p:       p,
		c:       c,
		lim:     c.Limits().WithDefaults(),
		streams: map[uint32]*stream{},
		closed:  map[uint32]struct{}{},
	}
	var joined bool
	if f := c.Flow(); f != nil {
		// A flow that already has a protocol was handed over by it (h2c
		// after an HTTP/1.1 101): both directions start at a boundary.
		h.handoff = f.Proto != "" && f.Proto != Name
		joined = f.Partial && !h.handoff
	}
	if joined {
		h.rd[0], h.rd[1] = newReader(mSeek), newReader(mSeek)
	} else {
		h.rd[0], h.rd[1] = newReader(mPreface), newReader(mHeader)
		h.oriented = true
	}
	return h
}

// Data parses bytes of one direction.
func (h *handler) Data(dir decode.Direction, data []byte, ts time.Time) {
	if h.stopped {
		return
	}
	h.ts = ts
	h.feed(h.rd[dir&1], data)
	h.flushDirty()
}

// Gap accounts for bytes the capture lost in one direction.
func (h *handler) Gap(dir decode.Direction, n int, ts time.Time) {
	if h.stopped {
		return
	}
	h.ts = ts
	h.gap(h.rd[dir&1], n)
	h.flushDirty()
}

// End finalises and publishes every stream still open: partial, or reset
// when the connection was.
func (h *handler) End(state decode.FlowState, ts time.Time) {
	if h.stopped {
		return
	}
	h.ts = ts
	for _, r := range h.rd {
		if r.mode == mData {
			h.dataLost(r)
		}
		if r.block.active {
			h.blockLost(r, frameHeader{typ: http2.FrameContinuation, stream: r.block.stream}, "connection ended inside a header block")
		}
	}
	ids := make([]uint32, 0, len(h.streams))
	for id := range h.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		st := h.streams[id]
		if state == decode.FlowReset {
			h.finalize(st, decode.Reset, "connection reset before the stream ended")
		} else {
			h.finalize(st, decode.Partial, st.unfinished())
		}
	}
	h.dirty = nil
	h.stopped = true
	if h.dec != nil {
		h.p.release(h.dec)
		h.dec = nil
	}
}

// dirOf returns the direction r reads.
func (h *handler) dirOf(r *reader) decode.Direction {
	if r == h.rd[decode.ServerToClient] {
		return decode.ServerToClient
	}
	return decode.ClientToServer
}

// decoder returns the connection's content decoder, borrowed on first use.
func (h *handler) decoder() *body.Decoder {
	if h.dec == nil {
		h.dec = h.p.decoder()
	}
	return h.dec
}

// frame acts on one parsed frame of r. Flow-control, PING and PRIORITY
// frames change nothing a user sees.
func (h *handler) frame(r *reader, f http2.Frame) {
	switch f := f.(type) {
	case *http2.HeadersFrame:
		r.block = headerBlock{active: true, stream: f.StreamID, endStream: f.StreamEnded(), ts: r.ts, buf: r.block.buf[:0]}
		h.fragment(r, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.PushPromiseFrame:
		r.block = headerBlock{active: true, push: true, stream: f.StreamID, promised: f.PromiseID, ts: r.ts, buf: r.block.buf[:0]}
		h.fragment(r, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.ContinuationFrame:
		if !r.block.active || r.block.stream != f.StreamID {
			h.c.Note(fmt.Sprintf("http2: CONTINUATION on stream %d without a header block", f.StreamID))
			h.blockLost(r, r.fh, "stray CONTINUATION")
			return
		}
		h.fragment(r, f.HeaderBlockFragment(), f.HeadersEnded())
	case *http2.RSTStreamFrame:
		h.rst(f.StreamID, f.ErrCode)
	case *http2.GoAwayFrame:
		h.goaway(r, f.LastStreamID, f.ErrCode, f.DebugData())
	case *http2.SettingsFrame:
		if v, ok := f.Value(http2.SettingMaxFrameSize); ok && !f.IsAck() {
			// The sender accepts frames this large from its peer.
			h.rd[h.dirOf(r).Reverse()].maxFrame = min(max(v, defaultMaxFrame), 1<<24-1)
		}
	}
}

// fragment adds a header block fragment, decoding the block when it ends.
// A block over Limits.MaxHeaderBytes is dropped whole, and the HPACK
// table with it.
func (h *handler) fragment(r *reader, frag []byte, end bool) {
	b := &r.block
	if !b.lost {
		if len(b.buf)+len(frag) > h.lim.MaxHeaderBytes {
			b.lost = true
			b.buf = b.buf[:0]
		} else {
			b.buf = append(b.buf, frag...)
		}
	}
	if !end {
		return
	}
	if b.lost {
		h.blockLost(r, frameHeader{typ: http2.FrameContinuation, stream: b.stream}, fmt.Sprintf("header block over %d bytes", h.lim.MaxHeaderBytes))
		return
	}
	blk := *b
	b.active = false
	fields, res, err := r.hp.decode(blk.buf, nil, h.lim.MaxHeaderBytes)
	if cap(b.buf) > 64<<10 {
		b.buf = nil
	}
	h.p.unknownFields.Add(int64(res.unknown))
	var problems []string
	if res.unknown > 0 {
		problems = append(problems, fmt.Sprintf("%d header fields unknown (HPACK state not seen)", res.unknown))
	}
	if res.dropped > 0 {
		problems = append(problems, fmt.Sprintf("%d header fields over the %d-byte limit", res.dropped, h.lim.MaxHeaderBytes))
	}
	if err != nil {
		problems = append(problems, fmt.Sprintf("header block on stream %d: %v", blk.stream, err))
	}
	if !blk.push {
		// A pushed request comes from the server: it says nothing about
		// which side is which.
		h.orient(r, fields)
	}
	h.headers(r, &blk, fields, problems)
}

// orient settles which side is the client from the first request or
// response header block of a connection joined mid-stream.
func (h *handler) orient(r *reader, fields []decode.Header) {
	if h.oriented || len(fields) == 0 {
		return
	}
	var req, resp bool
	for _, f := range fields {
		switch f.Name {
		case ":method":
			req = true
		case ":status":
			resp = true
		}
	}
	if req == resp {
		return
	}
	if dir := h.dirOf(r); req != (dir == decode.ClientToServer) {
		h.swap()
	}
	h.oriented = true
}

// sawPreface orients the connection by the client preface found while
// searching for frame boundaries.
func (h *handler) sawPreface(r *reader) {
	if !h.oriented && h.dirOf(r) != decode.ClientToServer {
		h.swap()
	}
	h.oriented = true
}

// swap tells the transport that the side taken for the client is the
// server, and turns the streams seen so far around.
func (h *handler) swap() {
	h.rd[0], h.rd[1] = h.rd[1], h.rd[0]
	h.c.SwapDirections()
	for _, st := range h.streams {
		st.turn()
	}
}

// blockLost records a header block that could not be decoded. The HPACK
// table is forgotten, because the block may have inserted entries.
func (h *handler) blockLost(r *reader, fh frameHeader, why string) {
	blk := r.block
	r.block = headerBlock{buf: blk.buf[:0]}
	r.hp.forget()
	sid, end, dir := fh.stream, false, h.dirOf(r)
	switch {
	case blk.active && blk.push:
		sid, dir = blk.promised, decode.ClientToServer
	case blk.active:
		sid, end = blk.stream, blk.endStream
	case fh.typ == http2.FrameHeaders:
		end = fh.flags.Has(http2.FlagHeadersEndStream)
	case fh.typ == http2.FramePushPromise:
		return // the promised stream is unknown
	}
	if sid == 0 {
		return
	}
	st := h.stream(sid, r.ts)
	if st == nil {
		return
	}
	st.lostHeaders(h, dir, "header block lost: "+why)
	if end {
		h.endSide(st, dir)
	}
	h.markDirty(st)
}

// rst ends a stream reset by either peer. RST_STREAM(NO_ERROR) after a
// complete response is the server telling the client to stop sending
// (RFC 9113 §8.1), not a failure.
func (h *handler) rst(sid uint32, code http2.ErrCode) {
	st := h.streams[sid]
	if st == nil {
		return
	}
	st.last = h.ts
	if code == http2.ErrCodeNo && st.ended[decode.ServerToClient] {
		h.finalize(st, decode.Complete, "")
		return
	}
	h.finalize(st, decode.Reset, "RST_STREAM "+code.String())
}

// goaway ends the streams the GOAWAY's receiver opened above the last
// stream id the sender processed: they never ran.
func (h *handler) goaway(r *reader, last uint32, code http2.ErrCode, debug []byte) {
	from := "client"
	if h.dirOf(r) == decode.ServerToClient {
		from = "server"
	}
	if code != http2.ErrCodeNo {
		msg := fmt.Sprintf("http2: GOAWAY %v from %s", code, from)
		if len(debug) > 0 {
			msg += fmt.Sprintf(": %q", debug[:min(len(debug), 200)])
		}
		h.c.Note(msg)
	}
	// Client-initiated streams are odd; the server sends GOAWAY about them.
	odd := from == "server"
	ids := make([]uint32, 0, len(h.streams))
	for id := range h.streams {
		if id > last && (id%2 == 1) == odd {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		h.finalize(h.streams[id], decode.Reset, "GOAWAY "+code.String())
	}
}

// isClosed reports whether id belongs to a stream already finalised.
func (h *handler) isClosed(id uint32) bool {
	_, ok := h.closed[id]
	return ok
}

// remember records a finalised stream id, forgetting the oldest beyond
// closedMemory.
func (h *handler) remember(id uint32) {
	if len(h.closedRing) < closedMemory {
		h.closedRing = append(h.closedRing, id)
	} else {
		delete(h.closed, h.closedRing[h.closedPos])
		h.closedRing[h.closedPos] = id
		h.closedPos = (h.closedPos + 1) % closedMemory
	}
	h.closed[id] = struct{}{}
}

func (h *handler) markDirty(st *stream) {
	if !st.dirty && !st.final {
		st.dirty = true
		h.dirty = append(h.dirty, st)
	}
}

// flushDirty publishes changed pending exchanges once per call, so frames
// that arrive together cause one publication.
func (h *handler) flushDirty() {
	for i, st := range h.dirty {
		if st.dirty && !st.final {
			st.x.End = st.last
			h.c.Publish(st.x)
		}
		st.dirty = false
		h.dirty[i] = nil
	}
	h.dirty = h.dirty[:0]
}

// UpgradeRequest is told by decode/http1 which HTTP/1.1 request asked for
// the upgrade, before any HTTP/2 bytes: stream 1 answers it, so its
// exchange shows that request (method, target, host) with the HTTP/2
// response, as the 101 exchange does with the 101.
func (h *handler) UpgradeRequest(r *decode.Message) {
	if h.handoff {
		h.upgradeReq = r
	}
}
