package postgres

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// t0 is a capture time for handler tests.
var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// recDir holds the capture scripts/record-postgres.sh made, with its
// truth.
var recDir = filepath.Join("..", "..", "testdata", "postgres")

// decodePackets runs packets through the TCP decoder with PostgreSQL as
// the only parser.
func decodePackets(t testing.TB, pkts []sources.Packet) *decodetest.Collector {
	t.Helper()
	return decodetest.Decode(t, []decode.Parser{New()}, pkts)
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
