package dns

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/decodetest"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// collector is a decode.Output keeping the latest version of every flow
// and exchange, and failing the test when an exchange is published after
// its final version.
type collector struct {
	t     testing.TB
	ex    map[uint64]*decode.Exchange
	order []uint64
	flows map[uint64]*decode.Flow
	notes []sources.Status
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
		if e.Version <= old.Version {
			c.t.Errorf("exchange %d version went from %d to %d", e.ID, old.Version, e.Version)
		}
	} else {
		c.order = append(c.order, e.ID)
	}
	c.ex[e.ID] = e
}

func (c *collector) Note(s sources.Status) { c.notes = append(c.notes, s) }

// exchanges returns the latest versions in first-publication order.
func (c *collector) exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.ex[id])
	}
	return out
}

// flowList returns the flows ordered by ID.
func (c *collector) flowList() []*decode.Flow {
	out := make([]*decode.Flow, 0, len(c.flows))
	for _, f := range c.flows {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// decoderEmitter feeds a pcapfile source into a decoder.
type decoderEmitter struct{ d *tcp.Decoder }

func (e decoderEmitter) Packet(p sources.Packet) { e.d.Packet(&p) }
func (e decoderEmitter) Status(sources.Status)   {}

// newDecoder builds the decoder the way cmd/tapview does, with HTTP/1 so
// HTTP in the same capture is still decoded.
func newDecoder(out decode.Output) *tcp.Decoder {
	p := New()
	return tcp.NewDecoder(out, tcp.Config{
		Parsers:   []decode.Parser{http1.New(), p},
		Datagrams: []decode.DatagramParser{p},
	})
}

// decodeCorpus reads a corpus file through pcapfile and the TCP/UDP
// decoder and returns what was published.
func decodeCorpus(t testing.TB, name string) *collector {
	t.Helper()
	src, err := pcapfile.Open(filepath.Join(corpustest.Dir(t), name))
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	col := newCollector(t)
	d := newDecoder(col)
	if err := src.Run(context.Background(), decoderEmitter{d}); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	d.Finish(time.Time{})
	return col
}

// newFakeConn returns a decode.Conn for handler unit tests.
func newFakeConn(t testing.TB, transport string) *decodetest.FakeConn {
	return decodetest.NewFakeConn(t, transport, "10.0.0.53:53")
}
