package tcp

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// dgramRec is a test datagram parser recording payloads; accept decides
// Detect (nil: always Yes).
type dgramRec struct {
	name    string
	accept  func(payload []byte) decode.Verdict
	convs   []*dgramConv
	detects int
}

type dgramConv struct {
	c     decode.Conn
	dirs  []decode.Direction
	data  [][]byte
	ended []decode.FlowState
}

func (r *dgramRec) Name() string { return r.name }
func (r *dgramRec) Detect(_ *decode.Flow, _ decode.Direction, p []byte) decode.Verdict {
	r.detects++
	if r.accept == nil {
		return decode.Yes
	}
	return r.accept(p)
}
func (r *dgramRec) NewDatagram(c decode.Conn) decode.DatagramHandler {
	dc := &dgramConv{c: c}
	r.convs = append(r.convs, dc)
	return dc
}
func (dc *dgramConv) Datagram(dir decode.Direction, p []byte, _ time.Time) {
	dc.dirs = append(dc.dirs, dir)
	dc.data = append(dc.data, bytes.Clone(p))
}
func (dc *dgramConv) End(s decode.FlowState, _ time.Time) { dc.ended = append(dc.ended, s) }

func TestUDPConversationsDNS(t *testing.T) {
	dns := &dgramRec{name: "dns"}
	out, _ := run(t, "dns_udp_query_response.pcap", Config{Datagrams: []decode.DatagramParser{dns}})
	flows := out.transport("udp")
	if len(flows) != 1 || len(dns.convs) != 1 {
		t.Fatalf("%d UDP flows, %d conversations", len(flows), len(dns.convs))
	}
	f, dc := flows[0], dns.convs[0]
	if f.Server.Port() != 53 || f.Client.Port() < 1024 || f.Proto != "dns" || f.PacketsC2S != 1 || f.PacketsS2C != 1 {
		t.Errorf("flow %v->%v proto %q packets %d/%d", f.Client, f.Server, f.Proto, f.PacketsC2S, f.PacketsS2C)
	}
	if len(dc.dirs) != 2 || dc.dirs[0] != decode.ClientToServer || dc.dirs[1] != decode.ServerToClient ||
		int64(len(dc.data[0])) != f.BytesC2S || int64(len(dc.data[1])) != f.BytesS2C {
		t.Errorf("datagrams %v sizes %d/%d", dc.dirs, f.BytesC2S, f.BytesS2C)
	}
	// A DNS header: query then response with the same ID, QR bit set.
	if dc.data[0][0] != dc.data[1][0] || dc.data[0][1] != dc.data[1][1] || dc.data[1][2]&0x80 == 0 {
		t.Errorf("payloads are not a DNS query/response pair")
	}
	if len(dc.ended) != 1 {
		t.Errorf("End called %d times", len(dc.ended))
	}
}

// TestUDPDetectionGivesUp: a parser that never says Yes is asked about a
// bounded number of datagrams only.
func TestUDPDetectionGivesUp(t *testing.T) {
	never := &dgramRec{name: "never", accept: func([]byte) decode.Verdict { return decode.No }}
	out, d := run(t, "grpc_unary.pcapng", Config{Datagrams: []decode.DatagramParser{never}, DatagramTries: 2})
	udp := out.transport("udp")
	if len(udp) == 0 {
		t.Fatal("no UDP conversations (the file has mDNS)")
	}
	if never.detects > 2*len(udp) {
		t.Errorf("%d Detect calls for %d conversations with 2 tries each", never.detects, len(udp))
	}
	if d.Stats().UDPPackets != 12 {
		t.Errorf("UDP packets %d", d.Stats().UDPPackets)
	}
}

func TestUDPIdleTimeoutByCaptureTime(t *testing.T) {
	rec := &dgramRec{name: "any"}
	out := newCollector()
	d := NewDecoder(out, Config{Datagrams: []decode.DatagramParser{rec}, UDPTimeout: 10 * time.Second})
	mk := func(ts time.Time, sport uint16) sources.Packet {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 1, 1, 1}, DstIP: net.IP{10, 1, 1, 2}}
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: 9999}
		_ = udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload("hi")); err != nil {
			t.Fatal(err)
		}
		return sources.Packet{Timestamp: ts, LinkType: sources.LinkRaw, Data: buf.Bytes(), Source: "s", Ordinal: 1}
	}
	p1 := mk(t0, 5000)
	d.Packet(&p1)
	p2 := mk(t0.Add(5*time.Second), 5001)
	d.Packet(&p2)
	p3 := mk(t0.Add(12*time.Second), 5001) // the first conversation is now idle 12 s
	d.Packet(&p3)
	f1 := out.flows[1]
	if f1.State != decode.FlowTimedOut || len(rec.convs[0].ended) != 1 {
		t.Errorf("first conversation: state %s ended %v", f1.State, rec.convs[0].ended)
	}
	if out.flows[2].State != decode.FlowOpen {
		t.Errorf("second conversation ended early: %s", out.flows[2].State)
	}
	p4 := mk(t0.Add(13*time.Second), 5000) // same tuple again: a new conversation
	d.Packet(&p4)
	d.Finish(time.Time{})
	if len(out.transport("udp")) != 3 || out.flows[3].Client.Port() != 5000 {
		t.Errorf("%d conversations", len(out.transport("udp")))
	}
	for _, c := range rec.convs {
		if len(c.ended) != 1 {
			t.Errorf("conversation %d ended %d times", c.c.Flow().ID, len(c.ended))
		}
	}
}
