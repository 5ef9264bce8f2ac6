package link

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/tapview/tapview/decode/link/corpustest"
	"github.com/tapview/tapview/sources"
)

// TestParseMatchesGopacket parses every packet of every corpus file and
// compares addresses, ports, TCP fields and payload with gopacket's own
// layer decoder, which is an independent implementation.
func TestParseMatchesGopacket(t *testing.T) {
	for _, row := range corpustest.Manifest(t) {
		name := row["file"]
		t.Run(name, func(t *testing.T) {
			pkts := corpustest.Read(t, name)
			var f Frame
			var ip, tcp, udp, notIP int
			for _, p := range pkts {
				err := Parse(p.LinkType, p.Data, &f)
				ref := gopacket.NewPacket(p.Data, layers.LinkType(p.LinkType), gopacket.Default)
				if errors.Is(err, ErrNotIP) {
					notIP++
					if ref.NetworkLayer() != nil && (ref.Layer(layers.LayerTypeIPv4) != nil || ref.Layer(layers.LayerTypeIPv6) != nil) {
						t.Errorf("packet %d: ErrNotIP but gopacket sees %v", p.Ordinal, ref.NetworkLayer().LayerType())
					}
					continue
				}
				if err != nil {
					t.Errorf("packet %d: %v", p.Ordinal, err)
					continue
				}
				ip++
				checkAgainst(t, p, &f, ref)
				switch f.Proto {
				case ProtoTCP:
					tcp++
				case ProtoUDP:
					udp++
				}
			}
			if ip == 0 {
				t.Fatalf("no IP packet parsed in %d packets", len(pkts))
			}
			if row.Int(t, "tcp_streams") > 0 && tcp == 0 {
				t.Errorf("manifest has TCP streams, parsed no TCP segment")
			}
			t.Logf("%d packets: ip=%d tcp=%d udp=%d notIP=%d", len(pkts), ip, tcp, udp, notIP)
		})
	}
}

func checkAgainst(t *testing.T, p sources.Packet, f *Frame, ref gopacket.Packet) {
	t.Helper()
	var ifIndex uint32
	var hwType uint16
	switch l := ref.LinkLayer().(type) {
	case *layers.LinuxSLL2:
		ifIndex, hwType = l.InterfaceIndex, uint16(l.ARPHardwareType)
	case *layers.LinuxSLL:
		hwType = l.AddrType
	}
	if f.Interface != ifIndex || f.HardwareType != hwType {
		t.Errorf("packet %d: interface %d hardware type %d, gopacket %d %d", p.Ordinal, f.Interface, f.HardwareType, ifIndex, hwType)
	}
	var src, dst netip.Addr
	switch l := ref.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(l.SrcIP)
		dst, _ = netip.AddrFromSlice(l.DstIP)
		if f.Version != 4 {
			t.Errorf("packet %d: version %d, gopacket IPv4", p.Ordinal, f.Version)
		}
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(l.SrcIP)
		dst, _ = netip.AddrFromSlice(l.DstIP)
		if f.Version != 6 {
			t.Errorf("packet %d: version %d, gopacket IPv6", p.Ordinal, f.Version)
		}
	default:
		t.Errorf("packet %d: parsed IP, gopacket network layer %T", p.Ordinal, l)
		return
	}
	if src != f.Src || dst != f.Dst {
		t.Errorf("packet %d: %v -> %v, gopacket %v -> %v", p.Ordinal, f.Src, f.Dst, src, dst)
	}
	if !bytes.Equal(p.Data[f.IPOffset:f.IPOffset+len(ref.NetworkLayer().LayerContents())], ref.NetworkLayer().LayerContents()) {
		t.Errorf("packet %d: IP offset %d does not point at the IP header", p.Ordinal, f.IPOffset)
	}
	switch l := ref.TransportLayer().(type) {
	case *layers.TCP:
		if f.Proto != ProtoTCP || f.SrcPort != uint16(l.SrcPort) || f.DstPort != uint16(l.DstPort) ||
			f.Seq != l.Seq || f.Ack != l.Ack || f.Window != l.Window ||
			f.Flags.Has(FlagSYN) != l.SYN || f.Flags.Has(FlagACK) != l.ACK || f.Flags.Has(FlagFIN) != l.FIN ||
			f.Flags.Has(FlagRST) != l.RST || f.Flags.Has(FlagPSH) != l.PSH {
			t.Errorf("packet %d: TCP fields differ: %+v vs %+v", p.Ordinal, f, l)
		}
		if f.TransportHeaderLen != len(l.Contents) || f.PayloadOffset != f.TransportOffset+len(l.Contents) {
			t.Errorf("packet %d: TCP header len %d, gopacket %d", p.Ordinal, f.TransportHeaderLen, len(l.Contents))
		}
		// gopacket keeps Ethernet padding in the payload when the IP
		// length says less; ours must be a prefix of it.
		if !bytes.HasPrefix(l.Payload, f.Payload) {
			t.Errorf("packet %d: TCP payload (%d bytes) is not a prefix of gopacket's (%d)", p.Ordinal, len(f.Payload), len(l.Payload))
		}
	case *layers.UDP:
		if f.Proto != ProtoUDP || f.SrcPort != uint16(l.SrcPort) || f.DstPort != uint16(l.DstPort) {
			t.Errorf("packet %d: UDP fields differ", p.Ordinal)
		}
		if !bytes.Equal(l.Payload, f.Payload) {
			t.Errorf("packet %d: UDP payload %d bytes, gopacket %d", p.Ordinal, len(f.Payload), len(l.Payload))
		}
	}
	if !bytes.Equal(p.Data[f.PayloadOffset:f.PayloadOffset+len(f.Payload)], f.Payload) {
		t.Errorf("packet %d: payload offset inconsistent", p.Ordinal)
	}
	if p.OrigLen == len(p.Data) && f.Truncated() && f.Proto == ProtoTCP {
		t.Errorf("packet %d: uncut frame reported truncated: %d < %d", p.Ordinal, len(f.Payload), f.PayloadLen)
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	pkts := corpustest.Read(t, "http11_ipv6_loopback_chunked_midstream.pcap")
	pkts = append(pkts, corpustest.Read(t, "http11_qinq_8021ad.pcap")...)
	var f Frame
	allocs := testing.AllocsPerRun(100, func() {
		for i := range pkts {
			_ = Parse(pkts[i].LinkType, pkts[i].Data, &f)
		}
	})
	if allocs != 0 {
		t.Errorf("Parse allocates %.1f times per run", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	pkts := corpustest.Read(b, "http11_download_retrans_ooo.pcap")
	var f Frame
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &pkts[i%len(pkts)]
		if err := Parse(p.LinkType, p.Data, &f); err != nil {
			b.Fatal(err)
		}
	}
}
