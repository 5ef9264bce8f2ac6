package tcp

import (
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
)

// Detection bounds used when Config leaves them zero.
const (
	// DefaultDetectWindow is how many first bytes of a direction parsers
	// see in Detect; NeedMore past it counts as No.
	DefaultDetectWindow = 64
	// DefaultHoldLimit is how many undecided bytes a connection keeps
	// (both directions) while waiting for a verdict, e.g. for the other
	// side to speak after one side was refused by every parser.
	DefaultHoldLimit = 16 << 10
	// DefaultDatagramTries is how many datagrams of a conversation are
	// offered to datagram parsers before it stays raw.
	DefaultDatagramTries = 8
)

// heldItem is data (or a gap, when data is nil) that arrived while no
// parser was chosen; it is replayed to the chosen handler in order.
type heldItem struct {
	side int
	data []byte
	gap  int
	ts   time.Time
}

// detector is the protocol detection state of one connection, allocated
// when the first undecided bytes arrive and dropped once a parser is
// chosen (or none is), so decided flows and flows without data carry none.
type detector struct {
	probe     [2][]byte
	closed    [2]bool // probe cannot grow: a gap interrupted it
	rejected  [2]bool // every parser said No for this side
	held      []heldItem
	heldBytes int
	tries     int // datagrams offered so far (UDP)
}

// detState returns the connection's detection state, creating it.
func (c *conn) detState() *detector {
	if c.det == nil {
		c.det = &detector{}
	}
	return c.det
}

// data delivers contiguous bytes of one side: to the handler when there is
// one, through detection otherwise.
func (c *conn) data(side int, data []byte, ts time.Time) {
	if c.ended || len(data) == 0 {
		return
	}
	if c.handler != nil {
		c.callData(c.dir(side), data, ts)
		return
	}
	if c.decided {
		return
	}
	c.detectData(side, data, ts)
}

// gap reports n missing bytes (n < 0: unknown) of one side.
func (c *conn) gap(side int, n int, ts time.Time) {
	if c.ended || n == 0 {
		return
	}
	c.d.stats.Gaps++
	if n > 0 {
		c.d.stats.GapBytes += int64(n)
	}
	if c.handler != nil {
		c.callGap(c.dir(side), n, ts)
		return
	}
	if c.decided {
		return
	}
	det := c.detState()
	if len(det.probe[side]) > 0 {
		det.closed[side] = true
	}
	det.held = append(det.held, heldItem{side: side, gap: n, ts: ts})
	if len(det.held) > c.d.holdLimit/8 {
		c.goRaw()
	}
}

func (c *conn) detectData(side int, data []byte, ts time.Time) {
	det := c.detState()
	window := c.d.detectWindow
	if !det.closed[side] && len(det.probe[side]) < window {
		if det.probe[side] == nil {
			det.probe[side] = make([]byte, 0, window)
		}
		n := min(window-len(det.probe[side]), len(data))
		det.probe[side] = append(det.probe[side], data[:n]...)
	}
	if !det.rejected[side] {
		p, v := c.runDetect(side)
		if v == decode.Yes {
			if c.choose(p) {
				c.callData(c.dir(side), data, ts)
			}
			return
		}
		if v == decode.No || det.closed[side] || len(det.probe[side]) >= window {
			det.rejected[side] = true
		}
	}
	if det.rejected[0] && det.rejected[1] {
		c.goRaw()
		return
	}
	if det.heldBytes+len(data) > c.d.holdLimit {
		c.goRaw()
		return
	}
	det.held = append(det.held, heldItem{side: side, data: append([]byte(nil), data...), ts: ts})
	det.heldBytes += len(data)
}

// runDetect asks every parser about side's probe; the first Yes wins.
func (c *conn) runDetect(side int) (decode.Parser, decode.Verdict) {
	probe := c.det.probe[side]
	verdict := decode.No
	for _, p := range c.d.cfg.Parsers {
		switch c.safeDetect(p, side, probe) {
		case decode.Yes:
			return p, decode.Yes
		case decode.NeedMore:
			verdict = decode.NeedMore
		}
	}
	return nil, verdict
}

func (c *conn) safeDetect(p decode.Parser, side int, probe []byte) (v decode.Verdict) {
	defer func() {
		if r := recover(); r != nil {
			c.d.stats.ParserPanics++
			c.Note(fmt.Sprintf("%s detect failed: %v", p.Name(), r))
			v = decode.No
		}
	}()
	return p.Detect(&c.flow, c.dir(side), probe)
}

// choose builds p's handler, records the protocol and replays what was
// held. It reports whether the handler is in place.
func (c *conn) choose(p decode.Parser) bool {
	c.decided = true
	h := c.safeNew(p)
	var held []heldItem
	if c.det != nil {
		held = c.det.held
	}
	c.det = nil
	if h == nil {
		return false
	}
	c.handler = h
	c.d.stats.Detected++
	c.SetProto(p.Name())
	for _, it := range held {
		if c.handler == nil {
			break
		}
		if it.data == nil {
			c.callGap(c.dir(it.side), it.gap, it.ts)
		} else {
			c.callData(c.dir(it.side), it.data, it.ts)
		}
	}
	return c.handler != nil
}

func (c *conn) safeNew(p decode.Parser) (h decode.StreamHandler) {
	defer func() {
		if r := recover(); r != nil {
			c.parserFailed(r)
			h = nil
		}
	}()
	return p.New(c)
}

// goRaw gives up detection: the flow keeps counting bytes and packets
// with no protocol.
func (c *conn) goRaw() {
	c.decided = true
	c.det = nil
	c.d.stats.Raw++
}

// datagram delivers one UDP payload of side, detecting the protocol on
// the first datagrams of the conversation.
func (c *conn) datagram(side int, payload []byte, ts time.Time) {
	if c.ended {
		return
	}
	if c.dgram != nil {
		c.callDatagram(c.dir(side), payload, ts)
		return
	}
	if c.decided {
		return
	}
	det := c.detState()
	for _, p := range c.d.cfg.Datagrams {
		if c.safeDetectDatagram(p, side, payload) != decode.Yes {
			continue
		}
		c.decided = true
		h := c.safeNewDatagram(p)
		held := det.held
		c.det = nil
		if h == nil {
			return
		}
		c.dgram = h
		c.d.stats.Detected++
		c.SetProto(p.Name())
		for _, it := range held {
			if c.dgram != nil {
				c.callDatagram(c.dir(it.side), it.data, it.ts)
			}
		}
		if c.dgram != nil {
			c.callDatagram(c.dir(side), payload, ts)
		}
		return
	}
	det.tries++
	if det.tries >= c.d.datagramTries || det.heldBytes+len(payload) > c.d.holdLimit {
		c.goRaw()
		return
	}
	det.held = append(det.held, heldItem{side: side, data: append([]byte(nil), payload...), ts: ts})
	det.heldBytes += len(payload)
}

func (c *conn) safeDetectDatagram(p decode.DatagramParser, side int, payload []byte) (v decode.Verdict) {
	defer func() {
		if r := recover(); r != nil {
			c.d.stats.ParserPanics++
			c.Note(fmt.Sprintf("%s detect failed: %v", p.Name(), r))
			v = decode.No
		}
	}()
	return p.Detect(&c.flow, c.dir(side), payload)
}

func (c *conn) safeNewDatagram(p decode.DatagramParser) (h decode.DatagramHandler) {
	defer func() {
		if r := recover(); r != nil {
			c.parserFailed(r)
			h = nil
		}
	}()
	return p.NewDatagram(c)
}
