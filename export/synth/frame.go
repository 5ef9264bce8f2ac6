package synth

import (
	"encoding/binary"

	"github.com/tapview/tapview/sources"
)

// IP protocol numbers and TCP flags used in frames.
const (
	protoTCP = 6
	protoUDP = 17

	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// ipHeader describes the network layer of one frame.
type ipHeader struct {
	link     uint16
	src, dst endpoint
	proto    uint8
	id       uint16 // IPv4 identification; unused for IPv6
	ttl      uint8
}

// linkLen is the size of the link-layer header.
func (h ipHeader) linkLen() int {
	if h.link == sources.LinkEthernet {
		return 14
	}
	return 0
}

func (h ipHeader) ipLen() int {
	if h.src.addr.Addr().Is4() {
		return 20
	}
	return 40
}

// build returns a complete frame: link header, IP header, then l4 (the
// transport header with a zero checksum field at csumOff) and payload.
// The transport checksum covers the IP pseudo-header, as RFC 793/768/8200
// define it.
func (h ipHeader) build(l4 []byte, payload []byte, csumOff int) []byte {
	ll, il := h.linkLen(), h.ipLen()
	tl := len(l4) + len(payload)
	f := make([]byte, ll+il+tl)
	v4 := h.src.addr.Addr().Is4()
	if ll > 0 {
		copy(f[0:6], h.dst.mac[:])
		copy(f[6:12], h.src.mac[:])
		et := uint16(0x86DD)
		if v4 {
			et = 0x0800
		}
		binary.BigEndian.PutUint16(f[12:14], et)
	}
	ip := f[ll : ll+il]
	seg := f[ll+il:]
	copy(seg, l4)
	copy(seg[len(l4):], payload)

	var sum uint32
	if v4 {
		src, dst := h.src.addr.Addr().As4(), h.dst.addr.Addr().As4()
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:4], uint16(il+tl))
		binary.BigEndian.PutUint16(ip[4:6], h.id)
		ip[6] = 0x40 // don't fragment
		ip[8] = h.ttl
		ip[9] = h.proto
		copy(ip[12:16], src[:])
		copy(ip[16:20], dst[:])
		binary.BigEndian.PutUint16(ip[10:12], fold(sumBytes(0, ip)))
		sum = sumBytes(sum, ip[12:20])
	} else {
		src, dst := h.src.addr.Addr().As16(), h.dst.addr.Addr().As16()
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:6], uint16(tl))
		ip[6] = h.proto
		ip[7] = h.ttl
		copy(ip[8:24], src[:])
		copy(ip[24:40], dst[:])
		sum = sumBytes(sum, ip[8:40])
	}
	sum += uint32(h.proto) + uint32(tl)
	c := fold(sumBytes(sum, seg))
	if c == 0 && h.proto == protoUDP {
		c = 0xFFFF // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(seg[csumOff:csumOff+2], c)
	return f
}

// sumBytes adds b as big-endian 16-bit words (odd tail padded with zero)
// to a running one's-complement sum.
func sumBytes(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// fold reduces a running sum to the 16-bit one's-complement checksum.
func fold(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xFFFF + sum>>16
	}
	return ^uint16(sum)
}
