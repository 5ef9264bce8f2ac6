package tcp

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// seg builds one IPv4 TCP segment as a raw-IP packet.
type segBuilder struct {
	t       *testing.T
	ordinal uint64
}

func (b *segBuilder) seg(ts time.Time, fromClient bool, seq, ack uint32, flags string, payload []byte) sources.Packet {
	b.t.Helper()
	c, s := net.IP{10, 9, 0, 1}, net.IP{10, 9, 0, 2}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: c, DstIP: s}
	tcp := &layers.TCP{SrcPort: 50000, DstPort: 80, Seq: seq, Ack: ack, Window: 1000}
	if !fromClient {
		ip.SrcIP, ip.DstIP = s, c
		tcp.SrcPort, tcp.DstPort = 80, 50000
	}
	for _, f := range flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		case 'P':
			tcp.PSH = true
		}
	}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp, gopacket.Payload(payload)); err != nil {
		b.t.Fatal(err)
	}
	b.ordinal++
	return sources.Packet{Timestamp: ts, LinkType: sources.LinkRaw, Data: bytes.Clone(buf.Bytes()), Source: "synthetic", Ordinal: b.ordinal, OrigLen: len(buf.Bytes())}
}

func TestMidStreamFlowIsPartial(t *testing.T) {
	rec := &recorder{name: "rec"}
	out, _ := run(t, "http11_ipv6_loopback_chunked_midstream.pcap", Config{Parsers: []decode.Parser{rec}})
	if len(rec.conns) != 1 {
		t.Fatalf("%d connections with data", len(rec.conns))
	}
	f := out.flows[rec.conns[0].c.Flow().ID]
	if !f.Partial || f.State != decode.FlowPartial || rec.conns[0].ended[0] != decode.FlowPartial {
		t.Errorf("partial=%v state=%s ended=%v", f.Partial, f.State, rec.conns[0].ended)
	}
	if f.Server.Port() != 8080 {
		t.Errorf("server guessed as %v", f.Server)
	}
	c2s, _ := rec.conns[0].stream(decode.ClientToServer)
	if !bytes.HasPrefix(c2s, []byte("GET ")) {
		t.Errorf("client stream starts %q", c2s[:min(8, len(c2s))])
	}
	// A connection that starts with its SYN is not partial.
	out, _ = run(t, "http11_get_plain.pcap", Config{})
	if f := out.transport("tcp")[0]; f.Partial || f.State != decode.FlowClosed {
		t.Errorf("get_plain: partial=%v state=%s", f.Partial, f.State)
	}
}

// TestSnaplenCutDeliversThenGaps: each cut segment gives its captured
// bytes, then a gap for the rest, and the stream goes on to its FIN.
func TestSnaplenCutDeliversThenGaps(t *testing.T) {
	rec := &recorder{name: "rec"}
	out, d := run(t, "http11_snaplen96_truncated.pcap", Config{Parsers: []decode.Parser{rec}})
	rc := rec.conns[0]
	f := out.flows[rc.c.Flow().ID]
	if f.State != decode.FlowClosed || rc.ended[0] != decode.FlowClosed {
		t.Errorf("state %s", f.State)
	}
	if st := d.Stats(); st.Truncated != 3 || st.Gaps != 3 {
		t.Errorf("truncated %d gaps %d", st.Truncated, st.Gaps)
	}
	var kinds []string
	for _, e := range rc.events {
		if e.gap > 0 {
			kinds = append(kinds, e.dir.String()+"-gap")
		} else {
			kinds = append(kinds, e.dir.String()+"-data")
		}
	}
	want := []string{"c2s-data", "c2s-gap", "s2c-data", "s2c-gap", "s2c-data", "s2c-gap"}
	if len(kinds) != len(want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("events %v, want %v", kinds, want)
		}
	}
	c2s, gaps := rc.stream(decode.ClientToServer)
	if int64(len(c2s)+gaps) != f.BytesC2S || !bytes.HasPrefix(c2s, []byte("GET ")) {
		t.Errorf("c2s %d+%d vs %d", len(c2s), gaps, f.BytesC2S)
	}
}

func TestResetEndsFlow(t *testing.T) {
	rec := &recorder{name: "rec"}
	out, _ := run(t, "http11_nsec_get_to_port22.pcap", Config{Parsers: []decode.Parser{rec}})
	f := out.transport("tcp")[0]
	if f.State != decode.FlowReset || len(rec.conns[0].ended) != 1 || rec.conns[0].ended[0] != decode.FlowReset {
		t.Errorf("state %s ended %v", f.State, rec.conns[0].ended)
	}
	if f.PacketsC2S+f.PacketsS2C != 9 {
		t.Errorf("packets after the reset not counted: %d", f.PacketsC2S+f.PacketsS2C)
	}
}

// TestGapTimeoutFlushesByCaptureTime: data after a hole waits for the
// missing bytes only GapTimeout of capture time, then arrives after a gap.
func TestGapTimeoutFlushesByCaptureTime(t *testing.T) {
	b := &segBuilder{t: t}
	rec := &recorder{name: "rec"}
	out := newCollector()
	d := NewDecoder(out, Config{Parsers: []decode.Parser{rec}, GapTimeout: 5 * time.Second, IdleTimeout: time.Hour})
	pkts := []sources.Packet{
		b.seg(t0, true, 1000, 0, "S", nil),
		b.seg(t0, false, 5000, 1001, "SA", nil),
		b.seg(t0, true, 1001, 5001, "A", nil),
		b.seg(t0, true, 1001, 5001, "PA", bytes.Repeat([]byte("a"), 100)),
		b.seg(t0.Add(time.Second), true, 1201, 5001, "PA", bytes.Repeat([]byte("c"), 100)), // 1101..1200 missing
	}
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	if c2s, _ := rec.conns[0].stream(decode.ClientToServer); len(c2s) != 100 {
		t.Fatalf("before the timeout %d bytes delivered", len(c2s))
	}
	// Another packet 10 s later (capture time) triggers the flush.
	late := b.seg(t0.Add(10*time.Second), false, 5001, 1001, "A", nil)
	d.Packet(&late)
	c2s, gaps := rec.conns[0].stream(decode.ClientToServer)
	if len(c2s) != 200 || gaps != 100 || !bytes.Equal(c2s[100:], bytes.Repeat([]byte("c"), 100)) {
		t.Errorf("after the timeout: %d bytes, %d gap bytes", len(c2s), gaps)
	}
	// The missing bytes arrive late: they are old news, not duplicated.
	retr := b.seg(t0.Add(11*time.Second), true, 1101, 5001, "PA", bytes.Repeat([]byte("b"), 100))
	d.Packet(&retr)
	d.Finish(time.Time{})
	if c2s, _ := rec.conns[0].stream(decode.ClientToServer); len(c2s) != 200 {
		t.Errorf("late retransmission delivered again: %d bytes", len(c2s))
	}
	if f := out.flows[1]; f.State != decode.FlowOpen || f.PacketsC2S != 5 {
		t.Errorf("flow %s packets %d", f.State, f.PacketsC2S)
	}
}

// TestPageCapSkipsInsteadOfBuffering: with a tiny out-of-order budget the
// stream still completes: what could not wait becomes a gap, and data
// plus gaps cover the same sequence space.
func TestPageCapSkipsInsteadOfBuffering(t *testing.T) {
	rec := &recorder{name: "rec"}
	_, d := run(t, "pcapng_dsb_tls_keys_decryptable.pcapng", Config{Parsers: []decode.Parser{rec}, MaxPagesPerConn: 1, MaxPagesTotal: 2})
	want := oracle(t, "pcapng_dsb_tls_keys_decryptable.pcapng")
	rc := rec.conns[0]
	f := rc.c.Flow()
	exp, _ := want[oracleKey{f.Server, f.Client}].expect()
	got, gaps := rc.stream(decode.ServerToClient)
	if d.Stats().Gaps == 0 || gaps == 0 {
		t.Fatalf("no gap with a 1-page budget (stats %+v)", d.Stats())
	}
	if len(got)+gaps < len(exp) || len(got) >= len(exp) {
		t.Errorf("delivered %d + %d gap bytes for %d bytes of sequence space", len(got), gaps, len(exp))
	}
}

// TestIdleTimeoutDeterministic: with a short idle timeout flows end in
// the middle of the capture (in capture time); two runs publish the same
// flows and deliver the same bytes in the same order.
func TestIdleTimeoutDeterministic(t *testing.T) {
	cfg := func(r *recorder) Config {
		return Config{Parsers: []decode.Parser{r}, IdleTimeout: 2 * time.Second, GapTimeout: time.Second, UDPTimeout: time.Second}
	}
	var first string
	for i := 0; i < 4; i++ {
		rec := &recorder{name: "rec"}
		out, _ := run(t, "mix_non_http_services.pcap", cfg(rec))
		timedOut := 0
		for _, f := range out.flows {
			if f.State == decode.FlowTimedOut {
				timedOut++
			}
		}
		if timedOut == 0 {
			t.Fatal("no flow timed out with a 2 s idle timeout")
		}
		got := dump(out, rec)
		if i == 0 {
			first = got
		} else if got != first {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i, got, first)
		}
	}
}

func TestFinishEndsOpenStreamsAndFlows(t *testing.T) {
	rec := &recorder{name: "rec"}
	out := newCollector()
	d := NewDecoder(out, Config{Parsers: []decode.Parser{rec}})
	s1 := d.OpenStream("envoy", cli, srv, t0)
	s2 := d.OpenStream("envoy", cli, srv, t0)
	s1.Data(decode.ClientToServer, []byte("hello"), t0)
	s2.Data(decode.ServerToClient, []byte("banner"), t0)
	s2.Gap(decode.ServerToClient, 10, t0)
	s2.Close(decode.FlowReset, t0.Add(time.Second))
	d.Finish(t0.Add(time.Minute))
	if len(rec.conns) != 2 {
		t.Fatalf("%d handlers", len(rec.conns))
	}
	if rec.conns[0].ended[0] != decode.FlowOpen || rec.conns[1].ended[0] != decode.FlowReset || len(rec.conns[1].ended) != 1 {
		t.Errorf("ends: %v %v", rec.conns[0].ended, rec.conns[1].ended)
	}
	if _, g := rec.conns[1].stream(decode.ServerToClient); g != 10 {
		t.Errorf("stream gap %d", g)
	}
	if out.flows[s1.FlowID()].Transport != "tcp" || out.flows[s1.FlowID()].BytesC2S != 5 || d.Stats().Streams != 2 {
		t.Errorf("stream flow %+v", out.flows[s1.FlowID()])
	}
	// Nothing happens after Finish.
	s1.Data(decode.ClientToServer, []byte("more"), t0)
	d.Finish(time.Time{})
	if len(rec.conns[0].ended) != 1 {
		t.Errorf("ended twice")
	}
}

// TestFlowPublicationsCoalesce: a 2.6 MB download is published a handful
// of times, not per packet, and the last publication has final counters.
func TestFlowPublicationsCoalesce(t *testing.T) {
	pkts := corpustest.Read(t, "http11_sll2_download.pcap")
	out, _ := run(t, "http11_sll2_download.pcap", Config{Parsers: []decode.Parser{&recorder{name: "rec"}}})
	if out.flowPubs > len(pkts)/10 {
		t.Errorf("%d flow publications for %d packets", out.flowPubs, len(pkts))
	}
	f := out.transport("tcp")[0]
	if f.PacketsC2S+f.PacketsS2C != int64(len(pkts)) || f.BytesS2C != 2598875 {
		t.Errorf("final flow counters %d packets %d bytes", f.PacketsC2S+f.PacketsS2C, f.BytesS2C)
	}
}

func TestFragmentedDatagramReachesParser(t *testing.T) {
	payload := bytes.Repeat([]byte("fragment"), 500)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: 4242, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	body := buf.Bytes()[20:]
	var pkts []sources.Packet
	for off := 0; off < len(body); off += 1480 {
		end := min(off+1480, len(body))
		fip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, Id: 4242, SrcIP: ip.SrcIP, DstIP: ip.DstIP, FragOffset: uint16(off / 8)}
		if end < len(body) {
			fip.Flags = layers.IPv4MoreFragments
		}
		fb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(fb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, fip, gopacket.Payload(body[off:end])); err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, sources.Packet{Timestamp: t0, LinkType: sources.LinkIPv4, Data: bytes.Clone(fb.Bytes()), Source: "s", Ordinal: uint64(len(pkts) + 1)})
	}
	// Deliver in reverse order.
	rec := &dgramRec{name: "dns"}
	out := newCollector()
	d := NewDecoder(out, Config{Datagrams: []decode.DatagramParser{rec}})
	for i := len(pkts) - 1; i >= 0; i-- {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	st := d.Stats()
	if st.Fragments != int64(len(pkts)) || st.Reassembled != 1 || len(rec.convs) != 1 {
		t.Fatalf("stats %+v convs %d", st, len(rec.convs))
	}
	if got := rec.convs[0].data[0]; !bytes.Equal(got, payload) {
		t.Errorf("reassembled payload %d bytes, want %d", len(got), len(payload))
	}
	if f := out.transport("udp")[0]; f.BytesC2S != int64(len(payload)) || f.Server.Port() != 53 {
		t.Errorf("flow %+v", f)
	}
}

func TestCountsNonIPAndUnsupported(t *testing.T) {
	out := newCollector()
	d := NewDecoder(out, Config{})
	for _, p := range corpustest.Read(t, "mix_non_http_services.pcap") {
		d.Packet(&p)
	}
	bad := sources.Packet{LinkType: 147, Data: []byte{1, 2, 3}, Timestamp: t0}
	d.Packet(&bad)
	cut := sources.Packet{LinkType: sources.LinkEthernet, Data: []byte{1, 2, 3}, Timestamp: t0}
	d.Packet(&cut)
	d.Finish(time.Time{})
	st := d.Stats()
	if st.NotIP != 4 || st.Unsupported != 1 || st.Malformed != 1 || st.Packets != 265 {
		t.Errorf("stats %+v", st)
	}
}

// TestFlushOrderIsFlowOrder: at end of input many connections hold
// out-of-order data at once; gopacket flushes them in map order, the
// decoder must replay them in flow order so runs are reproducible.
func TestFlushOrderIsFlowOrder(t *testing.T) {
	var order []uint64
	p := &scripted{name: "x", onData: func(c decode.Conn, _ decode.Direction, data []byte) {
		if data[0] == 'c' {
			order = append(order, c.Flow().ID)
		}
	}}
	out := newCollector()
	d := NewDecoder(out, Config{Parsers: []decode.Parser{p}})
	for i := 0; i < 30; i++ {
		c, s := net.IP{10, 9, 1, byte(i)}, net.IP{10, 9, 0, 2}
		for _, sg := range []struct {
			seq     uint32
			flags   string
			payload string
		}{{1000, "S", ""}, {1001, "PA", "aaaa"}, {1009, "PA", "cccc"}} {
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: c, DstIP: s}
			tcp := &layers.TCP{SrcPort: 50000, DstPort: 80, Seq: sg.seq, SYN: sg.flags == "S", ACK: sg.flags != "S", PSH: sg.flags == "PA", Window: 100}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp, gopacket.Payload(sg.payload)); err != nil {
				t.Fatal(err)
			}
			pkt := sources.Packet{Timestamp: t0, LinkType: sources.LinkRaw, Data: bytes.Clone(buf.Bytes()), Source: "s", Ordinal: 1}
			d.Packet(&pkt)
		}
	}
	d.Finish(time.Time{})
	if len(order) != 30 {
		t.Fatalf("%d flushed deliveries", len(order))
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Fatalf("flush delivered flows in order %v", order)
		}
	}
}

// TestSourcesHaveTheirOwnClock: two captures from different years are
// interleaved; neither source's time may time out the other's flows.
func TestSourcesHaveTheirOwnClock(t *testing.T) {
	a := corpustest.Read(t, "http11_keepalive_5req_1conn.pcap")
	b := corpustest.Read(t, "h2c_ipv6_6streams_port3000.pcap")
	if b[0].Timestamp.Sub(a[0].Timestamp) < time.Hour {
		t.Fatal("fixture timestamps too close to test clocks")
	}
	out := newCollector()
	d := NewDecoder(out, Config{Parsers: []decode.Parser{&recorder{name: "rec"}}})
	for i := 0; i < max(len(a), len(b)); i++ {
		if i < len(a) {
			d.Packet(&a[i])
		}
		if i < len(b) {
			d.Packet(&b[i])
		}
	}
	d.Finish(time.Time{})
	for _, f := range out.transport("tcp") {
		if f.State != decode.FlowClosed {
			t.Errorf("%s flow %d: state %s", f.Source, f.ID, f.State)
		}
	}
	if len(out.transport("tcp")) != 2 {
		t.Errorf("%d flows", len(out.transport("tcp")))
	}
	if !d.Clock(a[0].Source).Equal(a[len(a)-1].Timestamp) {
		t.Errorf("clock of %s: %v", a[0].Source, d.Clock(a[0].Source))
	}
}

// TestTickTimesOutQuietLiveSource: Tick moves the clock of a source that
// sent nothing since the previous Tick by the wall time elapsed.
func TestTickTimesOutQuietLiveSource(t *testing.T) {
	b := &segBuilder{t: t}
	out := newCollector()
	d := NewDecoder(out, Config{IdleTimeout: time.Minute})
	syn := b.seg(t0, true, 1, 0, "S", nil)
	d.Packet(&syn)
	wall := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d.Tick(wall) // first tick: the source just sent a packet
	d.Tick(wall.Add(30 * time.Second))
	if out.flows[1].State != decode.FlowOpen {
		t.Fatalf("timed out after 30 s: %s", out.flows[1].State)
	}
	d.Tick(wall.Add(90 * time.Second))
	if out.flows[1].State != decode.FlowTimedOut {
		t.Errorf("not timed out after 90 quiet seconds: %s", out.flows[1].State)
	}
}

// TestSequenceWrapAndQueuedCutSegment: sequence numbers wrap past 2^32
// while a snaplen-cut segment waits out of order; bytes come out in
// stream order and the cut part of the queued segment becomes a gap.
func TestSequenceWrapAndQueuedCutSegment(t *testing.T) {
	b := &segBuilder{t: t}
	rec := &recorder{name: "rec"}
	out := newCollector()
	d := NewDecoder(out, Config{Parsers: []decode.Parser{rec}})
	isn := uint32(0xffffff80)
	a := bytes.Repeat([]byte("A"), 100)  // isn+1 .. wraps inside
	bb := bytes.Repeat([]byte("B"), 100) // after the wrap
	c := bytes.Repeat([]byte("C"), 100)  // cut to 40 captured bytes
	pc := b.seg(t0.Add(2*time.Millisecond), true, isn+201, 1, "PA", c)
	pc.Data = pc.Data[:len(pc.Data)-60]
	pkts := []sources.Packet{
		b.seg(t0, true, isn, 0, "S", nil),
		b.seg(t0, false, 7, isn+1, "SA", nil),
		b.seg(t0.Add(time.Millisecond), true, isn+1, 8, "PA", a),
		pc, // ahead of B: queued
		b.seg(t0.Add(3*time.Millisecond), true, isn+101, 8, "PA", bb),
		b.seg(t0.Add(4*time.Millisecond), true, isn+301, 8, "FA", nil),
		b.seg(t0.Add(4*time.Millisecond), false, 8, isn+302, "FA", nil),
	}
	for i := range pkts {
		d.Packet(&pkts[i])
	}
	d.Finish(time.Time{})
	rc := rec.conns[0]
	got, gaps := rc.stream(decode.ClientToServer)
	want := append(append(append([]byte(nil), a...), bb...), c[:40]...)
	if !bytes.Equal(got, want) || gaps != 60 {
		t.Errorf("stream %q + %d gap bytes", got, gaps)
	}
	last := rc.events[len(rc.events)-1]
	if last.gap != 60 || !last.ts.Equal(t0.Add(2*time.Millisecond)) {
		t.Errorf("last event %+v, want the cut segment's gap at its capture time", last)
	}
	if f := out.flows[1]; f.State != decode.FlowClosed || f.BytesC2S != 300 || d.Stats().OutOfOrder != 1 {
		t.Errorf("flow %s bytes %d ooo %d", f.State, f.BytesC2S, d.Stats().OutOfOrder)
	}
}
