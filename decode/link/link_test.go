package link

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// first parses the first packet of a corpus file.
func first(t *testing.T, name string) (sources.Packet, Frame) {
	t.Helper()
	pkts := corpustest.Read(t, name)
	var f Frame
	if err := Parse(pkts[0].LinkType, pkts[0].Data, &f); err != nil {
		t.Fatalf("%s packet 1: %v", name, err)
	}
	return pkts[0], f
}

func TestLinkTypesFromCorpus(t *testing.T) {
	cases := []struct {
		file    string
		link    uint16
		version uint8
		vlans   int
	}{
		{"http11_get_plain.pcap", sources.LinkEthernet, 4, 0},
		{"http11_vlan_8021q.pcap", sources.LinkEthernet, 4, 1},
		{"http11_qinq_8021ad.pcap", sources.LinkEthernet, 4, 2},
		{"websocket_ping_pong_sll.pcap", sources.LinkLinuxSLL, 4, 0},
		{"http11_sll2_download.pcap", sources.LinkSLL2, 4, 0},
		{"http11_ipv6_loopback_chunked_midstream.pcap", sources.LinkNull, 6, 0},
		{"grpc_unary.pcapng", sources.LinkNull, 0, 0},
	}
	for _, c := range cases {
		p, f := first(t, c.file)
		if p.LinkType != c.link || f.LinkType != c.link {
			t.Errorf("%s: link type %d/%d, want %d", c.file, p.LinkType, f.LinkType, c.link)
		}
		if c.version != 0 && f.Version != c.version {
			t.Errorf("%s: IP version %d, want %d", c.file, f.Version, c.version)
		}
		if f.NumVLANs != c.vlans {
			t.Errorf("%s: %d VLAN tags, want %d", c.file, f.NumVLANs, c.vlans)
		}
		if f.Proto != ProtoTCP && f.Proto != ProtoUDP {
			t.Errorf("%s: proto %d", c.file, f.Proto)
		}
	}
}

func TestNotIPIsSentinel(t *testing.T) {
	pkts := corpustest.Read(t, "mix_non_http_services.pcap")
	var f Frame
	arp := 0
	for _, p := range pkts {
		err := Parse(p.LinkType, p.Data, &f)
		if errors.Is(err, ErrNotIP) {
			if f.EtherType != 0x0806 {
				t.Errorf("packet %d: not-IP ethertype %#x, want ARP", p.Ordinal, f.EtherType)
			}
			arp++
		}
	}
	if arp != 4 { // tshark -Y arp counts 4
		t.Errorf("%d ARP frames, want 4", arp)
	}
	if err := Parse(147, []byte{1, 2, 3}, &f); !errors.Is(err, ErrUnsupportedLink) {
		t.Errorf("link type 147: %v", err)
	}
}

func TestSnaplenCutPayload(t *testing.T) {
	pkts := corpustest.Read(t, "http11_snaplen96_truncated.pcap")
	want := map[uint64]int{4: 496, 6: 1448, 8: 283} // tshark tcp.len
	var f Frame
	for _, p := range pkts {
		if err := Parse(p.LinkType, p.Data, &f); err != nil {
			t.Fatalf("packet %d: %v", p.Ordinal, err)
		}
		if n, ok := want[p.Ordinal]; ok {
			if f.PayloadLen != n || !f.Truncated() || f.PayloadOffset+len(f.Payload) != len(p.Data) {
				t.Errorf("packet %d: PayloadLen %d captured %d, want %d and cut at %d", p.Ordinal, f.PayloadLen, len(f.Payload), n, len(p.Data))
			}
		} else if f.PayloadLen != 0 {
			t.Errorf("packet %d: PayloadLen %d, want 0", p.Ordinal, f.PayloadLen)
		}
	}
}

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func TestIPv4OptionsAndLoopAndRaw(t *testing.T) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2},
		Options: []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 7, Ack: 9, SYN: true, ACK: true, Window: 512, DataOffset: 5}
	tcp.SetNetworkLayerForChecksum(ip)
	pkt := serialize(t, ip, tcp, gopacket.Payload("hello"))
	var f Frame
	for _, c := range []struct {
		link uint16
		hdr  []byte
	}{
		{sources.LinkRaw, nil},
		{sources.LinkIPv4, nil},
		{sources.LinkLoop, []byte{0, 0, 0, 2}},
		{sources.LinkNull, []byte{2, 0, 0, 0}},
		{sources.LinkNull, []byte{0, 0, 0, 2}}, // big-endian capturing host
	} {
		data := append(append([]byte(nil), c.hdr...), pkt...)
		if err := Parse(c.link, data, &f); err != nil {
			t.Fatalf("link %d: %v", c.link, err)
		}
		if f.IPHeaderLen != 28 || f.IPOffset != len(c.hdr) || f.TransportOffset != len(c.hdr)+28 {
			t.Errorf("link %d: IP header %d at %d, transport at %d", c.link, f.IPHeaderLen, f.IPOffset, f.TransportOffset)
		}
		if string(f.Payload) != "hello" || f.SrcPort != 40000 || f.DstPort != 80 || f.Seq != 7 || f.Ack != 9 ||
			!f.Flags.Has(FlagSYN|FlagACK) || f.Window != 512 {
			t.Errorf("link %d: got %+v", c.link, f)
		}
		if f.Src != netip.MustParseAddr("10.0.0.1") || f.Dst != netip.MustParseAddr("10.0.0.2") {
			t.Errorf("link %d: addresses %v %v", c.link, f.Src, f.Dst)
		}
	}
	if err := Parse(sources.LinkIPv6, pkt, &f); !errors.Is(err, ErrTruncated) {
		t.Errorf("IPv4 bytes as LINKTYPE_IPV6: %v", err)
	}
	if err := Parse(sources.LinkLoop, append([]byte{0, 0, 0, 99}, pkt...), &f); !errors.Is(err, ErrNotIP) {
		t.Errorf("LOOP family 99: %v", err)
	}
}

func TestIPv6ExtensionHeaders(t *testing.T) {
	ip := &layers.IPv6{Version: 6, HopLimit: 9, NextHeader: layers.IPProtocolIPv6HopByHop,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
	hop := &layers.IPv6HopByHop{}
	hop.NextHeader = layers.IPProtocolIPv6Destination
	hop.Options = []*layers.IPv6HopByHopOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	dst := &layers.IPv6Destination{}
	dst.NextHeader = layers.IPProtocolUDP
	dst.Options = []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: []byte{0, 0, 0, 0}}}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}, DstMAC: net.HardwareAddr{1, 2, 3, 4, 5, 7}, EthernetType: layers.EthernetTypeDot1Q}
	vlan := &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv6}
	data := serialize(t, eth, vlan, ip, hop, dst, udp, gopacket.Payload("query"))
	var f Frame
	if err := Parse(sources.LinkEthernet, data, &f); err != nil {
		t.Fatalf("parse: %v", err)
	}
	if f.Version != 6 || f.Proto != ProtoUDP || f.IPHeaderLen != 56 || string(f.Payload) != "query" ||
		f.SrcPort != 5353 || f.DstPort != 53 || f.TTL != 9 || f.NumVLANs != 1 || f.VLANs[0] != 42 {
		t.Errorf("got %+v", f)
	}
	// Cut inside the destination options header.
	if err := Parse(sources.LinkEthernet, data[:18+40+12], &f); !errors.Is(err, ErrTruncated) {
		t.Errorf("cut extension header: %v", err)
	}
}

func TestEthernetPaddingExcluded(t *testing.T) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{1, 1, 1, 1}, DstIP: net.IP{2, 2, 2, 2}}
	tcp := &layers.TCP{SrcPort: 1, DstPort: 2, ACK: true, DataOffset: 5}
	tcp.SetNetworkLayerForChecksum(ip)
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}, DstMAC: net.HardwareAddr{1, 2, 3, 4, 5, 7}, EthernetType: layers.EthernetTypeIPv4}
	data := serialize(t, eth, ip, tcp)
	data = append(data, 0, 0, 0, 0, 0, 0) // minimum-frame padding
	var f Frame
	if err := Parse(sources.LinkEthernet, data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Payload) != 0 || f.PayloadLen != 0 || f.Truncated() {
		t.Errorf("padding leaked into payload: %d/%d", len(f.Payload), f.PayloadLen)
	}
}

func TestMalformedNeverPanics(t *testing.T) {
	_, f := first(t, "http11_get_plain.pcap")
	pkts := corpustest.Read(t, "http11_get_plain.pcap")
	data := pkts[3].Data
	for n := 0; n < len(data); n++ {
		err := Parse(sources.LinkEthernet, data[:n], &f)
		if err == nil && f.PayloadOffset > n {
			t.Fatalf("cut at %d: payload offset %d beyond data", n, f.PayloadOffset)
		}
	}
	bad := append([]byte(nil), data...)
	binary.BigEndian.PutUint16(bad[16:18], 10) // total length < header length
	if err := Parse(sources.LinkEthernet, bad, &f); !errors.Is(err, ErrTruncated) {
		t.Errorf("total length 10: %v", err)
	}
}
