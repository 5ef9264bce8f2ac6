package kafka

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

type emitter struct{ d *tcp.Decoder }

func (e emitter) Packet(p sources.Packet) { e.d.Packet(&p) }
func (e emitter) Status(sources.Status)   {}

// decodeFile decodes a capture with HTTP/1 and Kafka offered, as
// cmd/tapview offers them (HTTP/1 first, so Kafka must not be needed to
// refuse HTTP).
func decodeFile(t testing.TB, path string) *decodetest.Collector {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	col := decodetest.NewCollector(t)
	d := tcp.NewDecoder(naming{col, NewNamer()}, tcp.Config{Parsers: []decode.Parser{http1.New(), New()}})
	if err := src.Run(context.Background(), emitter{d}); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	d.Finish(time.Time{})
	return col
}

// naming passes exchanges through a Namer on their way to the
// collector, as the merge of cmd/tapview's decoder lanes does.
type naming struct {
	*decodetest.Collector
	n *Namer
}

func (o naming) Exchange(e *decode.Exchange) {
	o.n.Name(e)
	o.Collector.Exchange(e)
}

// fakeConn is a decode.Conn for handler tests.
type fakeConn struct {
	t      testing.TB
	flow   decode.Flow
	nextID uint64
	latest map[uint64]*decode.Exchange
	final  map[uint64]bool
	order  []uint64
	notes  []string
	swaps  int
}

func newFakeConn(t testing.TB) *fakeConn {
	return &fakeConn{t: t, flow: decode.Flow{ID: 1, Transport: "tcp",
		Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.9:9092")},
		latest: map[uint64]*decode.Exchange{}, final: map[uint64]bool{}}
}

func (c *fakeConn) Flow() *decode.Flow { return &c.flow }
func (c *fakeConn) NewExchange(proto string) *decode.Exchange {
	c.nextID++
	return &decode.Exchange{ID: c.nextID, Proto: proto, State: decode.Pending}
}
func (c *fakeConn) Publish(e *decode.Exchange) {
	if c.final[e.ID] {
		c.t.Errorf("exchange %d published after its final version", e.ID)
	}
	if _, ok := c.latest[e.ID]; !ok {
		c.order = append(c.order, e.ID)
	}
	cp := *e
	c.latest[e.ID] = &cp
	c.final[e.ID] = e.State.Final()
}
func (c *fakeConn) SetProto(string)                     {}
func (c *fakeConn) SetTLS(*decode.TLSInfo)              {}
func (c *fakeConn) SwapDirections()                     { c.swaps++ }
func (c *fakeConn) Handoff(string) decode.StreamHandler { return nil }
func (c *fakeConn) Limits() decode.Limits               { return decode.Limits{} }
func (c *fakeConn) Note(msg string)                     { c.notes = append(c.notes, msg) }
func (c *fakeConn) exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.latest[id])
	}
	return out
}
