package http1

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// fakeConn records what a handler publishes and checks the Conn contract:
// at most one final publication per exchange, and published messages never
// change afterwards.
type fakeConn struct {
	t      testing.TB
	flow   decode.Flow
	lim    decode.Limits
	nextID uint64

	pubs   []publication
	latest map[uint64]*decode.Exchange
	order  []uint64
	final  map[uint64]int

	protos   []string
	swaps    int
	notes    []string
	handoffs map[string]*recorder // protocols Handoff answers for
	asked    []string
}

// publication keeps the shallow copy a real Conn would hand to readers and
// a deep snapshot to detect later mutation through shared pointers.
type publication struct {
	shallow decode.Exchange
	deep    decode.Exchange
}

func newFakeConn(t testing.TB) *fakeConn {
	return &fakeConn{
		t:      t,
		flow:   decode.Flow{ID: 1, Transport: "tcp", Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:80")},
		latest: map[uint64]*decode.Exchange{},
		final:  map[uint64]int{},
	}
}

func (c *fakeConn) Flow() *decode.Flow { return &c.flow }

func (c *fakeConn) NewExchange(proto string) *decode.Exchange {
	c.nextID++
	return &decode.Exchange{ID: c.nextID, FlowID: c.flow.ID, Proto: proto, Client: c.flow.Client, Server: c.flow.Server, State: decode.Pending}
}

func (c *fakeConn) Publish(e *decode.Exchange) {
	if n := c.final[e.ID]; n > 0 {
		c.t.Errorf("exchange %d published again after its final publication (state %s)", e.ID, e.State)
	}
	if e.State.Final() {
		c.final[e.ID]++
	}
	e.Version++ // as decode/tcp's Conn does
	cp := *e
	if _, ok := c.latest[e.ID]; !ok {
		c.order = append(c.order, e.ID)
	}
	c.latest[e.ID] = &cp
	c.pubs = append(c.pubs, publication{shallow: cp, deep: deepCopy(e)})
}

func (c *fakeConn) SetProto(p string)      { c.protos = append(c.protos, p) }
func (c *fakeConn) SetTLS(*decode.TLSInfo) {}
func (c *fakeConn) Limits() decode.Limits  { return c.lim }
func (c *fakeConn) Note(msg string)        { c.notes = append(c.notes, msg) }
func (c *fakeConn) SwapDirections() {
	c.swaps++
	c.flow.Client, c.flow.Server = c.flow.Server, c.flow.Client
}
func (c *fakeConn) Handoff(p string) decode.StreamHandler {
	c.asked = append(c.asked, p)
	if r, ok := c.handoffs[p]; ok {
		return r
	}
	return nil
}

// exchanges returns the latest version of every exchange in first
// publication order.
func (c *fakeConn) exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.latest[id])
	}
	return out
}

// check verifies the contract after End: every exchange published has
// exactly one final publication, and no published message changed.
func (c *fakeConn) check() {
	c.t.Helper()
	for _, id := range c.order {
		if c.final[id] != 1 {
			c.t.Errorf("exchange %d: %d final publications, want 1", id, c.final[id])
		}
	}
	for i, p := range c.pubs {
		if !reflect.DeepEqual(deepCopy(&p.shallow), p.deep) {
			c.t.Errorf("publication %d (exchange %d, %s) changed after Publish", i, p.shallow.ID, p.shallow.State)
		}
	}
}

func deepCopy(e *decode.Exchange) decode.Exchange {
	cp := *e
	cp.Request = copyMsg(e.Request)
	cp.Response = copyMsg(e.Response)
	cp.Interim = nil
	for _, m := range e.Interim {
		cp.Interim = append(cp.Interim, copyMsg(m))
	}
	return cp
}

func copyMsg(m *decode.Message) *decode.Message {
	if m == nil {
		return nil
	}
	c := *m
	c.Headers = append([]decode.Header(nil), m.Headers...)
	c.Trailers = append([]decode.Header(nil), m.Trailers...)
	c.Body = bytes.Clone(m.Body)
	c.ContentEncoding = append([]string(nil), m.ContentEncoding...)
	return &c
}

// recorder is a StreamHandler standing in for h2/ws after a handoff.
type recorder struct {
	data  [2]bytes.Buffer
	gaps  int
	ended bool
}

func (r *recorder) Data(dir decode.Direction, b []byte, _ time.Time) { r.data[dir].Write(b) }
func (r *recorder) Gap(decode.Direction, int, time.Time)             { r.gaps++ }
func (r *recorder) End(decode.FlowState, time.Time)                  { r.ended = true }

// step is one delivery to the handler.
type step struct {
	dir  decode.Direction
	data string
	gap  int // when data is "" and gap != 0: a Gap of this size (-1 unknown)
	at   int // seconds after t0
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// run feeds steps to a fresh handler and ends the flow with end.
func run(t testing.TB, c *fakeConn, end decode.FlowState, steps ...step) []*decode.Exchange {
	t.Helper()
	h := New().New(c)
	last := 0
	for _, s := range steps {
		// Steps name directions as the transport first guessed them; after
		// SwapDirections a real transport labels them the other way.
		dir := s.dir
		if c.swaps%2 == 1 {
			dir = dir.Reverse()
		}
		if s.data == "" && s.gap != 0 {
			h.Gap(dir, s.gap, at(s.at))
		} else {
			h.Data(dir, []byte(s.data), at(s.at))
		}
		last = max(last, s.at)
	}
	h.End(end, at(last+1))
	c.check()
	return c.exchanges()
}

const (
	c2s = decode.ClientToServer
	s2c = decode.ServerToClient
)
