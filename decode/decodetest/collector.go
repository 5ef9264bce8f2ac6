// Package decodetest holds what the protocol decoders' tests share: an
// Output that keeps what a decoder published and checks the publication
// contract, a run of packets through the TCP layer as cmd/tapview runs
// it, and a fake decode.Conn for a handler's unit tests (FakeConn). It
// is imported by tests only.
package decodetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
)

// Collector is a decode.Output keeping the latest version of every
// exchange and flow. An exchange published again after its final
// version fails the test, as does a version that does not grow:
// decode.Conn.Publish promises exactly one final publication and bumps
// Version on each.
type Collector struct {
	t     testing.TB
	ex    map[uint64]*decode.Exchange
	order []uint64
	flows map[uint64]*decode.Flow
	notes []sources.Status
}

// NewCollector returns an empty Collector reporting to t.
func NewCollector(t testing.TB) *Collector {
	return &Collector{t: t, ex: map[uint64]*decode.Exchange{}, flows: map[uint64]*decode.Flow{}}
}

// Flow keeps f as its flow's latest version.
func (c *Collector) Flow(f *decode.Flow) { c.flows[f.ID] = f }

// Exchange keeps e as its exchange's latest version.
func (c *Collector) Exchange(e *decode.Exchange) {
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

// Note keeps s.
func (c *Collector) Note(s sources.Status) { c.notes = append(c.notes, s) }

// Exchanges returns the latest versions in first-publication order.
func (c *Collector) Exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.ex[id])
	}
	return out
}

// Flows returns the latest version of every flow, by ID.
func (c *Collector) Flows() []*decode.Flow {
	out := make([]*decode.Flow, 0, len(c.flows))
	for _, f := range c.flows {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *decode.Flow) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// FlowByID returns the latest version of flow id, nil when none came.
func (c *Collector) FlowByID(id uint64) *decode.Flow { return c.flows[id] }

// Notes returns the notes in the order they came.
func (c *Collector) Notes() []sources.Status { return c.notes }

// Decode runs pkts through a TCP decoder offering parsers, ends the
// input, and fails the test for every exchange left pending: at the end
// of input a parser must publish everything it holds as final.
func Decode(t testing.TB, parsers []decode.Parser, pkts []sources.Packet) *Collector {
	t.Helper()
	col := NewCollector(t)
	d := tcp.NewDecoder(col, tcp.Config{Parsers: parsers})
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	for _, e := range col.Exchanges() {
		if !e.State.Final() {
			t.Errorf("exchange %d (%s) left %s", e.ID, e.Method(), e.State)
		}
	}
	return col
}
