package postgres

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
)

// t0 is a capture time for handler tests.
var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// recDir holds the capture scripts/record-postgres.sh made, with its
// truth.
var recDir = filepath.Join("..", "..", "testdata", "postgres")

// collector is a decode.Output keeping the latest version of every
// exchange; publishing after a final version fails the test.
type collector struct {
	t     testing.TB
	ex    map[uint64]*decode.Exchange
	order []uint64
	flows map[uint64]*decode.Flow
}

func newCollector(t testing.TB) *collector {
	return &collector{t: t, ex: map[uint64]*decode.Exchange{}, flows: map[uint64]*decode.Flow{}}
}

func (c *collector) Flow(f *decode.Flow) { c.flows[f.ID] = f }

func (c *collector) Exchange(e *decode.Exchange) {
	if old, ok := c.ex[e.ID]; ok {
		if old.State.Final() {
			c.t.Errorf("exchange %d published after its final version", e.ID)
		}
	} else {
		c.order = append(c.order, e.ID)
	}
	c.ex[e.ID] = e
}

func (c *collector) Note(sources.Status) {}

func (c *collector) exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.ex[id])
	}
	return out
}

// decodePackets runs packets through the TCP decoder with PostgreSQL as
// the only parser.
func decodePackets(t testing.TB, pkts []sources.Packet) *collector {
	t.Helper()
	col := newCollector(t)
	d := tcp.NewDecoder(col, tcp.Config{Parsers: []decode.Parser{New()}})
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	for _, e := range col.ex {
		if !e.State.Final() {
			t.Errorf("exchange %d (%s) left %s", e.ID, e.Request.Method, e.State)
		}
	}
	return col
}

func readRecording(t testing.TB) []sources.Packet {
	t.Helper()
	pkts, err := corpustest.ReadPath(filepath.Join(recDir, "postgres.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// fakeConn is a decode.Conn for handler tests.
type fakeConn struct {
	t       testing.TB
	flow    decode.Flow
	lim     decode.Limits
	ex      []*decode.Exchange
	final   map[uint64]bool
	notes   []string
	swapped int
	handoff string
	next    uint64
}

func newFakeConn(t testing.TB) *fakeConn {
	return &fakeConn{t: t, final: map[uint64]bool{},
		flow: decode.Flow{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:5432")}}
}

func (c *fakeConn) Flow() *decode.Flow { return &c.flow }
func (c *fakeConn) NewExchange(proto string) *decode.Exchange {
	c.next++
	return &decode.Exchange{ID: c.next, FlowID: c.flow.ID, Proto: proto, Client: c.flow.Client, Server: c.flow.Server}
}
func (c *fakeConn) Publish(e *decode.Exchange) {
	if c.final[e.ID] {
		c.t.Fatalf("exchange %d published after its final version", e.ID)
	}
	if e.State.Final() {
		c.final[e.ID] = true
		cp := *e
		c.ex = append(c.ex, &cp)
	}
}
func (c *fakeConn) SetProto(string)        {}
func (c *fakeConn) SetTLS(*decode.TLSInfo) {}
func (c *fakeConn) SwapDirections()        { c.swapped++ }
func (c *fakeConn) Limits() decode.Limits  { return c.lim }
func (c *fakeConn) Note(msg string)        { c.notes = append(c.notes, msg) }
func (c *fakeConn) Handoff(p string) decode.StreamHandler {
	c.handoff = p
	return nil
}
