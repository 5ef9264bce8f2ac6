package ws

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
)

// side is the frame parser of one direction.
type side struct {
	dir        decode.Direction
	fromClient bool

	hdr  [maxHeader]byte
	hn   int  // header bytes collected
	inFr bool // a header was parsed; payload bytes follow
	fh   frameHeader
	got  uint64    // payload bytes of the current frame seen (or skipped)
	data []byte    // kept payload of the current frame, unmasked
	miss bool      // bytes of the current frame were lost to a gap
	at   time.Time // capture time of the frame's first byte

	inMsg      bool // a fragmented message is in progress
	compressed bool // the message in progress is permessage-deflate
	comp       []byte
	compCut    bool // comp lost bytes (over the cap, or a gap)
	inf        *inflater

	lost bool // framing lost after a gap; waiting for a plausible frame
}

// handler turns the bytes of one upgraded connection into WebSocket
// frames on a "ws" exchange.
type handler struct {
	c   decode.Conn
	lim decode.Limits

	x       *decode.Exchange
	kept    int64 // Data bytes held by x's parts
	started bool
	dirty   bool
	closes  [2]bool
	gapped  bool // x lost bytes to a gap
	noted   map[string]bool

	sides [2]*side
}

func newHandler(c decode.Conn) *handler {
	h := &handler{c: c, lim: c.Limits().WithDefaults(), noted: map[string]bool{}}
	for d := range h.sides {
		h.sides[d] = &side{dir: decode.Direction(d), fromClient: d == int(decode.ClientToServer)}
	}
	h.x = h.newExchange()
	return h
}

func (h *handler) newExchange() *decode.Exchange {
	x := h.c.NewExchange(Name)
	x.Request = &decode.Message{}
	x.Response = &decode.Message{}
	h.kept = 0
	h.gapped = false
	return x
}

// Data parses frames of one direction and publishes what changed.
func (h *handler) Data(dir decode.Direction, data []byte, ts time.Time) {
	h.start(ts)
	s := h.sides[dir&1]
	if s.lost {
		if s.inFr || s.hn > 0 || !plausibleStart(data, s.fromClient) {
			return
		}
		s.lost = false
	}
	for len(data) > 0 && !s.lost {
		if !s.inFr {
			data = h.readHeader(s, data, ts)
			continue
		}
		data = h.readPayload(s, data, ts)
	}
	h.flush()
}

func (h *handler) start(ts time.Time) {
	if !h.started {
		h.started = true
		h.x.Start = ts
	}
}

// readHeader collects header bytes; once complete, the frame begins.
func (h *handler) readHeader(s *side, data []byte, ts time.Time) []byte {
	if s.hn == 0 {
		s.at = ts
	}
	need := 2
	if s.hn >= 2 {
		need = headerSize(s.hdr[1])
	}
	n := copy(s.hdr[s.hn:need], data)
	s.hn += n
	data = data[n:]
	if s.hn < 2 || s.hn < headerSize(s.hdr[1]) {
		return data
	}
	fh, err := parseFrameHeader(s.hdr[:s.hn])
	s.hn = 0
	if err != nil {
		h.loseSync(s, err.Error())
		return nil
	}
	if v := fh.violation(s.inMsg); v != "" {
		h.protocolError(v)
	}
	s.fh, s.inFr, s.got, s.miss = fh, true, 0, false
	s.data = nil
	switch {
	case fh.opcode == opText || fh.opcode == opBinary:
		// A new message; one still in progress is abandoned.
		s.inMsg = true
		s.compressed = fh.rsv&rsv1 != 0
		s.comp, s.compCut = s.comp[:0], false
	case fh.opcode == opContinuation && !s.inMsg:
		// Its start was missed: keep its bytes as they are.
		s.inMsg, s.compressed = true, false
	}
	if fh.length == 0 {
		h.frameDone(s, ts)
	}
	return data
}

// readPayload consumes payload bytes of the current frame, unmasking
// them into the frame's kept data (or the compressed message buffer).
func (h *handler) readPayload(s *side, data []byte, ts time.Time) []byte {
	left := s.fh.length - s.got
	n := len(data)
	if uint64(n) > left {
		n = int(left)
	}
	chunk := data[:n]
	if s.inMsg && s.compressed && s.fh.data() {
		room := h.lim.MaxBody - len(s.comp)
		k := min(room, n)
		if k < n {
			s.compCut = true
		}
		if k > 0 {
			base := len(s.comp)
			s.comp = append(s.comp, chunk[:k]...)
			s.unmask(s.comp[base:], s.got)
		}
	} else {
		room := h.lim.MaxBody - len(s.data)
		if k := min(room, n); k > 0 {
			if s.data == nil {
				s.data = make([]byte, 0, min(s.fh.length, uint64(h.lim.MaxBody), 64<<10))
			}
			base := len(s.data)
			s.data = append(s.data, chunk[:k]...)
			s.unmask(s.data[base:], s.got)
		}
	}
	s.got += uint64(n)
	if s.got == s.fh.length {
		h.frameDone(s, ts)
	}
	return data[n:]
}

// unmask XORs p, which starts at payload offset off, with the frame's
// masking key, eight bytes at a time where it can.
func (s *side) unmask(p []byte, off uint64) {
	if !s.fh.masked {
		return
	}
	k := s.fh.key
	j := int(off & 3)
	if len(p) >= 16 {
		var w [8]byte
		for i := range w {
			w[i] = k[(j+i)&3]
		}
		kw := binary.LittleEndian.Uint64(w[:])
		for len(p) >= 8 {
			binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^kw)
			p = p[8:]
		}
	}
	for i := range p {
		p[i] ^= k[j]
		j = (j + 1) & 3
	}
}

// frameDone turns a complete frame into a Part.
func (h *handler) frameDone(s *side, ts time.Time) {
	fh := &s.fh
	s.inFr = false
	p := decode.Part{
		Time:       s.at,
		Kind:       fh.kind(),
		Size:       int64(fh.length),
		FromClient: s.fromClient,
		Truncated:  s.miss,
	}
	msg := h.x.Response
	if s.fromClient {
		msg = h.x.Request
	}
	switch {
	case fh.control():
		p.Data = s.data
		if fh.opcode == opClose {
			p.Data = closeText(s.data)
			h.closes[s.dir&1] = true
		}
		h.addDecoded(s, int64(len(s.data)))
	case s.inMsg && s.compressed && fh.data():
		p.Compressed = true
		if fh.fin {
			p.Data, p.Truncated = h.inflate(s, msg)
		}
	default:
		p.Data = s.data
		p.Truncated = p.Truncated || uint64(len(s.data)) < fh.length
		h.addDecoded(s, int64(fh.length))
	}
	s.data = nil
	if fh.data() && fh.fin {
		s.inMsg, s.compressed = false, false
	}
	h.addPart(p, ts)
}

// inflate decodes the finished compressed message of s.
func (h *handler) inflate(s *side, msg *decode.Message) ([]byte, bool) {
	if s.inf == nil {
		s.inf = &inflater{}
	}
	wasStale := s.inf.stale
	out, total, err := s.inf.inflate(s.comp, h.lim.MaxBody, h.lim.MaxDecoded)
	s.comp = s.comp[:0]
	if cap(s.comp) > 64<<10 {
		s.comp = nil // do not hold a large message's buffer for the connection's life
	}
	cut := s.compCut || int64(len(out)) < total
	if s.compCut {
		s.inf.stale = true
	}
	if err != nil {
		if msg.DecodeError == "" {
			msg.DecodeError = fmt.Sprintf("permessage-deflate: %v", err)
			if wasStale {
				msg.DecodeError += " (an earlier message was cut, so the shared history is unknown)"
			}
		}
		cut = true
	}
	h.addDecoded(s, total)
	return out, cut
}

func (h *handler) addDecoded(s *side, n int64) {
	m := h.x.Response
	if s.fromClient {
		m = h.x.Request
	}
	m.DecodedSize += n
}

// addPart appends a frame to the exchange, rolling over to a new one
// when MaxParts frames or MaxDecoded kept bytes are reached.
func (h *handler) addPart(p decode.Part, ts time.Time) {
	r := h.x.Response
	if len(r.Parts) > 0 && (len(r.Parts) >= h.lim.MaxParts || h.kept+int64(len(p.Data)) > h.lim.MaxDecoded) {
		h.rollover(p.Time)
	}
	x := h.x
	m := x.Response
	if p.FromClient {
		m = x.Request
	}
	if m.First.IsZero() {
		m.First = p.Time
	}
	m.Last = ts
	m.BodySize += p.Size
	if ts.After(x.End) {
		x.End = ts
	}
	x.Response.Parts = append(x.Response.Parts, p)
	h.kept += int64(len(p.Data))
	h.dirty = true
}

// rollover publishes the current exchange as final and continues the
// connection's frames on a new one, so a long-lived connection stays
// visible without unbounded growth of one exchange.
func (h *handler) rollover(ts time.Time) {
	st := decode.Complete
	if h.gapped {
		st = decode.Partial
	}
	h.x.State = st
	h.c.Publish(h.x)
	h.x = h.newExchange()
	h.x.Start = ts
	h.dirty = false
}

func (h *handler) flush() {
	if h.dirty {
		h.dirty = false
		h.c.Publish(h.x)
	}
}

// Gap skips a known number of missing payload bytes inside the current
// frame; anything else loses the framing until a plausible frame start.
func (h *handler) Gap(dir decode.Direction, n int, ts time.Time) {
	h.start(ts)
	s := h.sides[dir&1]
	h.gapped = true
	h.note(fmt.Sprintf("ws: bytes missing in the %s stream", dirName(s.fromClient)))
	if s.lost {
		return
	}
	if s.inFr && n >= 0 && uint64(n) <= s.fh.length-s.got {
		s.got += uint64(n)
		s.miss = true
		if s.inMsg && s.compressed && s.fh.data() {
			s.compCut = true
		}
		if s.got == s.fh.length {
			h.frameDone(s, ts)
			h.flush()
		}
		return
	}
	h.loseSync(s, "")
}

// loseSync abandons the direction's framing until a segment starts with
// a plausible frame.
func (h *handler) loseSync(s *side, note string) {
	if note != "" {
		h.protocolError(note)
	}
	s.lost = true
	s.inFr, s.hn, s.data = false, 0, nil
	s.inMsg, s.compressed = false, false
	s.comp = s.comp[:0]
	if s.inf != nil {
		s.inf.stale = true
	}
	h.gapped = true
}

// protocolError records a framing violation on the exchange and, once,
// on the flow.
func (h *handler) protocolError(msg string) {
	if h.x.Error == "" {
		h.x.Error = msg
		h.dirty = true
	}
	h.note("ws: " + msg)
}

func (h *handler) note(msg string) {
	if !h.noted[msg] && len(h.noted) < 8 {
		h.noted[msg] = true
		h.c.Note(msg)
	}
}

func dirName(fromClient bool) string {
	if fromClient {
		return "client→server"
	}
	return "server→client"
}

// End publishes the exchange with its final state: Complete after a
// close frame in both directions, Reset when the connection was reset,
// Partial otherwise.
func (h *handler) End(st decode.FlowState, ts time.Time) {
	h.start(ts)
	for _, s := range h.sides {
		if s.inFr || s.hn > 0 || s.inMsg {
			h.gapped = true
			if h.x.Error == "" {
				h.x.Error = fmt.Sprintf("connection ended inside a %s frame", dirName(s.fromClient))
			}
		}
	}
	if h.x.End.IsZero() {
		h.x.End = ts
	}
	switch {
	case st == decode.FlowReset:
		h.x.State = decode.Reset
	case h.closes[0] && h.closes[1] && !h.gapped:
		h.x.State = decode.Complete
	default:
		h.x.State = decode.Partial
	}
	h.c.Publish(h.x)
}
