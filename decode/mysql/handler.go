package mysql

import (
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
)

// Bounds on what one connection keeps.
const (
	maxQueue      = 256 // commands awaiting their reply
	maxHeld       = 256 // server packets that arrived before their command
	maxHeldBytes  = 1 << 20
	maxStatements = 4096 // prepared statements remembered by id
	// maxStmtBytes bounds the SQL remembered for all prepared
	// statements of a connection.
	maxStmtBytes = 8 << 20
	maxColumns   = 4096 // columns of one result set
)

// Connection phases.
const (
	phGreeting = iota // waiting for the server greeting
	phAuth            // handshake response and authentication exchange
	phCommand         // commands and their replies
	phStopped         // nothing more is decoded (TLS without a decoder, binlog, errors)
)

// side is the framing state of one direction.
type side struct {
	fr   framer
	z    *inflater // set once the compressed protocol is on
	lost bool      // a gap broke the framing; waiting for a packet start
}

// handler decodes one connection.
type handler struct {
	c     decode.Conn
	lim   decode.Limits
	sides [2]*side
	phase int
	// capsKnown is false on a connection joined after its handshake: EOF
	// handling then goes by packet shape.
	capsKnown bool
	caps      uint32 // capabilities both sides announced
	srvCaps   uint32
	srvExt    uint32 // MariaDB extended capabilities of the server
	extCaps   uint32 // ... that both sides announced
	user, db  string

	login *cmd   // the CONNECT exchange while the login runs
	queue []*cmd // commands awaiting their reply, in order
	held  []*packet
	// heldBytes and stmtBytes are what held and stmts keep.
	heldBytes, stmtBytes int
	stmts                map[uint32]*stmt
	// compress is set when the login negotiated CLIENT_COMPRESS; framing
	// switches once the login's OK went by.
	compress bool
	next     decode.StreamHandler // TLS after an SSL request
	noted    map[string]bool
	skipped  int64
}

func newHandler(c decode.Conn) *handler {
	lim := c.Limits().WithDefaults()
	keep := lim.MaxBody + 1024
	h := &handler{c: c, lim: lim, stmts: map[uint32]*stmt{}, noted: map[string]bool{}}
	h.sides = [2]*side{{fr: framer{keep: keep}}, {fr: framer{keep: keep}}}
	if f := c.Flow(); f != nil && f.Partial {
		h.phase = phCommand
		h.sides[decode.ServerToClient].lost = true
	}
	return h
}

// note records a problem once per kind.
func (h *handler) note(kind, msg string) {
	if h.noted[kind] {
		return
	}
	h.noted[kind] = true
	h.c.Note("mysql: " + msg)
}

// Data frames packets (inflating the compressed protocol when it is on)
// and hands each to the connection's state machine.
func (h *handler) Data(dir decode.Direction, data []byte, ts time.Time) {
	if h.next != nil {
		h.next.Data(dir, data, ts)
		return
	}
	s := h.sides[dir&1]
	if s.lost && !h.resync(dir, data) {
		h.skipped += int64(len(data))
		return
	}
	for len(data) > 0 && h.phase != phStopped && h.next == nil {
		s = h.sides[dir&1] // a greeting may have swapped the sides
		if s.z != nil {
			n, out, err := s.z.feed(data)
			data = data[n:]
			if err != nil {
				h.stop("compressed framing: " + err.Error())
				return
			}
			for len(out) > 0 && h.phase != phStopped {
				k, p := s.fr.feed(out, ts)
				out = out[k:]
				if p != nil {
					h.packet(dir, p)
				}
			}
			continue
		}
		n, p := s.fr.feed(data, ts)
		data = data[n:]
		if p != nil {
			h.packet(dir, p)
		}
	}
	if h.next != nil && len(data) > 0 {
		h.next.Data(dir, data, ts)
	}
}

// resync decides whether data, arriving after a gap or on a connection
// joined mid-stream, starts at a packet boundary.
func (h *handler) resync(dir decode.Direction, data []byte) bool {
	s := h.sides[dir&1]
	if h.compress {
		return false
	}
	if dir == decode.ClientToServer {
		if commandStart(data) != decode.Yes {
			return false
		}
	} else {
		// A reply can be placed only when the command it answers was
		// seen: its first packet has sequence 1.
		if len(h.queue) == 0 || len(data) < 5 || data[3] != 1 {
			return false
		}
	}
	s.lost = false
	s.fr.reset()
	return true
}

// packet dispatches one logical packet.
func (h *handler) packet(dir decode.Direction, p *packet) {
	switch h.phase {
	case phGreeting:
		h.greetingPhase(dir, p)
	case phAuth:
		if dir == decode.ClientToServer {
			h.authClient(p)
		} else {
			h.authServer(p)
		}
	case phCommand:
		if dir == decode.ClientToServer {
			h.clientPacket(p)
		} else {
			h.serverPacket(p)
		}
	}
}

// greetingPhase expects the greeting from the server; a connection seen
// from its start whose first packet is not one is left alone.
func (h *handler) greetingPhase(dir decode.Direction, p *packet) {
	if p.seq != 0 || len(p.data) == 0 || (p.data[0] != 10 && p.data[0] != 0xff) {
		h.stop("the connection does not start with a server greeting")
		return
	}
	if dir == decode.ClientToServer {
		// The side the transport took for the client sent the greeting.
		h.c.SwapDirections()
		h.sides[0], h.sides[1] = h.sides[1], h.sides[0]
	}
	h.greeting(p)
}

// stop ends decoding of the connection with a note.
func (h *handler) stop(why string) {
	h.note("stop", why+"; the rest of the connection is not decoded")
	h.phase = phStopped
}

// Gap ends every command awaiting its reply as Partial; both directions
// wait for a packet start (a command on the client side).
func (h *handler) Gap(dir decode.Direction, n int, ts time.Time) {
	if h.next != nil {
		h.next.Gap(dir, n, ts)
		return
	}
	if h.phase == phStopped {
		return
	}
	if h.compress {
		h.stop("bytes missing in a compressed connection")
	} else {
		h.note("gap", "bytes missing in the TCP stream; decoding resumes at the next command")
	}
	if h.login != nil {
		h.finish(h.login, decode.Partial, "bytes missing during the login")
		h.login = nil
		if h.phase != phStopped {
			h.phase = phCommand
		}
	}
	for _, q := range h.queue {
		h.finish(q, decode.Partial, "bytes missing in the reply")
	}
	h.queue, h.held, h.heldBytes = nil, nil, 0
	for _, s := range h.sides {
		s.lost = true
		s.fr.reset()
	}
}

// End publishes what is still open: commands with part of a reply as
// Partial, without one as Orphan (Reset when the connection was reset).
func (h *handler) End(state decode.FlowState, ts time.Time) {
	if h.next != nil {
		h.next.End(state, ts)
		return
	}
	st := func(q *cmd) decode.ExchangeState {
		switch {
		case state == decode.FlowReset:
			return decode.Reset
		case q.started:
			return decode.Partial
		}
		return decode.Orphan
	}
	if h.login != nil {
		h.finish(h.login, st(h.login), "the connection ended during the login")
	}
	for _, q := range h.queue {
		h.finish(q, st(q), "the connection ended before the reply was complete")
	}
	h.queue = nil
	if len(h.held) > 0 {
		h.note("held", fmt.Sprintf("%d server packets without a command", len(h.held)))
	}
	if h.skipped > 0 {
		h.c.Note(fmt.Sprintf("mysql: %d bytes skipped while resynchronising", h.skipped))
	}
	for _, s := range h.sides {
		if s.fr.pending() && h.phase != phStopped {
			h.note("cut", "the connection ended inside a packet")
			break
		}
	}
}
