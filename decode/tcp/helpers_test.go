package tcp

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// collector is a decode.Output that keeps the latest version of every
// flow and exchange and counts publications.
type collector struct {
	flows     map[uint64]*decode.Flow
	flowOrder []uint64
	flowPubs  int
	ex        map[uint64]*decode.Exchange
	exPubs    int
	notes     []sources.Status
}

func newCollector() *collector {
	return &collector{flows: map[uint64]*decode.Flow{}, ex: map[uint64]*decode.Exchange{}}
}

func (c *collector) Flow(f *decode.Flow) {
	if _, ok := c.flows[f.ID]; !ok {
		c.flowOrder = append(c.flowOrder, f.ID)
	}
	c.flows[f.ID] = f
	c.flowPubs++
}

func (c *collector) Exchange(e *decode.Exchange) {
	c.ex[e.ID] = e
	c.exPubs++
}

func (c *collector) Note(s sources.Status) { c.notes = append(c.notes, s) }

func (c *collector) transport(tr string) []*decode.Flow {
	var out []*decode.Flow
	for _, id := range c.flowOrder {
		if f := c.flows[id]; f.Transport == tr {
			out = append(out, f)
		}
	}
	return out
}

// event is one handler callback as the recorder saw it.
type event struct {
	dir  decode.Direction
	data []byte
	gap  int
	ts   time.Time
}

// recorder is a test parser that accepts what accept says yes to and
// records every callback per connection.
type recorder struct {
	name   string
	accept func(dir decode.Direction, first []byte) decode.Verdict
	conns  []*recConn
}

type recConn struct {
	c      decode.Conn
	events []event
	ended  []decode.FlowState
	endTS  time.Time
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Detect(_ *decode.Flow, dir decode.Direction, first []byte) decode.Verdict {
	if r.accept == nil {
		return decode.Yes
	}
	return r.accept(dir, first)
}

func (r *recorder) New(c decode.Conn) decode.StreamHandler {
	rc := &recConn{c: c}
	r.conns = append(r.conns, rc)
	return rc
}

func (rc *recConn) Data(dir decode.Direction, data []byte, ts time.Time) {
	rc.events = append(rc.events, event{dir: dir, data: bytes.Clone(data), ts: ts})
}

func (rc *recConn) Gap(dir decode.Direction, n int, ts time.Time) {
	rc.events = append(rc.events, event{dir: dir, gap: n, ts: ts})
}

func (rc *recConn) End(state decode.FlowState, ts time.Time) {
	rc.ended = append(rc.ended, state)
	rc.endTS = ts
}

// stream returns the bytes of one direction and the total gap size.
func (rc *recConn) stream(dir decode.Direction) (data []byte, gaps int) {
	for _, e := range rc.events {
		if e.dir != dir {
			continue
		}
		data = append(data, e.data...)
		if e.gap > 0 {
			gaps += e.gap
		}
	}
	return data, gaps
}

// run decodes a corpus file with the given parsers and returns the
// collector and decoder.
func run(t testing.TB, name string, cfg Config) (*collector, *Decoder) {
	t.Helper()
	out := newCollector()
	d := NewDecoder(out, cfg)
	pkts := corpustest.Read(t, name)
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	return out, d
}

// dump renders flows and recorder streams canonically, for determinism
// checks.
func dump(out *collector, recs ...*recorder) string {
	var b strings.Builder
	ids := slices.Sorted(mapsKeys(out.flows))
	for _, id := range ids {
		f := out.flows[id]
		fmt.Fprintf(&b, "flow %d %s %s %v->%v %s partial=%v c2s=%d/%d s2c=%d/%d ord=%d err=%q\n", f.ID, f.Transport, f.Proto,
			f.Client, f.Server, f.State, f.Partial, f.PacketsC2S, f.BytesC2S, f.PacketsS2C, f.BytesS2C, len(f.Ordinals), f.Error)
	}
	for _, r := range recs {
		for i, rc := range r.conns {
			fmt.Fprintf(&b, "conn %d flow %d ended %v\n", i, rc.c.Flow().ID, rc.ended)
			for _, e := range rc.events {
				fmt.Fprintf(&b, "  %s %d gap=%d %s\n", e.dir, len(e.data), e.gap, e.ts.UTC().Format(time.RFC3339Nano))
			}
		}
	}
	return b.String()
}

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		keys := make([]K, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			if !yield(k) {
				return
			}
		}
	}
}
