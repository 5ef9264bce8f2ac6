package http2

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/tcp"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// collector is a decode.Output keeping the latest version of every flow
// and exchange, checking that no exchange is published after its final
// version and that published messages never change afterwards.
type collector struct {
	t        testing.TB
	flows    map[uint64]*decode.Flow
	ex       map[uint64]*decode.Exchange
	order    []uint64
	finals   map[uint64]int
	pubs     int
	snapshot map[uint64]string // canonical text of each final version

	// everyVersion keeps every published copy with its text then, so
	// checkVersions can prove that later parsing never overwrote bytes
	// readers already had.
	everyVersion bool
	versions     []version
}

type version struct {
	e    *decode.Exchange
	text string
}

// checkVersions fails if any published copy reads differently now.
func (c *collector) checkVersions() {
	c.t.Helper()
	for _, v := range c.versions {
		if got := dump(v.e); got != v.text {
			c.t.Fatalf("published version %d of exchange %d changed:\n%s\nvs\n%s", v.e.Version, v.e.ID, got, v.text)
		}
	}
}

func newCollector(t testing.TB) *collector {
	return &collector{t: t, flows: map[uint64]*decode.Flow{}, ex: map[uint64]*decode.Exchange{}, finals: map[uint64]int{}, snapshot: map[uint64]string{}}
}

func (c *collector) Flow(f *decode.Flow) { c.flows[f.ID] = f }

func (c *collector) Exchange(e *decode.Exchange) {
	c.pubs++
	if _, ok := c.ex[e.ID]; !ok {
		c.order = append(c.order, e.ID)
	}
	if c.finals[e.ID] > 0 {
		c.t.Errorf("exchange %d published after its final version", e.ID)
	}
	c.ex[e.ID] = e
	if c.everyVersion {
		c.versions = append(c.versions, version{e, dump(e)})
	}
	if e.State.Final() {
		c.finals[e.ID]++
		c.snapshot[e.ID] = dump(e)
	}
}

func (c *collector) Note(sources.Status) {}

// exchanges returns the latest versions in first-publication order.
func (c *collector) exchanges() []*decode.Exchange {
	out := make([]*decode.Exchange, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.ex[id])
	}
	return out
}

// checkFinal fails unless every exchange was finalised exactly once and
// its final version still reads the same (nothing shared was overwritten).
func (c *collector) checkFinal() {
	c.t.Helper()
	for _, id := range c.order {
		if c.finals[id] != 1 {
			c.t.Errorf("exchange %d: %d final publications", id, c.finals[id])
			continue
		}
		if got := dump(c.ex[id]); got != c.snapshot[id] {
			c.t.Errorf("exchange %d changed after publication:\n%s\nvs\n%s", id, got, c.snapshot[id])
		}
	}
}

// dump is a canonical text of an exchange, for comparisons.
func dump(e *decode.Exchange) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s stream=%d state=%s err=%q\n", e.Proto, e.StreamID, e.State, e.Error)
	for _, m := range []*decode.Message{e.Request, e.Response} {
		if m == nil {
			b.WriteString("-\n")
			continue
		}
		fmt.Fprintf(&b, "%s %s %s %d hdrs=%q trailers=%q body=%d/%d %q parts=%d\n", m.Method, m.Host, m.Target, m.Status, m.Headers, m.Trailers, len(m.Body), m.BodySize, m.Body, len(m.Parts))
		for _, p := range m.Parts {
			fmt.Fprintf(&b, "  part %d %v %q\n", p.Size, p.Truncated, p.Data)
		}
	}
	if e.GRPC != nil {
		fmt.Fprintf(&b, "grpc %+v\n", *e.GRPC)
	}
	return b.String()
}

// headersFrames counts the HEADERS frames an exchange was built from:
// the request's, each interim and the final response's, and a trailer
// block per side.
func headersFrames(e *decode.Exchange) int {
	n := len(e.Interim)
	for _, m := range []*decode.Message{e.Request, e.Response} {
		if m == nil || m.Proto == "HTTP/1.1" { // stream 1's request came as HTTP/1.1 (h2c upgrade)
			continue
		}
		if len(m.Headers) > 0 {
			n++
		}
		if m.Trailers != nil {
			n++
		}
	}
	return n
}

// packetEmitter feeds a source's packets to a TCP decoder.
type packetEmitter struct{ d *tcp.Decoder }

func (e packetEmitter) Packet(p sources.Packet) { e.d.Packet(&p) }
func (e packetEmitter) Status(sources.Status)   {}

// decodeFile runs a capture file through sources/pcapfile and decode/tcp
// with the HTTP/1 parser and p.
func decodeFile(t testing.TB, path string, p *Parser, lim decode.Limits) *collector {
	t.Helper()
	src, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out := newCollector(t)
	d := tcp.NewDecoder(out, tcp.Config{Parsers: []decode.Parser{http1.New(), p}, Limits: lim})
	if err := src.Run(context.Background(), packetEmitter{d}); err != nil && err != io.EOF {
		t.Logf("%s: %v", path, err)
	}
	d.Finish(time.Time{})
	return out
}

// decodePackets runs packets through decode/tcp with the HTTP/1 parser
// and p.
func decodePackets(t testing.TB, pkts []sources.Packet, p *Parser, lim decode.Limits) *collector {
	t.Helper()
	out := newCollector(t)
	d := tcp.NewDecoder(out, tcp.Config{Parsers: []decode.Parser{http1.New(), p}, Limits: lim})
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	return out
}

// byStream sorts exchanges of one flow by stream id.
func byStream(xs []*decode.Exchange) []*decode.Exchange {
	out := append([]*decode.Exchange(nil), xs...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].FlowID != out[j].FlowID {
			return out[i].FlowID < out[j].FlowID
		}
		return out[i].StreamID < out[j].StreamID
	})
	return out
}

// fakeConn is a decode.Conn for feeding a handler directly.
type fakeConn struct {
	flow     decode.Flow
	lim      decode.Limits
	out      *collector
	nextID   uint64
	swaps    int
	notes    []string
	finalIDs map[uint64]bool
}

func newFakeConn(t testing.TB) *fakeConn {
	return &fakeConn{
		flow: decode.Flow{ID: 1, Transport: "tcp",
			Client: netip.MustParseAddrPort("[::1]:40000"), Server: netip.MustParseAddrPort("[::1]:50051")},
		out:      newCollector(t),
		finalIDs: map[uint64]bool{},
	}
}

func (c *fakeConn) Flow() *decode.Flow { return &c.flow }
func (c *fakeConn) NewExchange(proto string) *decode.Exchange {
	c.nextID++
	return &decode.Exchange{ID: c.nextID, FlowID: c.flow.ID, Proto: proto, Client: c.flow.Client, Server: c.flow.Server, State: decode.Pending}
}

// Publish copies as decode/tcp does (decode.Exchange.Copy).
func (c *fakeConn) Publish(e *decode.Exchange) {
	if c.finalIDs[e.ID] {
		c.out.t.Errorf("exchange %d published after final", e.ID)
		return
	}
	e.Version++
	cp := e.Copy()
	if e.State.Final() {
		c.finalIDs[e.ID] = true
	}
	c.out.Exchange(cp)
}
func (c *fakeConn) SetProto(p string)                   { c.flow.Proto = p }
func (c *fakeConn) SetTLS(*decode.TLSInfo)              {}
func (c *fakeConn) Handoff(string) decode.StreamHandler { return nil }
func (c *fakeConn) Limits() decode.Limits               { return c.lim }
func (c *fakeConn) Note(msg string)                     { c.notes = append(c.notes, msg) }
func (c *fakeConn) SwapDirections() {
	c.swaps++
	c.flow.Client, c.flow.Server = c.flow.Server, c.flow.Client
}
