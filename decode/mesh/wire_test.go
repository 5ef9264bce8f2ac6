package mesh

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// wirePkt builds a raw IP packet with correct checksums.
func wirePkt(t *testing.T, src, dst netip.AddrPort, seq, ack uint32, flags string, payload []byte) sources.Packet {
	t.Helper()
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, Ack: ack, Window: 512}
	for _, f := range flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'P':
			tcp.PSH = true
		case 'F':
			tcp.FIN = true
		}
	}
	var ip gopacket.SerializableLayer
	var link uint16
	if src.Addr().Is4() {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		_ = tcp.SetNetworkLayerForChecksum(ip4)
		ip, link = ip4, sources.LinkIPv4
	} else {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		_ = tcp.SetNetworkLayerForChecksum(ip6)
		ip, link = ip6, sources.LinkIPv6
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return sources.Packet{LinkType: link, Data: bytes.Clone(buf.Bytes()), Source: "cap", Timestamp: time.Unix(1000, 0)}
}

// keep records what a Wire hands on.
type keep struct{ pkts []sources.Packet }

func (k *keep) Packet(p *sources.Packet) { k.pkts = append(k.pkts, *p) }

func TestWireJoinsRedirectedConnections(t *testing.T) {
	for _, fam := range []struct{ app, redirect, orig string }{
		{"10.1.2.3:40000", "127.0.0.1:15001", "10.96.0.21:9080"},
		{"[fd00::3]:40000", "[::1]:15001", "[fd00:96::21]:9080"},
	} {
		app, redirect, orig := netip.MustParseAddrPort(fam.app), netip.MustParseAddrPort(fam.redirect), netip.MustParseAddrPort(fam.orig)
		t.Run(app.Addr().String(), func(t *testing.T) {
			out := &keep{}
			w := NewWire(out)
			// What a capture inside the pod shows: requests to the
			// redirect port, replies from the original destination.
			in := []sources.Packet{
				wirePkt(t, app, redirect, 1000, 0, "S", nil),
				wirePkt(t, orig, app, 7000, 1001, "SA", nil),
				wirePkt(t, app, redirect, 1001, 7001, "A", nil),
				wirePkt(t, app, redirect, 1001, 7001, "PA", []byte("GET / HTTP/1.1\r\n\r\n")),
				wirePkt(t, orig, app, 7001, 1019, "PA", []byte("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")),
			}
			for i := range in {
				w.Packet(&in[i])
			}
			for i, p := range out.pkts {
				want := in[i]
				if i == 1 || i == 4 { // the replies, as if from the redirect port
					first := gopacket.Decoder(layers.LayerTypeIPv4)
					if want.LinkType == sources.LinkIPv6 {
						first = layers.LayerTypeIPv6
					}
					tcp := gopacket.NewPacket(want.Data, first, gopacket.Default).TransportLayer().(*layers.TCP)
					want = wirePkt(t, redirect, app, tcp.Seq, tcp.Ack, map[int]string{1: "SA", 4: "PA"}[i], tcp.Payload)
				}
				if !bytes.Equal(p.Data, want.Data) {
					t.Errorf("packet %d:\n got %x\nwant %x", i, p.Data, want.Data)
				}
			}
			if got, ok := w.Orig("cap", app, redirect); !ok || got != orig {
				t.Errorf("original destination %v %v, want %v", got, ok, orig)
			}
			if got, ok := w.Orig("other", app, redirect); ok {
				t.Errorf("another source's connection has original destination %v", got)
			}
		})
	}
}

func TestWireMidStream(t *testing.T) {
	app, redirect, orig := netip.MustParseAddrPort("10.1.2.3:40001"), netip.MustParseAddrPort("127.0.0.1:15001"), netip.MustParseAddrPort("203.0.113.20:80")
	other := netip.MustParseAddrPort("198.51.100.9:443")
	out := &keep{}
	w := NewWire(out)
	in := []sources.Packet{
		// The capture starts inside a kept-alive connection.
		wirePkt(t, app, redirect, 5000, 9000, "PA", []byte("GET /a HTTP/1.1\r\n\r\n")),
		// The same client port talking to someone else (Linux reuses
		// ephemeral ports across destinations): unrelated numbers.
		wirePkt(t, other, app, 123456, 777777, "PA", []byte("x")),
		// The reply: acknowledges what the app sent.
		wirePkt(t, orig, app, 9000, 5019, "PA", []byte("HTTP/1.1 204 No Content\r\n\r\n")),
	}
	for i := range in {
		w.Packet(&in[i])
	}
	if !bytes.Equal(out.pkts[1].Data, in[1].Data) {
		t.Error("a packet of an unrelated connection was rewritten")
	}
	if bytes.Equal(out.pkts[2].Data, in[2].Data) {
		t.Error("the reply was not joined to its connection")
	}
	if got, ok := w.Orig("cap", app, redirect); !ok || got != orig {
		t.Errorf("original destination %v %v, want %v", got, ok, orig)
	}
	if !w.Meshed() {
		t.Error("a redirected connection is evidence of a sidecar")
	}
}

func TestWireLeavesPlainConnections(t *testing.T) {
	c, s := netip.MustParseAddrPort("127.0.0.1:50000"), netip.MustParseAddrPort("127.0.0.1:8080")
	pc, ps := netip.MustParseAddrPort("10.1.2.3:50001"), netip.MustParseAddrPort("93.184.215.14:80")
	out := &keep{}
	w := NewWire(out)
	in := []sources.Packet{
		wirePkt(t, c, s, 1, 0, "S", nil), wirePkt(t, s, c, 100, 2, "SA", nil), wirePkt(t, c, s, 2, 101, "PA", []byte("ping")),
		wirePkt(t, s, c, 101, 6, "PA", []byte("pong")),
		wirePkt(t, pc, ps, 1, 0, "S", nil), wirePkt(t, ps, pc, 100, 2, "SA", nil),
	}
	for i := range in {
		w.Packet(&in[i])
	}
	for i := range in {
		if !bytes.Equal(out.pkts[i].Data, in[i].Data) {
			t.Errorf("packet %d rewritten", i)
		}
	}
	if w.Meshed() {
		t.Error("plain connections taken for redirected ones")
	}
}

func TestWireBursts(t *testing.T) {
	pod, peer := netip.MustParseAddrPort("10.1.2.3:41000"), netip.MustParseAddrPort("10.1.5.7:9080")
	w := NewWire(nil)
	at := time.Unix(2000, 0)
	send := func(src, dst netip.AddrPort, payload string, d time.Duration) {
		p := wirePkt(t, src, dst, 1, 1, "PA", []byte(payload))
		p.Timestamp = at.Add(d)
		w.Packet(&p)
	}
	send(pod, peer, "\x16hello", 0) // before any evidence: not kept
	w.Evidence()
	send(pod, peer, "\x16hello", time.Millisecond)
	send(peer, pod, "\x16server hello", 2*time.Millisecond)
	send(pod, peer, "\x17request", 3*time.Millisecond)
	send(pod, peer, "\x17more", 4*time.Millisecond)
	send(peer, pod, "\x17response", 5*time.Millisecond)
	got := w.Bursts(nil, "cap", peer, pod) // as if the peer were the client
	want := []Burst{
		{C2S: false, First: at.Add(time.Millisecond), Last: at.Add(time.Millisecond), Bytes: 6, Handshake: true},
		{C2S: true, First: at.Add(2 * time.Millisecond), Last: at.Add(2 * time.Millisecond), Bytes: 13, Handshake: true},
		{C2S: false, First: at.Add(3 * time.Millisecond), Last: at.Add(4 * time.Millisecond), Bytes: 13},
		{C2S: true, First: at.Add(5 * time.Millisecond), Last: at.Add(5 * time.Millisecond), Bytes: 9},
	}
	if len(got) != len(want) {
		t.Fatalf("bursts %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("burst %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestWireCaps(t *testing.T) {
	w := NewWire(nil)
	w.lim = wireLimits{syns: 4, nats: 2, halves: 2, conns: 2}
	w.Evidence()
	for i := 0; i < 50; i++ {
		app := netip.AddrPortFrom(netip.MustParseAddr("10.1.2.3"), uint16(30000+i))
		redirect, orig := netip.MustParseAddrPort("127.0.0.1:15001"), netip.AddrPortFrom(netip.MustParseAddr("203.0.113.9"), uint16(80+i))
		for _, p := range []sources.Packet{
			wirePkt(t, app, redirect, uint32(i), 0, "S", nil),
			wirePkt(t, app, netip.MustParseAddrPort("127.0.0.1:15001"), uint32(i)+1, 5, "PA", []byte("x")),
			wirePkt(t, orig, app, 5, uint32(i)+1, "SA", nil),
			wirePkt(t, app, netip.AddrPortFrom(orig.Addr(), 443), 1, 1, "PA", []byte("y")),
		} {
			w.Packet(&p)
		}
	}
	if len(w.syns) > 4 || w.synQ.len() > 4 || len(w.reqs) > 2 || len(w.replies) > 2 || len(w.natQ) > 2 ||
		len(w.halves) > 2 || len(w.halfQ) > 2 || len(w.conns) > 2 || len(w.connQ) > 2 {
		t.Errorf("caps exceeded: syns %d/%d nats %d/%d/%d halves %d/%d conns %d/%d", len(w.syns), w.synQ.len(),
			len(w.reqs), len(w.replies), len(w.natQ), len(w.halves), len(w.halfQ), len(w.conns), len(w.connQ))
	}
}

// BenchmarkWireCorpus is the Wire's cost per packet on captures without a
// mesh (every headless run and the UI pay it).
func BenchmarkWireCorpus(b *testing.B) {
	var pkts []sources.Packet
	for _, name := range []string{"http11_keepalive_5req_1conn.pcap", "mix_non_http_services.pcap", "tls13_sll2_sni_zeek_org.pcap"} {
		pkts = append(pkts, corpustest.Read(b, name)...)
	}
	w := NewWire(nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Packet(&pkts[i%len(pkts)])
	}
}
