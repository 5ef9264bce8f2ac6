package decodetest

import (
	"net/netip"
	"testing"

	"github.com/tapview/tapview/decode"
)

// FakeConn is a decode.Conn for a protocol handler's unit tests, without
// the TCP layer: it hands out exchange IDs, keeps every publication (a
// copy, as the TCP layer's Publish makes one) and the latest version of
// each exchange, and fails the test on a publication after an
// exchange's final one (decode.Conn.Publish promises exactly one).
// Notes, direction swaps (which swap the flow's addresses, as the TCP
// layer does) and hand-offs are recorded; Lim is what Limits returns.
type FakeConn struct {
	T        testing.TB
	FlowInfo decode.Flow
	Lim      decode.Limits
	Notes    []string
	Swaps    int
	// HandedOff is the protocol of the latest Handoff call (which
	// returns nil: no parser follows).
	HandedOff string

	nextID uint64
	pubs   []*decode.Exchange
	latest map[uint64]*decode.Exchange
	order  []uint64
	finals []*decode.Exchange
}

// NewFakeConn returns a FakeConn whose flow (ID 1) runs over transport
// from 10.0.0.1:40000 to server.
func NewFakeConn(t testing.TB, transport, server string) *FakeConn {
	return &FakeConn{T: t, latest: map[uint64]*decode.Exchange{},
		FlowInfo: decode.Flow{ID: 1, Transport: transport,
			Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort(server)}}
}

var _ decode.Conn = (*FakeConn)(nil)

// Flow implements decode.Conn.
func (c *FakeConn) Flow() *decode.Flow { return &c.FlowInfo }

// NewExchange implements decode.Conn: IDs count from 1.
func (c *FakeConn) NewExchange(proto string) *decode.Exchange {
	c.nextID++
	return &decode.Exchange{ID: c.nextID, FlowID: c.FlowInfo.ID, Proto: proto,
		Client: c.FlowInfo.Client, Server: c.FlowInfo.Server, State: decode.Pending}
}

// Publish implements decode.Conn.
func (c *FakeConn) Publish(e *decode.Exchange) {
	if old, ok := c.latest[e.ID]; ok && old.State.Final() {
		c.T.Errorf("exchange %d published after its final version", e.ID)
	}
	cp := e.Copy()
	if _, ok := c.latest[e.ID]; !ok {
		c.order = append(c.order, e.ID)
	}
	c.pubs = append(c.pubs, cp)
	c.latest[e.ID] = cp
	if e.State.Final() {
		c.finals = append(c.finals, cp)
	}
}

// SetProto implements decode.Conn.
func (c *FakeConn) SetProto(string) {}

// SetTLS implements decode.Conn.
func (c *FakeConn) SetTLS(*decode.TLSInfo) {}

// SwapDirections implements decode.Conn.
func (c *FakeConn) SwapDirections() {
	c.Swaps++
	c.FlowInfo.Client, c.FlowInfo.Server = c.FlowInfo.Server, c.FlowInfo.Client
}

// Handoff implements decode.Conn.
func (c *FakeConn) Handoff(proto string) decode.StreamHandler {
	c.HandedOff = proto
	return nil
}

// Limits implements decode.Conn.
func (c *FakeConn) Limits() decode.Limits { return c.Lim }

// Note implements decode.Conn.
func (c *FakeConn) Note(msg string) { c.Notes = append(c.Notes, msg) }

// Exchanges returns the latest version of every exchange, in the order
// of their first publication.
func (c *FakeConn) Exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.latest[id])
	}
	return out
}

// Latest returns the latest version of exchange id, nil when it was
// never published.
func (c *FakeConn) Latest(id uint64) *decode.Exchange { return c.latest[id] }

// Finals returns the final versions, in the order they were published.
func (c *FakeConn) Finals() []*decode.Exchange { return c.finals }

// Published returns every publication, in order.
func (c *FakeConn) Published() []*decode.Exchange { return c.pubs }
