package filter

import (
	"encoding/binary"
	"net/netip"
)

// direction restricts an address or port test to one side of a packet.
type direction uint8

const (
	dirAny direction = iota // src or dst
	dirSrc
	dirDst
)

// node is a parsed filter expression.
type node interface{ isNode() }

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// protoNode is a bare protocol primitive ("tcp", "ip6", "arp").
type protoNode struct{ proto string }

// hostNode is "[ip|ip6|arp|rarp] [src|dst] host ADDR".
type hostNode struct {
	proto string
	dir   direction
	addr  netip.Addr
}

// netNode is "[ip|ip6] [src|dst] net PREFIX".
type netNode struct {
	proto  string
	dir    direction
	prefix netip.Prefix
}

// portNode is "[tcp|udp|sctp] [src|dst] port N" or portrange lo-hi.
type portNode struct {
	proto  string
	dir    direction
	lo, hi uint16
}

func (*andNode) isNode()   {}
func (*orNode) isNode()    {}
func (*notNode) isNode()   {}
func (*protoNode) isNode() {}
func (*hostNode) isNode()  {}
func (*netNode) isNode()   {}
func (*portNode) isNode()  {}

// Frame offsets for Ethernet II without VLAN tags (Linux strips tags into
// packet metadata before socket filters run).
const (
	offEtherType = 12
	offIP        = 14 // start of the network header
	offIP4Proto  = offIP + 9
	offIP4Frag   = offIP + 6
	offIP4Src    = offIP + 12
	offIP4Dst    = offIP + 16
	offIP6Next   = offIP + 6
	offIP6Src    = offIP + 8
	offIP6Dst    = offIP + 24
	offIP6Frag   = offIP + 40 // next header field of a fragment header right after the fixed header
	offIP6Ports  = offIP + 40
	offARPSender = offIP + 14
	offARPTarget = offIP + 24
)

// EtherTypes and IP protocol numbers.
const (
	etherIP4  = 0x0800
	etherIP6  = 0x86dd
	etherARP  = 0x0806
	etherRARP = 0x8035

	protoICMP  = 1
	protoTCP   = 6
	protoUDP   = 17
	protoFrag  = 44
	protoICMP6 = 58
	protoSCTP  = 132
)

// ir is the lowered form of an expression: boolean combinations of single
// loads compared with constants.
type ir interface{ isIR() }

type irAnd []ir
type irOr []ir
type irNot struct{ x ir }
type irTrue struct{}

// loadMode says where an irCond takes its operand from.
type loadMode uint8

const (
	loadAbs  loadMode = iota // packet[off:off+size]
	loadIPv4                 // packet[14 + 4*(packet[14]&0xf) + off : ...] (IPv4 payload)
)

// cmpOp is the comparison an irCond applies.
type cmpOp uint8

const (
	cmpEq  cmpOp = iota // A == k
	cmpGt               // A > k
	cmpGe               // A >= k
	cmpSet              // A & k != 0
)

// irCond loads size bytes, optionally masks them, and compares with k.
type irCond struct {
	mode loadMode
	off  uint32
	size int
	mask uint32 // 0: no mask
	op   cmpOp
	k    uint32
}

func (irAnd) isIR()  {}
func (irOr) isIR()   {}
func (irNot) isIR()  {}
func (irTrue) isIR() {}
func (irCond) isIR() {}

func eq(off uint32, size int, k uint32) ir { return irCond{off: off, size: size, k: k} }

func etherIs(t uint32) ir { return eq(offEtherType, 2, t) }

// lower turns the parsed expression into ir.
func lower(n node) ir {
	switch n := n.(type) {
	case *andNode:
		return irAnd{lower(n.l), lower(n.r)}
	case *orNode:
		return irOr{lower(n.l), lower(n.r)}
	case *notNode:
		return irNot{lower(n.x)}
	case *protoNode:
		return lowerProto(n.proto)
	case *hostNode:
		return lowerHost(n)
	case *netNode:
		return lowerNet(n.dir, n.prefix)
	case *portNode:
		return lowerPort(n)
	}
	return irNot{irTrue{}}
}

// ipProto matches an IPv4 or IPv6 packet carrying protocol p. For IPv6 a
// single fragment header in front of p is accepted, as libpcap does.
func ipProto(p uint32) ir {
	return irOr{ip4Proto(p), ip6Proto(p)}
}

func ip4Proto(p uint32) ir { return irAnd{etherIs(etherIP4), eq(offIP4Proto, 1, p)} }

func ip6Proto(p uint32) ir {
	return irAnd{etherIs(etherIP6), irOr{
		eq(offIP6Next, 1, p),
		irAnd{eq(offIP6Next, 1, protoFrag), eq(offIP6Frag, 1, p)},
	}}
}

func lowerProto(proto string) ir {
	switch proto {
	case "ip":
		return etherIs(etherIP4)
	case "ip6":
		return etherIs(etherIP6)
	case "arp":
		return etherIs(etherARP)
	case "rarp":
		return etherIs(etherRARP)
	case "tcp":
		return ipProto(protoTCP)
	case "udp":
		return ipProto(protoUDP)
	case "sctp":
		return ipProto(protoSCTP)
	case "icmp":
		return ip4Proto(protoICMP)
	default: // icmp6
		return ip6Proto(protoICMP6)
	}
}

// sides returns tests for the source and/or destination field per dir.
func sides(dir direction, src, dst func() ir) ir {
	switch dir {
	case dirSrc:
		return src()
	case dirDst:
		return dst()
	}
	return irOr{src(), dst()}
}

func lowerHost(n *hostNode) ir {
	pfx := netip.PrefixFrom(n.addr, n.addr.BitLen())
	if n.addr.Is6() {
		return lowerNet(n.dir, pfx)
	}
	arpLike := func(ether uint32) ir {
		return irAnd{etherIs(ether), sides(n.dir,
			func() ir { return addrIs(offARPSender, pfx) },
			func() ir { return addrIs(offARPTarget, pfx) })}
	}
	switch n.proto {
	case "ip":
		return lowerNet(n.dir, pfx)
	case "arp":
		return arpLike(etherARP)
	case "rarp":
		return arpLike(etherRARP)
	}
	return irOr{lowerNet(n.dir, pfx), arpLike(etherARP), arpLike(etherRARP)}
}

// lowerNet matches the prefix in the IPv4 or IPv6 header, per its family.
func lowerNet(dir direction, pfx netip.Prefix) ir {
	if pfx.Addr().Is4() {
		return irAnd{etherIs(etherIP4), sides(dir,
			func() ir { return addrIs(offIP4Src, pfx) },
			func() ir { return addrIs(offIP4Dst, pfx) })}
	}
	return irAnd{etherIs(etherIP6), sides(dir,
		func() ir { return addrIs(offIP6Src, pfx) },
		func() ir { return addrIs(offIP6Dst, pfx) })}
}

// addrIs compares the address at off with the prefix, one 32-bit word at a
// time, skipping words the prefix does not constrain.
func addrIs(off uint32, pfx netip.Prefix) ir {
	raw := pfx.Addr().AsSlice()
	bits := pfx.Bits()
	var and irAnd
	for w := 0; w*32 < bits; w++ {
		k := binary.BigEndian.Uint32(raw[4*w:])
		c := irCond{off: off + uint32(4*w), size: 4, k: k}
		if left := bits - 32*w; left < 32 {
			c.mask = ^uint32(0) << (32 - left)
			c.k &= c.mask
		}
		and = append(and, c)
	}
	if len(and) == 0 {
		return irTrue{}
	}
	return and
}

func lowerPort(n *portNode) ir {
	var protos []uint32
	switch n.proto {
	case "tcp":
		protos = []uint32{protoTCP}
	case "udp":
		protos = []uint32{protoUDP}
	case "sctp":
		protos = []uint32{protoSCTP}
	default:
		protos = []uint32{protoTCP, protoUDP, protoSCTP}
	}
	var p4, p6 irOr
	for _, p := range protos {
		p4 = append(p4, eq(offIP4Proto, 1, p))
		p6 = append(p6, eq(offIP6Next, 1, p))
	}
	portAt := func(mode loadMode, off uint32) ir {
		c := irCond{mode: mode, off: off, size: 2, k: uint32(n.lo)}
		if n.lo == n.hi {
			return c
		}
		c.op = cmpGe
		return irAnd{c, irNot{irCond{mode: mode, off: off, size: 2, op: cmpGt, k: uint32(n.hi)}}}
	}
	v4 := irAnd{etherIs(etherIP4), p4,
		// Only the first fragment carries the transport header.
		irNot{irCond{off: offIP4Frag, size: 2, op: cmpSet, k: 0x1fff}},
		sides(n.dir,
			func() ir { return portAt(loadIPv4, 0) },
			func() ir { return portAt(loadIPv4, 2) })}
	v6 := irAnd{etherIs(etherIP6), p6, sides(n.dir,
		func() ir { return portAt(loadAbs, offIP6Ports) },
		func() ir { return portAt(loadAbs, offIP6Ports+2) })}
	return irOr{v4, v6}
}
