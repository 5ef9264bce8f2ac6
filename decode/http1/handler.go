package http1

import (
	"time"

	"github.com/tapview/tapview/decode"
)

// state is where a direction's parser is within the message stream.
type state uint8

const (
	stStart      state = iota // expecting a start line
	stSeek                    // resynchronising: skipping to a plausible start line
	stBody                    // Content-Length body, remaining bytes left
	stChunkSize               // a chunk-size line
	stChunkData               // chunk data, remaining bytes left
	stChunkEnd                // the CRLF after chunk data
	stTrailers                // trailer fields after the last chunk
	stUntilClose              // body delimited by the end of the connection
	stHold                    // bytes after an Upgrade/CONNECT request, kept until the response decides
	stStopped                 // not HTTP any more (tunnel, unsupported upgrade): bytes are counted only
	stHandoff                 // bytes go to the handler of the upgraded protocol
)

// Bounds on per-connection bookkeeping, so a hostile peer cannot grow it.
const (
	maxQueue     = 1024    // pipelined requests awaiting responses
	maxEarly     = 64      // responses awaiting their requests
	maxChunkLine = 4096    // a chunk-size line with extensions
	maxSeekLine  = 8 << 10 // a candidate start line while resynchronising
)

// side is the parser state of one direction.
type side struct {
	dir   decode.Direction
	st    state
	ts    time.Time // capture time of the bytes being parsed
	pend  []byte    // unconsumed bytes carried to the next Data call
	pendT time.Time // capture time of pend's first byte
	// pendOld counts the bytes of pend that came from earlier calls (at
	// pendT); onPend is set while steps run over pend.
	pendOld int
	onPend  bool

	scanned   int  // bytes of the pending header block already checked for its end
	lines     int  // line ends within those bytes (the start line's included)
	lineStart bool // seek: the next byte starts a line
	seekNoted bool // a resync note was already recorded for this episode
	synced    bool // the direction is at a known message boundary

	msg       *decode.Message // message being parsed
	x         *xch            // its exchange
	shared    bool            // msg was published and must be copied before changes
	remaining int64           // bytes left in the body or chunk
	interim   bool            // msg is a 1xx response
	partial   bool            // msg lost bytes to a gap
	tunnel    bool            // msg is a 2xx answer to CONNECT

	handoffAfter bool  // switch to stHandoff once the current request completes
	skipped      int64 // bytes counted but not parsed (stStopped)
}

// handler is the StreamHandler of one HTTP/1 connection.
type handler struct {
	p   *Parser
	c   decode.Conn
	lim decode.Limits

	sides    [2]*side
	oriented bool // a message was parsed, so directions are settled
	protoSet bool

	queue    []*xch // requests awaiting their final response, oldest first
	early    []*xch // responses that arrived before their request
	live     []*xch // every exchange not yet final, in creation order
	dirty    []*xch // exchanges to publish as pending at the end of the call
	skipResp int    // responses to drop because their requests were evicted
	holdFor  *xch   // the Upgrade/CONNECT request the client direction is held for

	liveCompact int // len(live) at which finished exchanges are filtered out

	next decode.StreamHandler // upgraded protocol's handler
}

func newHandler(p *Parser, c decode.Conn) *handler {
	h := &handler{p: p, c: c, lim: c.Limits().WithDefaults(), liveCompact: 256}
	joined := false
	if f := c.Flow(); f != nil {
		joined = f.Partial
	}
	for d := range h.sides {
		s := &side{dir: decode.Direction(d)}
		if joined {
			s.st, s.lineStart = stSeek, true
		} else {
			s.synced = true
		}
		h.sides[d] = s
	}
	return h
}

// Data parses bytes of one direction.
func (h *handler) Data(dir decode.Direction, data []byte, ts time.Time) {
	s := h.sides[dir&1]
	s.ts = ts
	h.feed(s, data)
	if s.dir == decode.ClientToServer {
		h.orphanEarly(s)
	}
	h.flushDirty()
}

// Gap marks the message in progress as partial; a known-length gap inside
// a body is skipped exactly, anything else resynchronises.
func (h *handler) Gap(dir decode.Direction, n int, ts time.Time) {
	s := h.sides[dir&1]
	s.ts = ts
	h.gap(s, n)
	h.flushDirty()
}

// End finalises and publishes every exchange still held.
func (h *handler) End(st decode.FlowState, ts time.Time) {
	for _, s := range h.sides {
		s.ts = ts
		h.endSide(s, st)
	}
	h.finishAll(st)
	if h.next != nil {
		h.next.End(st, ts)
	}
}

// pendLimit bounds the carried-over bytes: a header block at most.
func (h *handler) pendLimit() int { return h.lim.MaxHeaderBytes + 2 }

// feed parses data, carrying an incomplete tail over to the next call.
func (h *handler) feed(s *side, data []byte) {
	for len(data) > 0 {
		switch s.st {
		case stHandoff:
			h.next.Data(s.dir, data, s.ts)
			return
		case stStopped:
			s.skipped += int64(len(data))
			return
		}
		if len(s.pend) == 0 && s.st != stHold {
			n := h.run(s, data)
			data = data[n:]
			if len(data) > 0 && s.st != stHandoff && s.st != stStopped {
				// Keep the incomplete tail; steps never leave more than a
				// header block, but anything beyond is parsed on from pend.
				k := min(len(data), h.pendLimit())
				s.pendT = s.ts
				s.pend = append(s.pend[:0], data[:k]...)
				s.pendOld = k
				data = data[k:]
			}
			continue
		}
		if len(s.pend) == 0 {
			s.pendT = s.ts
		}
		s.pendOld = len(s.pend)
		take := min(len(data), h.pendLimit()-len(s.pend), max(4096, 2*len(s.pend)))
		if take <= 0 {
			// Steps never leave a full buffer behind; never spin if one did.
			h.resync(s, "http1: parser made no progress")
			s.pend, s.pendOld = s.pend[:0], 0
			continue
		}
		s.pend = append(s.pend, data[:take]...)
		data = data[take:]
		if s.st == stHold {
			if len(s.pend) < h.pendLimit() {
				continue
			}
			// The response never settled the upgrade; parse on as HTTP/1.
			s.st = stStart
		}
		h.runPend(s)
	}
}

// runPend parses the carried-over bytes of s.
func (h *handler) runPend(s *side) {
	s.onPend = true
	n := h.run(s, s.pend)
	s.onPend = false
	if n == 0 && len(s.pend) >= h.pendLimit() {
		// Steps guarantee progress on a full buffer; this is a safety net.
		h.resync(s, "http1: parser made no progress")
		n = len(s.pend)
	}
	rest := s.pend[min(n, len(s.pend)):]
	switch s.st {
	case stHandoff:
		s.pend = s.pend[:0]
		if len(rest) > 0 {
			h.next.Data(s.dir, rest, s.ts)
		}
	case stStopped:
		s.skipped += int64(len(rest))
		s.pend = s.pend[:0]
	default:
		if n >= s.pendOld {
			s.pendT = s.ts
		}
		s.pend = s.pend[:copy(s.pend, rest)]
		if cap(s.pend) > 64<<10 && len(s.pend) < 1<<10 {
			s.pend = append([]byte(nil), s.pend...)
		}
	}
	s.pendOld = len(s.pend)
}

// firstTS is the capture time of b's first byte, where b is the slice a
// step was given.
func (s *side) firstTS(b []byte) time.Time {
	if s.onPend && len(s.pend)-len(b) < s.pendOld {
		return s.pendT
	}
	return s.ts
}

// run applies steps until b is consumed or a step needs more bytes.
func (h *handler) run(s *side, b []byte) int {
	off := 0
	for off < len(b) {
		before := s.st
		n := h.step(s, b[off:])
		off += n
		if s.st == stHandoff || s.st == stStopped || s.st == stHold {
			break
		}
		if n == 0 && s.st == before {
			break
		}
	}
	return off
}

func (h *handler) step(s *side, b []byte) int {
	switch s.st {
	case stStart:
		return h.stepStart(s, b)
	case stSeek:
		return h.stepSeek(s, b)
	case stBody, stChunkData:
		return h.stepData(s, b)
	case stChunkSize:
		return h.stepChunkSize(s, b)
	case stChunkEnd:
		return h.stepChunkEnd(s, b)
	case stTrailers:
		return h.stepTrailers(s, b)
	case stUntilClose:
		h.appendBody(s, b)
		return len(b)
	}
	return 0
}

// swap tells the transport the client is the other side, once, when the
// first message shows the orientation was wrong.
func (h *handler) swap() {
	h.sides[0], h.sides[1] = h.sides[1], h.sides[0]
	h.sides[0].dir, h.sides[1].dir = decode.ClientToServer, decode.ServerToClient
	h.c.SwapDirections()
	h.oriented = true
}

// resync abandons the current position and looks for the next start line.
func (h *handler) resync(s *side, note string) {
	if note != "" && !s.seekNoted {
		h.c.Note(note)
		s.seekNoted = true
	}
	s.st = stSeek
	s.lineStart = false
	s.scanned = 0
}
