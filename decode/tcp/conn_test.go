package tcp

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
)

// scripted is a parser whose handler runs a function on every Data call.
type scripted struct {
	name   string
	onData func(c decode.Conn, dir decode.Direction, data []byte)
	dirs   []decode.Direction
	ends   int
}

func (s *scripted) Name() string                                                 { return s.name }
func (s *scripted) Detect(*decode.Flow, decode.Direction, []byte) decode.Verdict { return decode.Yes }
func (s *scripted) New(c decode.Conn) decode.StreamHandler                       { return &scriptedConn{s: s, c: c} }

type scriptedConn struct {
	s *scripted
	c decode.Conn
}

func (h *scriptedConn) Data(dir decode.Direction, data []byte, _ time.Time) {
	h.s.dirs = append(h.s.dirs, dir)
	if h.s.onData != nil {
		h.s.onData(h.c, dir, data)
	}
}
func (h *scriptedConn) Gap(decode.Direction, int, time.Time) {}
func (h *scriptedConn) End(decode.FlowState, time.Time)      { h.s.ends++ }

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:8080")
	t0  = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
)

func TestExchangeIDsAndPublishCopies(t *testing.T) {
	var made []*decode.Exchange
	p := &scripted{name: "x", onData: func(c decode.Conn, dir decode.Direction, data []byte) {
		if dir != decode.ClientToServer {
			return
		}
		e := c.NewExchange("x/1")
		e.Request = &decode.Message{Method: "GET", Target: string(data)}
		c.Publish(e)
		made = append(made, e)
	}}
	out := newCollector()
	d := NewDecoder(out, Config{Parsers: []decode.Parser{p}})
	a := d.OpenStream("tap", cli, srv, t0)
	b := d.OpenStream("tap", netip.MustParseAddrPort("10.0.0.3:1"), srv, t0)
	a.Data(decode.ClientToServer, []byte("/a"), t0)
	b.Data(decode.ClientToServer, []byte("/b"), t0)
	a.Data(decode.ClientToServer, []byte("/c"), t0)
	for i, e := range made {
		if e.ID != uint64(i+1) {
			t.Errorf("exchange %d has ID %d", i, e.ID)
		}
	}
	if made[1].FlowID != b.FlowID() || made[0].FlowID != a.FlowID() || made[0].Source != "tap" ||
		made[0].Client != cli || made[0].Server != srv || made[0].State != decode.Pending {
		t.Errorf("exchange fields: %+v", made[0])
	}
	// The published copy does not change when the parser edits its own.
	e := made[0]
	pub := out.ex[e.ID]
	if pub == e || pub.Request == e.Request || pub.Version != 1 {
		t.Fatalf("publication is not a copy (version %d)", pub.Version)
	}
	e.Request.Method = "POST"
	e.Response = &decode.Message{Status: 200}
	e.Interim = []*decode.Message{{Status: 100}}
	e.GRPC = &decode.GRPCInfo{Service: "s"}
	e.DNS = &decode.DNSInfo{Name: "n"}
	if pub.Request.Method != "GET" || pub.Response != nil {
		t.Errorf("published copy changed with the parser's exchange")
	}
	a.c.Publish(e)
	pub2 := out.ex[e.ID]
	if pub2.Version != 2 || pub2.Response.Status != 200 || pub2.Interim[0] == e.Interim[0] || pub2.GRPC == e.GRPC || pub2.DNS == e.DNS {
		t.Errorf("second publication not deep enough: %+v", pub2)
	}
	e.State = decode.Complete
	a.c.Publish(e)
	e.Response.Status = 500
	a.c.Publish(e)
	if out.ex[e.ID].Version != 3 || out.ex[e.ID].State != decode.Complete || d.Stats().PublishAfterFinal != 1 {
		t.Errorf("publish after final: version %d stats %+v", out.ex[e.ID].Version, d.Stats())
	}
	if d.Stats().Exchanges != 3 {
		t.Errorf("exchanges counted %d", d.Stats().Exchanges)
	}
}

func TestConnSetters(t *testing.T) {
	h2 := &scripted{name: "h2"}
	var handed decode.StreamHandler
	var missing decode.StreamHandler = &scriptedConn{}
	p := &scripted{name: "http/1.1", onData: func(c decode.Conn, dir decode.Direction, data []byte) {
		switch string(data) {
		case "tls":
			c.SetTLS(&decode.TLSInfo{SNI: "example.org", Version: "TLS 1.3"})
		case "swap":
			c.SwapDirections()
		case "note":
			for i := 0; i < 10; i++ {
				c.Note("problem " + string(rune('a'+i)))
			}
		case "handoff":
			handed = c.Handoff("h2")
			missing = c.Handoff("nope")
		}
	}}
	out := newCollector()
	d := NewDecoder(out, Config{Parsers: []decode.Parser{p, h2}})
	s := d.OpenStream("tap", cli, srv, t0)
	s.Data(decode.ClientToServer, []byte("tls"), t0)
	s.Data(decode.ServerToClient, []byte("abcd"), t0)
	f := out.flows[s.FlowID()]
	if f.SNI != "example.org" || f.TLS == nil || f.TLS.Version != "TLS 1.3" || f.Proto != "http/1.1" {
		t.Errorf("after SetTLS: %+v", f)
	}
	if e := s.c.NewExchange("x"); e.SNI != "example.org" {
		t.Errorf("exchange SNI %q", e.SNI)
	}
	s.Data(decode.ClientToServer, []byte("swap"), t0)
	f = out.flows[s.FlowID()]
	if f.Client != srv || f.Server != cli || f.BytesC2S != 4 || f.BytesS2C != 7 || f.PacketsC2S != 1 || f.PacketsS2C != 2 {
		t.Errorf("after swap: %v->%v bytes %d/%d packets %d/%d", f.Client, f.Server, f.BytesC2S, f.BytesS2C, f.PacketsC2S, f.PacketsS2C)
	}
	// The stream's client keeps sending; the handler now sees it as the
	// server side.
	s.Data(decode.ClientToServer, []byte("x"), t0)
	if got := p.dirs[len(p.dirs)-1]; got != decode.ServerToClient {
		t.Errorf("after swap, original client's bytes arrive as %s", got)
	}
	s.Data(decode.ClientToServer, []byte("note"), t0)
	f = out.flows[s.FlowID()]
	if strings.Count(f.Error, "problem") != maxNotes || !strings.HasPrefix(f.Error, "problem a; problem b") {
		t.Errorf("notes: %q", f.Error)
	}
	s.Data(decode.ClientToServer, []byte("handoff"), t0)
	if handed == nil || missing != nil || out.flows[s.FlowID()].Proto != "h2" {
		t.Errorf("handoff: %v %v proto %q", handed, missing, out.flows[s.FlowID()].Proto)
	}
	s.Close(decode.FlowClosed, t0.Add(time.Second))
	s.Data(decode.ClientToServer, []byte("late"), t0.Add(2*time.Second))
	f = out.flows[s.FlowID()]
	if f.State != decode.FlowClosed || p.ends != 1 || !f.Last.Equal(t0.Add(time.Second)) {
		t.Errorf("close: state %s ends %d last %v", f.State, p.ends, f.Last)
	}
}

// TestParserPanicBecomesNote: a handler that panics is dropped with a
// note on the flow; decoding goes on.
func TestParserPanicBecomesNote(t *testing.T) {
	p := &scripted{name: "bad", onData: func(decode.Conn, decode.Direction, []byte) { panic("boom") }}
	out, d := run(t, "http11_keepalive_5req_1conn.pcap", Config{Parsers: []decode.Parser{p}})
	f := out.transport("tcp")[0]
	if !strings.Contains(f.Error, "boom") || d.Stats().ParserPanics != 1 || len(p.dirs) != 1 || p.ends != 0 {
		t.Errorf("error %q panics %d data calls %d ends %d", f.Error, d.Stats().ParserPanics, len(p.dirs), p.ends)
	}
	if f.State != decode.FlowClosed || f.BytesS2C != 39644 {
		t.Errorf("flow not decoded to the end: %s %d", f.State, f.BytesS2C)
	}
}
