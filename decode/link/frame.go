// Package link parses captured frames (link layer, IPv4/IPv6, TCP/UDP
// headers) into a flat Frame without allocating, and reassembles IP
// fragments. It exists so the decoder's per-packet path does not pay for
// gopacket's generic layer decoding, and so export can find exact byte
// offsets of headers and payload to rewrite payloads in place.
package link

import (
	"errors"
	"net/netip"
)

// IP protocol numbers the decoder handles. Other values are reported in
// Frame.Proto so callers can count them.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// TCPFlags is the TCP flag byte (the low 8 bits of the flags field), kept
// as a bit set so tests and callers check flags without a struct of bools.
type TCPFlags uint8

// TCP flag bits as on the wire.
const (
	FlagFIN TCPFlags = 0x01
	FlagSYN TCPFlags = 0x02
	FlagRST TCPFlags = 0x04
	FlagPSH TCPFlags = 0x08
	FlagACK TCPFlags = 0x10
	FlagURG TCPFlags = 0x20
	FlagECE TCPFlags = 0x40
	FlagCWR TCPFlags = 0x80
)

// Has reports whether every bit of m is set, so `f.Has(FlagSYN|FlagACK)`
// reads as the SYN+ACK test it is.
func (f TCPFlags) Has(m TCPFlags) bool { return f&m == m }

// HardwareLoopback is ARPHRD_LOOPBACK, Frame.HardwareType of packets
// captured on a loopback interface.
const HardwareLoopback uint16 = 772

// MaxVLANs is how many 802.1Q/802.1ad tags a Frame records; deeper stacks
// still parse, only the outer tags are kept.
const MaxVLANs = 4

// Errors Parse returns. They are sentinels so callers count them with
// errors.Is without formatting a message per packet.
var (
	// ErrNotIP marks a well-formed frame that does not carry IPv4/IPv6
	// (ARP, LLDP, 802.3 LLC, ...). It is not a decode error.
	ErrNotIP = errors.New("link: not an IP packet")
	// ErrUnsupportedLink marks a link type this package does not parse.
	ErrUnsupportedLink = errors.New("link: unsupported link type")
	// ErrTruncated marks a frame whose headers end before they should,
	// or whose header fields contradict each other.
	ErrTruncated = errors.New("link: truncated or malformed header")
)

// Frame is the parsed form of one captured frame. Parse fills it in place
// so one Frame can be reused for every packet without allocation. Byte
// offsets index the data slice that was passed to Parse.
type Frame struct {
	// LinkType is the LINKTYPE the frame was parsed as.
	LinkType uint16
	// EtherType is the protocol of the link payload (0x0800, 0x86dd, or
	// the non-IP value that produced ErrNotIP); 0 for link types that
	// carry no ethertype (raw, NULL, LOOP).
	EtherType uint16
	// VLANs holds the VLAN ids of the tags seen, outermost first;
	// NumVLANs says how many are valid.
	VLANs    [MaxVLANs]uint16
	NumVLANs int

	// Interface is the index of the capturing interface from a Linux
	// cooked v2 header (what `tcpdump -i any` writes), 0 when the link
	// type carries none. On -i any one connection can cross several
	// interfaces (loopback inside a pod, the veth outside).
	Interface uint32
	// HardwareType is the interface's ARPHRD_* type from a Linux cooked
	// header (v1 or v2): HardwareLoopback for lo, 1 for Ethernet; 0 when
	// the link type carries none.
	HardwareType uint16

	// Tunnel is the encapsulation the IP fields below were found in
	// (IPIP, GRE, VXLAN, Geneve; tunnel.go), Kind TunnelNone when the
	// frame was not tunnelled.
	Tunnel Tunnel

	// Version is 4 or 6.
	Version uint8
	// Src and Dst are the IP addresses.
	Src, Dst netip.Addr
	// Proto is the transport protocol: for IPv6 the protocol after the
	// extension headers that were skipped.
	Proto uint8
	// TTL is the IPv4 TTL or the IPv6 hop limit.
	TTL uint8

	// IPOffset is where the IP header starts, IPHeaderLen its length
	// including IPv4 options or IPv6 extension headers that were skipped.
	IPOffset    int
	IPHeaderLen int
	// IPLen is the IP datagram length from the header (total length for
	// IPv4, 40 + payload length for IPv6); it may exceed what was
	// captured.
	IPLen int

	// Fragment is set when the datagram is a fragment (IPv4 MF or
	// offset, or an IPv6 fragment header). Transport fields are then not
	// parsed; hand the frame to a Defragmenter.
	Fragment bool
	// FragID, FragOffset (bytes) and MoreFragments describe the fragment.
	FragID        uint32
	FragOffset    int
	MoreFragments bool
	// FragHeaderOffset is where the fragmentable part starts (after the
	// IPv4 header, or after the IPv6 fragment header).
	FragHeaderOffset int

	// SrcPort and DstPort are the TCP/UDP ports.
	SrcPort, DstPort uint16
	// TransportOffset is where the TCP/UDP header starts, and
	// TransportHeaderLen its length (TCP data offset, or 8 for UDP).
	TransportOffset    int
	TransportHeaderLen int

	// TCP header fields, valid when Proto == ProtoTCP.
	Seq, Ack uint32
	Flags    TCPFlags
	Window   uint16

	// PayloadOffset is where the transport payload starts.
	PayloadOffset int
	// Payload is the captured transport payload, a sub-slice of the
	// parsed data; Ethernet padding after the IP datagram is excluded.
	Payload []byte
	// PayloadLen is the payload length per the IP (and UDP) headers. It
	// exceeds len(Payload) when a snaplen cut the frame.
	PayloadLen int
}

// Truncated reports whether the captured payload is shorter than the
// payload the headers announce (a snaplen cut).
func (f *Frame) Truncated() bool { return len(f.Payload) < f.PayloadLen }

// AddrPorts returns source and destination as netip.AddrPort values.
func (f *Frame) AddrPorts() (src, dst netip.AddrPort) {
	return netip.AddrPortFrom(f.Src, f.SrcPort), netip.AddrPortFrom(f.Dst, f.DstPort)
}

func (f *Frame) reset(linkType uint16) {
	*f = Frame{LinkType: linkType}
}
