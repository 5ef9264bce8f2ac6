package tcp

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/tapview/tapview/decode"
)

// Stream is a synthetic TCP connection fed with ordered bytes instead of
// packets (an Envoy socket tap). It goes through the same protocol
// detection and parsers as captured connections. Use it from the
// decoder's goroutine.
type Stream struct {
	c *conn
}

// OpenStream starts a stream between client and server at ts. Directions
// given to Data are relative to this client, even if a parser later swaps
// the flow's client and server.
func (d *Decoder) OpenStream(source string, client, server netip.AddrPort, ts time.Time) *Stream {
	ln := d.lane(source)
	ln.advance(ts)
	c := newConn(d, "tcp", source, client, server, ts)
	c.lane = ln
	d.stats.Streams++
	s := &Stream{c: c}
	if !d.finished {
		d.streams[s] = struct{}{}
	}
	c.publishFlow()
	return s
}

// FlowID returns the ID of the stream's flow.
func (s *Stream) FlowID() uint64 { return s.c.flow.ID }

// Data delivers bytes sent in dir at ts.
func (s *Stream) Data(dir decode.Direction, data []byte, ts time.Time) {
	c := s.c
	if c.ended {
		return
	}
	c.lane.advance(ts)
	c.lane.packets++
	side := int(dir & 1)
	c.count(side, len(data), 0, ts)
	c.data(side, data, ts)
}

// Gap reports n bytes in dir that the tap did not record (n < 0 when
// unknown), e.g. a trace truncated by Envoy's buffer limits.
func (s *Stream) Gap(dir decode.Direction, n int, ts time.Time) {
	c := s.c
	if c.ended {
		return
	}
	c.lane.advance(ts)
	c.gap(int(dir&1), n, ts)
}

// Close ends the stream with the given state (closed, reset, ...).
func (s *Stream) Close(state decode.FlowState, ts time.Time) {
	c := s.c
	if c.ended {
		return
	}
	if ts.After(c.flow.Last) {
		c.flow.Last = ts
	}
	c.end(state, ts)
	delete(c.d.streams, s)
}

// endStreams ends every stream still open at end of input, in flow order.
func (d *Decoder) endStreams() {
	open := make([]*Stream, 0, len(d.streams))
	for s := range d.streams {
		open = append(open, s)
	}
	slices.SortFunc(open, func(a, b *Stream) int { return cmp.Compare(a.c.flow.ID, b.c.flow.ID) })
	for _, s := range open {
		s.c.end(s.c.flow.State, s.c.lane.clock)
		delete(d.streams, s)
	}
}
