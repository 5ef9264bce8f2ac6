package filter

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// frame describes a test packet in terms the reference evaluator
// understands, independently of byte offsets.
type frame struct {
	ether      uint16 // EtherType
	src, dst   netip.Addr
	proto      uint8 // IP protocol (after any IPv6 fragment header)
	v6Frag     bool  // IPv6 with a fragment header before proto
	laterFrag  bool  // IPv4 fragment with a non-zero offset
	ipOptions  bool  // IPv4 header with options (IHL > 5)
	sport      uint16
	dport      uint16
	payloadLen int
}

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

// bytes serialises f into an Ethernet frame.
func (f frame) bytes(t testing.TB) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetType(f.ether)}
	ls := []gopacket.SerializableLayer{eth}
	payload := gopacket.Payload(make([]byte, f.payloadLen))
	var netLayer gopacket.NetworkLayer
	switch f.ether {
	case etherIP4:
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocol(f.proto),
			SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice()}
		if f.laterFrag {
			ip.FragOffset = 185
		}
		if f.ipOptions {
			ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		}
		ls = append(ls, ip)
		netLayer = ip
	case etherIP6:
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocol(f.proto),
			SrcIP: f.src.AsSlice(), DstIP: f.dst.AsSlice()}
		ls = append(ls, ip)
		if f.v6Frag {
			ip.NextHeader = layers.IPProtocolIPv6Fragment
			ls = append(ls, &v6FragLayer{next: f.proto})
		}
		netLayer = ip
	case etherARP, etherRARP:
		ls = append(ls, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macA, SourceProtAddress: f.src.AsSlice(),
			DstHwAddress: macB, DstProtAddress: f.dst.AsSlice()})
		return serialize(t, ls)
	default:
		return serialize(t, append(ls, payload))
	}
	switch f.proto {
	case protoTCP:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(f.sport), DstPort: layers.TCPPort(f.dport), Window: 100, ACK: true}
		_ = tcp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, tcp)
	case protoUDP:
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.sport), DstPort: layers.UDPPort(f.dport)}
		_ = udp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, udp)
	case protoSCTP:
		ls = append(ls, &layers.SCTP{SrcPort: layers.SCTPPort(f.sport), DstPort: layers.SCTPPort(f.dport)})
	case protoICMP:
		ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
	case protoICMP6:
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
		_ = ic.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, ic)
	}
	return serialize(t, append(ls, payload))
}

// v6FragLayer writes an 8-byte IPv6 fragment header (first fragment).
type v6FragLayer struct{ next uint8 }

func (l *v6FragLayer) LayerType() gopacket.LayerType { return layers.LayerTypeIPv6Fragment }

func (l *v6FragLayer) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	h, err := b.PrependBytes(8)
	if err != nil {
		return err
	}
	copy(h, []byte{l.next, 0, 0, 1, 0, 0, 0, 42})
	return nil
}

func serialize(t testing.TB, ls []gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// run executes prog on data in the x/net/bpf VM and returns the verdict.
func run(t testing.TB, prog []bpf.Instruction, data []byte) int {
	t.Helper()
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("program rejected by the VM: %v\n%v", err, prog)
	}
	n, err := vm.Run(data)
	if err != nil {
		t.Fatalf("vm run: %v", err)
	}
	return n
}

func tcp4(src, dst string, sport, dport uint16) frame {
	return frame{ether: etherIP4, src: netip.MustParseAddr(src), dst: netip.MustParseAddr(dst),
		proto: protoTCP, sport: sport, dport: dport, payloadLen: 20}
}

func udp4(src, dst string, sport, dport uint16) frame {
	f := tcp4(src, dst, sport, dport)
	f.proto = protoUDP
	return f
}

func tcp6(src, dst string, sport, dport uint16) frame {
	f := tcp4(src, dst, sport, dport)
	f.ether = etherIP6
	f.src, f.dst = netip.MustParseAddr(src), netip.MustParseAddr(dst)
	return f
}

func udp6(src, dst string, sport, dport uint16) frame {
	f := tcp6(src, dst, sport, dport)
	f.proto = protoUDP
	return f
}

func arp(src, dst string) frame {
	return frame{ether: etherARP, src: netip.MustParseAddr(src), dst: netip.MustParseAddr(dst)}
}

func with(f frame, mod func(*frame)) frame { mod(&f); return f }
