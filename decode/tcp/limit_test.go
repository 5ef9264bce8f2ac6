package tcp

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/http1"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/export/synth"
	"github.com/tapview/tapview/sources"
)

// capConns builds synthetic TCP connections to one server from clients
// 10.1.0.1:(40000+i), so tests can interleave their packets.
type capConns struct {
	t     *testing.T
	conns []*synth.TCP
	ord   uint64
}

func (cc *capConns) conn(i int) *synth.TCP {
	for len(cc.conns) <= i {
		client := netip.AddrPortFrom(netip.MustParseAddr("10.1.0.1"), uint16(40000+len(cc.conns)))
		tc, err := synth.NewTCP(client, netip.MustParseAddrPort("10.2.0.1:80"), synth.Options{Source: "cap"})
		if err != nil {
			cc.t.Fatal(err)
		}
		cc.conns = append(cc.conns, tc)
	}
	return cc.conns[i]
}

func (cc *capConns) feed(d *Decoder, pkts []sources.Packet) {
	for i := range pkts {
		cc.ord++
		pkts[i].Ordinal = cc.ord
		d.Packet(&pkts[i])
	}
}

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

// states lists the flows' states in flow ID order.
func states(out *collector) []decode.FlowState {
	var st []decode.FlowState
	for _, id := range out.flowOrder {
		st = append(st, out.flows[id].State)
	}
	return st
}

// TestCapEvictsLeastRecentlyActive: with room for four flows, a fifth
// closes the one whose last packet is oldest (not the oldest flow), a
// sixth the next; evicted flows end as timed out, are counted, do not
// linger, and a pending exchange of an evicted flow is published final.
func TestCapEvictsLeastRecentlyActive(t *testing.T) {
	out := newCollector()
	d := NewDecoder(out, Config{Parsers: []decode.Parser{http1.New()}, MaxFlows: 4, SkipOrdinals: true})
	cc := &capConns{t: t}
	for i := 0; i < 4; i++ {
		cc.feed(d, cc.conn(i).Open(sec(i)))
	}
	// Flow 1 sends a request that is never answered, and is then the
	// most recently active; flow 2 sends one too, stamped before flow 3
	// opened (fed late, as from a merged interface), so it is the least
	// recently active although flow 1 is older.
	cc.feed(d, cc.conn(0).Send(decode.ClientToServer, []byte("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"), sec(4)))
	cc.feed(d, cc.conn(1).Send(decode.ClientToServer, []byte("GET /b HTTP/1.1\r\nHost: h\r\n\r\n"), sec(1).Add(500*time.Millisecond)))
	if d.OpenFlows() != 4 || d.Evicted() != 0 {
		t.Fatalf("%d open, %d evicted before the cap", d.OpenFlows(), d.Evicted())
	}
	cc.feed(d, cc.conn(4).Open(sec(5)))
	want := []decode.FlowState{decode.FlowOpen, decode.FlowTimedOut, decode.FlowOpen, decode.FlowOpen, decode.FlowOpen}
	if got := states(out); !slices.Equal(got, want) {
		t.Fatalf("after the fifth flow: %v, want %v", got, want)
	}
	cc.feed(d, cc.conn(5).Open(sec(6)))
	want = []decode.FlowState{decode.FlowOpen, decode.FlowTimedOut, decode.FlowTimedOut, decode.FlowOpen, decode.FlowOpen, decode.FlowOpen}
	if got := states(out); !slices.Equal(got, want) {
		t.Fatalf("after the sixth flow: %v, want %v", got, want)
	}
	if d.Evicted() != 2 || d.Stats().Evicted != 2 || d.OpenFlows() != 4 {
		t.Fatalf("evicted %d (stats %d), open %d", d.Evicted(), d.Stats().Evicted, d.OpenFlows())
	}
	// The request of evicted flow 2 was finalised and published.
	var ex *decode.Exchange
	for _, e := range out.ex {
		if e.FlowID == out.flowOrder[1] {
			ex = e
		}
	}
	if ex == nil || !ex.State.Final() || ex.Request == nil || ex.Request.Target != "/b" {
		t.Fatalf("exchange of the evicted flow: %+v", ex)
	}
	// A stray packet of an evicted flow starts a new (partial) flow
	// instead of lingering in the closed table.
	cc.feed(d, cc.conn(1).Send(decode.ServerToClient, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), sec(7)))
	if n := len(out.flowOrder); n != 7 || !out.flows[out.flowOrder[6]].Partial {
		t.Fatalf("%d flows after a stray packet of an evicted flow", n)
	}
	d.Finish(sec(8))
	if d.OpenFlows() != 0 {
		t.Fatalf("%d flows still listed after Finish", d.OpenFlows())
	}
	for _, e := range out.ex {
		if !e.State.Final() {
			t.Errorf("exchange %d left %s", e.ID, e.State)
		}
	}
}

// TestCapCountsUDPAndNotesRarely floods a decoder capped at 100 flows
// with UDP conversations and TCP SYNs inside one second: open flows never
// exceed the cap by more than the flow being added, everything beyond is
// counted as evicted, and the output gets one note during the flood and
// one at Finish, not one per flow.
func TestCapCountsUDPAndNotesRarely(t *testing.T) {
	const maxFlows, n = 100, 3000
	out := newCollector()
	d := NewDecoder(out, Config{MaxFlows: maxFlows, SkipOrdinals: true})
	cc := &capConns{t: t}
	server := netip.MustParseAddrPort("10.2.0.53:5353")
	for i := 0; i < n; i++ {
		ts := t0.Add(time.Duration(i) * 100 * time.Microsecond)
		if i%2 == 0 {
			cc.feed(d, cc.conn(i).Open(ts)[:1])
		} else {
			client := netip.AddrPortFrom(netip.MustParseAddr("10.3.0.1"), uint16(20000+i))
			u, err := synth.NewUDP(client, server, synth.Options{Source: "cap"})
			if err != nil {
				t.Fatal(err)
			}
			p, err := u.Send(decode.ClientToServer, []byte(fmt.Sprint("ping ", i)), ts)
			if err != nil {
				t.Fatal(err)
			}
			cc.feed(d, []sources.Packet{p})
		}
		if d.OpenFlows() > maxFlows {
			t.Fatalf("packet %d: %d open flows over the cap", i, d.OpenFlows())
		}
	}
	st := d.Stats()
	if got := st.TCPFlows + st.UDPFlows - int64(d.OpenFlows()); d.Evicted() != got {
		t.Fatalf("evicted %d, want %d (created - open)", d.Evicted(), got)
	}
	if len(out.notes) != 1 {
		t.Fatalf("%d notes during the flood, want 1", len(out.notes))
	}
	d.Finish(time.Time{})
	if len(out.notes) != 2 || out.notes[1].Kind != "evicted" || out.notes[1].Level != sources.Warning {
		t.Fatalf("notes after Finish: %+v", out.notes)
	}
	timedOut := 0
	for _, f := range out.flows {
		if f.State == decode.FlowTimedOut {
			timedOut++
		}
	}
	if int64(timedOut) != d.Evicted() {
		t.Fatalf("%d flows timed out, %d evicted", timedOut, d.Evicted())
	}
}

// TestSkippedFlushesChangeNothing: maintenance skips gopacket's flush
// when no connection is idle past the timeout and no out-of-order data
// waits past the gap timeout. With short timeouts over captures with
// retransmissions, out-of-order segments, idle services and truncation,
// the output must equal that of flushing at every maintenance.
func TestSkippedFlushesChangeNothing(t *testing.T) {
	for _, name := range []string{"mix_non_http_services.pcap", "http11_download_retrans_ooo.pcap", "http11_range_keepalive_out_of_order.pcap",
		"http11_pipelined_40req_retrans.pcap", "pcapng_multi_interface_ns_us.pcapng", "http11_snaplen96_truncated.pcap"} {
		var dumps [2]string
		for i, always := range []bool{true, false} {
			rec := &recorder{name: "rec"}
			out := newCollector()
			d := NewDecoder(out, Config{Parsers: []decode.Parser{rec}, IdleTimeout: 2 * time.Second, GapTimeout: 50 * time.Millisecond,
				UDPTimeout: time.Second, MaintainEvery: 10 * time.Millisecond})
			d.alwaysFlush = always
			pkts := corpustest.Read(t, name)
			for i := range pkts {
				d.Packet(&pkts[i])
			}
			d.Finish(time.Time{})
			dumps[i] = dump(out, rec)
		}
		if dumps[0] != dumps[1] {
			t.Errorf("%s: skipping flushes changed the output:\n%s\nvs always flushing:\n%s", name, dumps[1], dumps[0])
		}
	}
}
