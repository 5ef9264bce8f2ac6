package ws

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// collector is a decode.Output keeping the latest version of every flow
// and exchange; it fails the test on a publication after a final one.
type collector struct {
	t     testing.TB
	ex    map[uint64]*decode.Exchange
	order []uint64
	flows map[uint64]*decode.Flow
	pubs  int
}

func newCollector(t testing.TB) *collector {
	return &collector{t: t, ex: map[uint64]*decode.Exchange{}, flows: map[uint64]*decode.Flow{}}
}

func (c *collector) Flow(f *decode.Flow) { c.flows[f.ID] = f }

func (c *collector) Exchange(e *decode.Exchange) {
	c.pubs++
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

// byProto returns the latest versions of one protocol's exchanges in
// first-publication order.
func (c *collector) byProto(proto string) []*decode.Exchange {
	var out []*decode.Exchange
	for _, id := range c.order {
		if x := c.ex[id]; x.Proto == proto {
			out = append(out, x)
		}
	}
	return out
}

type decoderEmitter struct{ d *tcp.Decoder }

func (e decoderEmitter) Packet(p sources.Packet) { e.d.Packet(&p) }
func (e decoderEmitter) Status(sources.Status)   {}

func newDecoder(out decode.Output, lim decode.Limits) *tcp.Decoder {
	return tcp.NewDecoder(out, tcp.Config{Parsers: []decode.Parser{http1.New(), New()}, Limits: lim})
}

// decodeCorpus reads a corpus file through pcapfile and the decoder.
func decodeCorpus(t testing.TB, name string) *collector {
	t.Helper()
	src, err := pcapfile.Open(filepath.Join(corpustest.Dir(t), name))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	col := newCollector(t)
	d := newDecoder(col, decode.Limits{})
	if err := src.Run(context.Background(), decoderEmitter{d}); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	d.Finish(time.Time{})
	return col
}

// fakeConn is a decode.Conn for handler unit tests; it keeps deep copies
// of every publication so tests can check published data never changes.
type fakeConn struct {
	t      testing.TB
	flow   decode.Flow
	lim    decode.Limits
	nextID uint64
	pubs   []decode.Exchange
	snaps  []string
	latest map[uint64]*decode.Exchange
	final  map[uint64]bool
	notes  []string
}

func newFakeConn(t testing.TB, lim decode.Limits) *fakeConn {
	return &fakeConn{t: t, lim: lim, flow: decode.Flow{ID: 1, Transport: "tcp"},
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
	cp := *e
	rq, rs := *e.Request, *e.Response
	cp.Request, cp.Response = &rq, &rs
	c.pubs = append(c.pubs, cp)
	c.snaps = append(c.snaps, snapshot(&cp))
	c.latest[e.ID] = &cp
	if e.State.Final() {
		c.final[e.ID] = true
	}
}
func (c *fakeConn) SetProto(string)                     {}
func (c *fakeConn) SetTLS(*decode.TLSInfo)              {}
func (c *fakeConn) SwapDirections()                     {}
func (c *fakeConn) Handoff(string) decode.StreamHandler { return nil }
func (c *fakeConn) Limits() decode.Limits               { return c.lim }
func (c *fakeConn) Note(msg string)                     { c.notes = append(c.notes, msg) }

// checkImmutable fails when a published exchange's parts changed after
// publication (the Conn contract: only append).
func (c *fakeConn) checkImmutable() {
	for i := range c.pubs {
		if got := snapshot(&c.pubs[i]); got != c.snaps[i] {
			c.t.Errorf("publication %d changed after Publish", i)
		}
	}
}

func snapshot(x *decode.Exchange) string {
	s := ""
	for _, p := range x.Response.Parts {
		s += p.Kind + ":" + string(p.Data) + "|"
	}
	return s
}
