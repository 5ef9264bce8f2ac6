package tls

import (
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
)

// Bounds of inner protocol detection on decrypted bytes, mirroring what
// the TCP layer does for cleartext.
const (
	innerDetectWindow = 64
	innerHoldLimit    = 64 << 10
)

// inner runs the application protocol inside TLS: it picks a parser by
// ALPN or by content and feeds it the plaintext through a Conn that marks
// exchanges as TLS.
type inner struct {
	h       *handler
	conn    *tlsConn
	handler decode.StreamHandler
	decided bool // a parser runs, or none will

	probe     [2][]byte
	closed    [2]bool // a gap interrupted the probe
	rejected  [2]bool
	held      []heldPlain
	heldBytes int
	proto     string // protocol of the running inner parser, as inner parsers see Flow().Proto
}

// flow is the connection's flow as inner parsers see it: its protocol is
// the inner one ("" before one runs), not "tls", so a parser can tell a
// fresh connection from one handed over to it (h2c after a 101).
func (in *inner) flow() *decode.Flow {
	f := *in.h.c.Flow()
	f.Proto = in.proto
	return &f
}

// heldPlain is plaintext (or a gap, when data is nil) waiting for the
// inner protocol to be known.
type heldPlain struct {
	dir  decode.Direction
	data []byte
	ts   time.Time
}

// alpnParser maps an ALPN protocol ID to the inner parser that speaks it.
func alpnParser(alpn string) string {
	switch alpn {
	case "h2":
		return "h2"
	case "http/1.1", "http/1.0":
		return "http/1"
	}
	return ""
}

// data delivers decrypted application bytes of one direction.
func (in *inner) data(dir decode.Direction, b []byte, ts time.Time) {
	if in.handler != nil {
		in.call(func(hd decode.StreamHandler) { hd.Data(in.conn.dir(dir), b, ts) })
		return
	}
	if in.decided {
		return
	}
	if q := in.h.p.innerByName(alpnParser(in.h.info.ALPNChosen)); q != nil {
		in.start(q)
		in.data(dir, b, ts)
		return
	}
	in.detect(dir, b, ts)
}

func (in *inner) detect(dir decode.Direction, b []byte, ts time.Time) {
	if !in.closed[dir] && len(in.probe[dir]) < innerDetectWindow {
		n := min(innerDetectWindow-len(in.probe[dir]), len(b))
		in.probe[dir] = append(in.probe[dir], b[:n]...)
	}
	if !in.rejected[dir] {
		verdict := decode.No
		for _, q := range in.h.p.cfg.Inner {
			v := in.safeDetect(q, dir)
			if v == decode.Yes {
				in.start(q)
				in.data(dir, b, ts)
				return
			}
			if v == decode.NeedMore {
				verdict = decode.NeedMore
			}
		}
		if verdict == decode.No || in.closed[dir] || len(in.probe[dir]) >= innerDetectWindow {
			in.rejected[dir] = true
		}
	}
	if in.rejected[0] && in.rejected[1] || in.heldBytes+len(b) > innerHoldLimit {
		in.giveUp()
		return
	}
	in.held = append(in.held, heldPlain{dir: dir, data: append([]byte(nil), b...), ts: ts})
	in.heldBytes += len(b)
}

func (in *inner) safeDetect(q decode.Parser, dir decode.Direction) (v decode.Verdict) {
	defer func() {
		if r := recover(); r != nil {
			in.h.c.Note(fmt.Sprintf("tls: %s detect failed: %v", q.Name(), r))
			v = decode.No
		}
	}()
	return q.Detect(in.flow(), dir, in.probe[dir])
}

// start runs parser q and replays what was held.
func (in *inner) start(q decode.Parser) {
	in.decided = true
	in.conn = &tlsConn{Conn: in.h.c, in: in}
	func() {
		defer func() {
			if r := recover(); r != nil {
				in.failed(r)
			}
		}()
		in.handler = q.New(in.conn)
	}()
	in.proto = q.Name()
	held := in.held
	in.held, in.heldBytes, in.probe = nil, 0, [2][]byte{}
	for _, it := range held {
		if in.handler == nil {
			return
		}
		if it.data == nil {
			in.call(func(hd decode.StreamHandler) { hd.Gap(in.conn.dir(it.dir), -1, it.ts) })
		} else {
			in.call(func(hd decode.StreamHandler) { hd.Data(in.conn.dir(it.dir), it.data, it.ts) })
		}
	}
}

// giveUp leaves the plaintext undecoded: no inner parser wanted it.
func (in *inner) giveUp() {
	in.decided = true
	in.held, in.heldBytes, in.probe = nil, 0, [2][]byte{}
}

// gap tells the inner parser that plaintext of dir is missing.
func (in *inner) gap(dir decode.Direction, ts time.Time) {
	switch {
	case in.handler != nil:
		in.call(func(hd decode.StreamHandler) { hd.Gap(in.conn.dir(dir), -1, ts) })
	case !in.decided:
		if len(in.probe[dir]) > 0 {
			in.closed[dir] = true
		}
		if len(in.held) > 0 {
			in.held = append(in.held, heldPlain{dir: dir, ts: ts})
		}
	}
}

func (in *inner) end(state decode.FlowState, ts time.Time) {
	if in.handler != nil {
		in.call(func(hd decode.StreamHandler) { hd.End(state, ts) })
		in.handler = nil
	}
	in.giveUp()
}

// call runs one inner handler call, turning a panic into a note so the
// TLS layer keeps its own state (and the flow its TLS facts).
func (in *inner) call(f func(decode.StreamHandler)) {
	defer func() {
		if r := recover(); r != nil {
			in.failed(r)
		}
	}()
	f(in.handler)
}

func (in *inner) failed(r any) {
	in.handler = nil
	in.decided = true
	in.h.c.Note(fmt.Sprintf("tls: inner parser failed: %v", r))
}

// tlsConn is the decode.Conn inner parsers get: everything goes to the
// TCP connection, except that exchanges are marked TLS, the flow keeps
// "tls" as its protocol, and handoffs (WebSocket, h2c inside TLS) build
// inner parsers on this same wrapper.
type tlsConn struct {
	decode.Conn
	in      *inner
	swapped bool // the inner parser asked for the other orientation
}

func (c *tlsConn) dir(d decode.Direction) decode.Direction {
	if c.swapped {
		return d.Reverse()
	}
	return d
}

// NewExchange marks the exchange as decrypted from TLS.
func (c *tlsConn) NewExchange(proto string) *decode.Exchange {
	e := c.Conn.NewExchange(proto)
	e.TLS = true
	if c.swapped {
		e.Client, e.Server = e.Server, e.Client
	}
	return e
}

// Publish keeps the TLS mark on every publication.
func (c *tlsConn) Publish(e *decode.Exchange) {
	if e != nil {
		e.TLS = true
	}
	c.Conn.Publish(e)
}

// Flow returns the flow with the inner protocol as its Proto.
func (c *tlsConn) Flow() *decode.Flow { return c.in.flow() }

// SetProto records the inner protocol for Flow; the flow itself stays
// "tls" (exchanges name their own protocol).
func (c *tlsConn) SetProto(proto string) { c.in.proto = proto }

// SetTLS is ignored: only the TLS layer describes the handshake.
func (c *tlsConn) SetTLS(*decode.TLSInfo) {}

// SwapDirections flips the directions the inner parser sees. The TLS
// handshake already fixed which side is the client, so the flow itself
// is not swapped.
func (c *tlsConn) SwapDirections() { c.swapped = !c.swapped }

// Handoff builds another inner parser on this wrapper, so an upgrade
// inside TLS stays marked as TLS.
func (c *tlsConn) Handoff(proto string) decode.StreamHandler {
	q := c.in.h.p.innerByName(proto)
	if q == nil {
		return nil
	}
	h := q.New(c)
	if h != nil {
		c.in.proto = proto
	}
	return h
}
