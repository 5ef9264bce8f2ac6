package kafka

import (
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
)

// side is the framing state of one direction.
type side struct {
	buf   []byte    // the frame in progress, size prefix included, at most keep bytes
	got   int       // bytes of it seen (kept or not)
	want  int       // its full length, size prefix included; 0 before the prefix is read
	first time.Time // capture time of its first byte
	lost  bool      // framing lost (gap, implausible size): wait for a request start
	// rawSASL is set on the client side after a SaslHandshake v0 request
	// and on the server side after its response: the next frame is a
	// bare SASL token, not a Kafka message.
	rawSASL bool
}

// pending is a request awaiting its response.
type pending struct {
	x        *decode.Exchange
	key, ver int16
	req      *summary
	// gapped is set when server bytes went missing while the request
	// waited: its response may have been among them.
	gapped bool
}

// handler decodes one Kafka connection.
type handler struct {
	c        decode.Conn
	keep     int
	sides    [2]side
	pending  map[int32]*pending
	order    []int32 // correlation ids in request order, for eviction and End
	oriented bool
	noted    map[string]bool
	skipped  int64
	saslTok  *pending // the raw SASL token exchange awaiting the server's token
}

func newHandler(c decode.Conn) *handler {
	lim := c.Limits().WithDefaults()
	h := &handler{c: c, keep: max(lim.MaxBody, minKeep), pending: map[int32]*pending{}, noted: map[string]bool{}}
	if f := c.Flow(); f != nil && f.Partial {
		// Joined mid-stream: either side may start inside a message, so
		// both wait for a segment that starts one (a request, or a
		// response to a request seen).
		h.sides[0].lost, h.sides[1].lost = true, true
	}
	return h
}

// note records a problem once per kind.
func (h *handler) note(kind, msg string) {
	if h.noted[kind] {
		return
	}
	h.noted[kind] = true
	h.c.Note("kafka: " + msg)
}

func (h *handler) Data(dir decode.Direction, data []byte, ts time.Time) {
	if !h.oriented {
		h.oriented = true
		if _, v := peekHeader(data); dir == decode.ServerToClient && v == decode.Yes {
			// The first bytes seen are a request sent by the side taken
			// for the server: a connection joined late, or ports that
			// misled. Swap so requests are client to server.
			h.c.SwapDirections()
			h.sides[0], h.sides[1] = h.sides[1], h.sides[0]
			dir = decode.ClientToServer
		}
	}
	s := &h.sides[dir&1]
	for len(data) > 0 {
		if s.lost {
			if !h.resumes(dir, data) {
				h.skipped += int64(len(data))
				return
			}
			s.lost = false
		}
		if s.want == 0 {
			if s.got == 0 {
				s.first = ts
			}
			n := min(4-s.got, len(data))
			s.buf = append(s.buf, data[:n]...)
			s.got += n
			data = data[n:]
			if s.got < 4 {
				return
			}
			size := int64(int32(be32(s.buf)))
			if size < 0 || size > maxFrame {
				h.note("size", fmt.Sprintf("implausible frame size %d; resynchronising at the next request", size))
				h.lose(s)
				h.skipped += int64(len(data))
				return
			}
			s.want = int(size) + 4
		}
		take := min(s.want-s.got, len(data))
		if room := h.keep - len(s.buf); room > 0 {
			s.buf = append(s.buf, data[:min(take, room)]...)
		}
		s.got += take
		data = data[take:]
		if s.got == s.want {
			h.frame(dir, s, s.buf, s.want, ts)
			s.buf, s.got, s.want = s.buf[:0], 0, 0
			if cap(s.buf) > 4*minKeep {
				s.buf = nil
			}
		}
	}
}

// lose drops the frame in progress and waits for a message start.
func (h *handler) lose(s *side) {
	s.buf, s.got, s.want, s.lost = s.buf[:0], 0, 0, true
}

// resumes reports whether data, the start of a segment after lost
// framing, starts a message: a plausible request from the client, a
// response carrying a correlation id still awaited from the server.
func (h *handler) resumes(dir decode.Direction, data []byte) bool {
	if dir == decode.ClientToServer {
		_, v := peekHeader(data)
		return v == decode.Yes
	}
	if len(data) < 8 {
		return false
	}
	size := int32(be32(data))
	_, ok := h.pending[int32(be32(data[4:]))]
	return ok && size >= 4 && size <= maxFrame
}

// Gap drops the frame in progress of dir; requests whose response is cut
// stay pending and end Partial if their response never decodes.
func (h *handler) Gap(dir decode.Direction, _ int, _ time.Time) {
	s := &h.sides[dir&1]
	if s.want > 0 || s.got > 0 || !s.lost {
		h.note("gap", "bytes missing in the TCP stream; resynchronising at the next message")
	}
	h.lose(s)
	s.rawSASL = false
	if dir == decode.ServerToClient {
		for _, p := range h.pending {
			p.gapped = true
		}
	}
}

// End publishes what is still pending.
func (h *handler) End(st decode.FlowState, ts time.Time) {
	for i := range h.sides {
		if h.sides[i].got > 0 {
			h.note("end", "connection ended inside a message")
			break
		}
	}
	if h.skipped > 0 {
		h.c.Note(fmt.Sprintf("kafka: %d bytes skipped while resynchronising", h.skipped))
	}
	state, why := decode.Orphan, "no response seen"
	if st == decode.FlowReset {
		state, why = decode.Reset, "connection reset before the response"
	}
	if h.saslTok != nil {
		h.finalize(h.saslTok, state, why)
		h.saslTok = nil
	}
	for _, corr := range h.order {
		if p, ok := h.pending[corr]; ok {
			delete(h.pending, corr)
			if p.gapped && st != decode.FlowReset {
				h.finalize(p, decode.Partial, "the response may have been in bytes missing from the capture")
				continue
			}
			h.finalize(p, state, why)
		}
	}
	h.order = nil
}

func (h *handler) finalize(p *pending, st decode.ExchangeState, why string) {
	p.x.State = st
	p.x.Error = joinErr(p.x.Error, why)
	h.c.Publish(p.x)
}

func joinErr(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
