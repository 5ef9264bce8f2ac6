package tcp

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/sources"
)

// recycleLog records every publication in order.
type recycleLog struct {
	flows []decode.Flow
	ex    []decode.Exchange
	notes int
}

func (p *recycleLog) Flow(f *decode.Flow)         { p.flows = append(p.flows, *f) }
func (p *recycleLog) Exchange(e *decode.Exchange) { p.ex = append(p.ex, *e) }
func (p *recycleLog) Note(sources.Status)         { p.notes++ }

// TestRecycledConnsChangeNothing floods a decoder capped at 20 flows with
// connections of every kind (handshakes only, requests never answered,
// answered ones, closed and reset ones, a client port reused) and
// requires every publication, in order, to be the same with conns
// recycled as without, and recycling to have happened.
func TestRecycledConnsChangeNothing(t *testing.T) {
	cc := &capConns{t: t}
	var pkts []sources.Packet
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Millisecond) }
	for i := 0; i < 400; i++ {
		c := cc.conn(i % 350) // the last 50 reuse earlier client ports
		if c.Done() {
			continue
		}
		pkts = append(pkts, c.Open(at(i))...)
		switch i % 6 {
		case 1:
			pkts = append(pkts, c.Send(decode.ClientToServer, []byte(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i)), at(i).Add(time.Millisecond))...)
		case 2:
			pkts = append(pkts, c.Send(decode.ClientToServer, []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), at(i).Add(time.Millisecond))...)
			pkts = append(pkts, c.Send(decode.ServerToClient, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), at(i).Add(2*time.Millisecond))...)
			pkts = append(pkts, c.Close(at(i).Add(3*time.Millisecond))...)
		case 3:
			pkts = append(pkts, c.Reset(decode.ServerToClient, at(i).Add(time.Millisecond))...)
		}
	}
	run := func(recycle bool) (*recycleLog, int) {
		out := &recycleLog{}
		d := NewDecoder(out, Config{Parsers: []decode.Parser{http1.New()}, MaxFlows: 20})
		d.noRecycle = !recycle
		for i := range pkts {
			p := pkts[i]
			p.Ordinal = uint64(i + 1)
			d.Packet(&p)
		}
		d.Finish(at(500))
		return out, d.reused
	}
	with, reused := run(true)
	without, _ := run(false)
	if reused == 0 {
		t.Fatal("no conn was reused: the test exercises nothing")
	}
	if len(with.flows) != len(without.flows) || len(with.ex) != len(without.ex) || with.notes != without.notes {
		t.Fatalf("recycling: %d flow, %d exchange publications, %d notes; without: %d, %d, %d",
			len(with.flows), len(with.ex), with.notes, len(without.flows), len(without.ex), without.notes)
	}
	for i := range with.flows {
		if !reflect.DeepEqual(with.flows[i], without.flows[i]) {
			t.Fatalf("flow publication %d differs:\n%+v\nwithout recycling:\n%+v", i, with.flows[i], without.flows[i])
		}
	}
	for i := range with.ex {
		a, b := with.ex[i], without.ex[i]
		if a.ID != b.ID || a.FlowID != b.FlowID || a.State != b.State || a.Version != b.Version {
			t.Fatalf("exchange publication %d differs: %d/%d %s v%d, without recycling %d/%d %s v%d", i, a.ID, a.FlowID, a.State, a.Version, b.ID, b.FlowID, b.State, b.Version)
		}
	}
	t.Logf("%d conns reused, %d flow publications", reused, len(with.flows))
}
