package link

import (
	"encoding/binary"
	"net/netip"
)

// Captures taken on a Kubernetes node (or any overlay underlay) carry pod
// traffic inside tunnels: Calico IPIP, Flannel/Calico/Cilium VXLAN,
// Cilium/OVN Geneve, GRE. Parse removes these encapsulations so a Frame
// describes the inner (pod) packet, and records the outer endpoints (the
// node pair) in Frame.Tunnel. Offsets in the Frame keep indexing the data
// given to Parse, so export can still rewrite the inner payload in place.

// TunnelKind names an encapsulation Parse removes.
type TunnelKind uint8

// Encapsulations Parse removes.
const (
	TunnelNone TunnelKind = iota
	// TunnelIPIP is an IP datagram directly in IPv4 or IPv6 (IP protocol
	// 4 or 41: Calico IPIP, sit, ip6tnl).
	TunnelIPIP
	// TunnelGRE is GRE version 0 carrying IPv4, IPv6 or Ethernet
	// (transparent Ethernet bridging, 0x6558) or WCCP-redirected IPv4,
	// with or without key, checksum and sequence number; directly in IP
	// or in UDP to port 4754 (GRE-in-UDP, RFC 8086).
	TunnelGRE
	// TunnelVXLAN is VXLAN on UDP 4789 (IANA) or 8472 (the Linux kernel's
	// default, which Flannel and Cilium keep).
	TunnelVXLAN
	// TunnelGeneve is Geneve on UDP 6081, options skipped by length.
	TunnelGeneve
)

var tunnelNames = [...]string{"", "ipip", "gre", "vxlan", "geneve"}

// String returns the lower-case name used in output ("vxlan"), "" for
// TunnelNone.
func (k TunnelKind) String() string {
	if int(k) < len(tunnelNames) {
		return tunnelNames[k]
	}
	return "unknown"
}

// MaxTunnelDepth bounds how many nested encapsulations Parse removes, so a
// crafted packet of tunnels in tunnels costs a bounded amount of work.
// Deeper packets are reported as the innermost level reached.
const MaxTunnelDepth = 4

// Tunnel records the encapsulation a frame arrived in.
type Tunnel struct {
	// Kind is the outermost encapsulation; TunnelNone when the frame was
	// not tunnelled.
	Kind TunnelKind
	// Depth is how many encapsulations were removed (2 for VXLAN inside
	// VXLAN).
	Depth uint8
	// HasID says whether ID is set: a VXLAN or Geneve VNI, or a GRE key.
	HasID bool
	ID    uint32
	// Src and Dst are the outermost IP addresses: the node pair.
	Src, Dst netip.Addr
}

// Well-known UDP ports of the UDP encapsulations.
const (
	portVXLAN      = 4789
	portVXLANLinux = 8472
	portGeneve     = 6081
	portGREinUDP   = 4754
)

// IP protocol numbers of IP-in-IP and GRE.
const (
	protoIPv4inIP = 4
	protoIPv6inIP = 41
	protoGRE      = 47
)

// etherTypeTEB is GRE's and Geneve's protocol type for an Ethernet frame
// (transparent Ethernet bridging).
const etherTypeTEB uint16 = 0x6558

// etherTypeWCCP is GRE's protocol type for traffic a WCCP router
// redirects to a cache: IPv4, after a 4-byte redirect header in WCCP v2.
const etherTypeWCCP uint16 = 0x883e

// decapsulate replaces p's network and transport fields with those of
// the packet inside each tunnel it recognises, up to MaxTunnelDepth
// levels. A tunnel whose inner packet does not parse is left as is: the
// frame then stays the outer UDP or IP packet it was, so misdetection
// (another protocol on port 4789) costs nothing. An inner Ethernet frame
// that is not IP (ARP inside VXLAN) yields ErrNotIP, as it would bare.
func decapsulate(data []byte, p *Frame) error {
	for p.Tunnel.Depth < MaxTunnelDepth && !p.Fragment {
		kind, id, hasID, et, off := tunnelAt(data, p)
		if kind == TunnelNone {
			return nil
		}
		outer := *p
		clearNetwork(p)
		var err error
		if et == etherTypeTEB {
			if len(data) < off+14 {
				err = ErrTruncated
			} else {
				err = parseEtherType(binary.BigEndian.Uint16(data[off+12:off+14]), data, off+14, p)
			}
		} else {
			p.EtherType = et
			err = parseIP(data, off, p)
			if err == nil && !versionMatches(et, p.Version) {
				err = ErrTruncated
			}
		}
		if err != nil && (err != ErrNotIP || et != etherTypeTEB) {
			*p = outer
			return nil
		}
		if outer.Tunnel.Depth == 0 {
			p.Tunnel = Tunnel{Kind: kind, ID: id, HasID: hasID, Src: outer.Src, Dst: outer.Dst}
		}
		p.Tunnel.Depth = outer.Tunnel.Depth + 1
		if err != nil {
			return err
		}
	}
	return nil
}

func versionMatches(et uint16, v uint8) bool {
	return et == EtherTypeIPv4 && v == 4 || et == EtherTypeIPv6 && v == 6
}

// tunnelAt recognises an encapsulation in p's (already parsed) transport
// payload. It returns the kind, the VNI or key, what the inner packet is
// (an EtherType, etherTypeTEB for Ethernet) and where it starts in data.
func tunnelAt(data []byte, p *Frame) (kind TunnelKind, id uint32, hasID bool, et uint16, off int) {
	pl := p.Payload
	switch p.Proto {
	case protoIPv4inIP:
		return TunnelIPIP, 0, false, EtherTypeIPv4, p.PayloadOffset
	case protoIPv6inIP:
		return TunnelIPIP, 0, false, EtherTypeIPv6, p.PayloadOffset
	case protoGRE:
		return greAt(p)
	case ProtoUDP:
		switch p.DstPort {
		case portVXLAN, portVXLANLinux:
			// Flags: the I bit (VNI valid) set. On the IANA port the
			// other flag bits and reserved bytes are ignored, as RFC
			// 7348 tells receivers to (VXLAN-GBP puts a group policy ID
			// there). On 8472, which is not assigned, they must be zero
			// as the RFC has senders make them: that tells VXLAN from
			// other traffic there.
			if len(pl) < 8 || pl[0]&0x08 == 0 {
				return
			}
			if p.DstPort == portVXLANLinux && (pl[0] != 0x08 || pl[1]|pl[2]|pl[3]|pl[7] != 0) {
				return
			}
			id = uint32(pl[4])<<16 | uint32(pl[5])<<8 | uint32(pl[6])
			return TunnelVXLAN, id, true, etherTypeTEB, p.PayloadOffset + 8
		case portGeneve:
			// RFC 8926: version 0, option length in 4-byte words.
			if len(pl) < 8 || pl[0]>>6 != 0 {
				return
			}
			hl := 8 + int(pl[0]&0x3f)*4
			if len(pl) < hl {
				return
			}
			et = binary.BigEndian.Uint16(pl[2:4])
			if et != etherTypeTEB && et != EtherTypeIPv4 && et != EtherTypeIPv6 {
				return TunnelNone, 0, false, 0, 0
			}
			id = uint32(pl[4])<<16 | uint32(pl[5])<<8 | uint32(pl[6])
			return TunnelGeneve, id, true, et, p.PayloadOffset + hl
		case portGREinUDP:
			// RFC 8086: the GRE header follows the UDP header.
			return greAt(p)
		}
	}
	return
}

// greAt parses a GRE version 0 header (RFC 2784 with the key and
// sequence number of RFC 2890) at the start of p's payload: that of IP
// protocol 47 or of UDP to port 4754. GRE with RFC 1701 routing, version 1
// (PPTP) and protocols other than IP and Ethernet are not tunnels Parse
// removes.
func greAt(p *Frame) (kind TunnelKind, id uint32, hasID bool, et uint16, off int) {
	pl := p.Payload
	if len(pl) < 4 {
		return
	}
	flags := binary.BigEndian.Uint16(pl[0:2])
	if flags&0x0007 != 0 || flags&0x4000 != 0 {
		return // version != 0, or routing present
	}
	et = binary.BigEndian.Uint16(pl[2:4])
	wccp := et == etherTypeWCCP
	if wccp {
		et = EtherTypeIPv4
	}
	if et != EtherTypeIPv4 && et != EtherTypeIPv6 && et != etherTypeTEB {
		return TunnelNone, 0, false, 0, 0
	}
	hl := 4
	if flags&0x8000 != 0 { // checksum present
		hl += 4
	}
	if flags&0x2000 != 0 { // key present
		if len(pl) < hl+4 {
			return TunnelNone, 0, false, 0, 0
		}
		id, hasID = binary.BigEndian.Uint32(pl[hl:hl+4]), true
		hl += 4
	}
	if flags&0x1000 != 0 { // sequence number present
		hl += 4
	}
	if wccp && len(pl) > hl && pl[hl]>>4 != 4 {
		hl += 4 // the WCCP v2 redirect header before the IPv4 packet
	}
	if len(pl) < hl {
		return TunnelNone, 0, false, 0, 0
	}
	return TunnelGRE, id, hasID, et, p.PayloadOffset + hl
}

// clearNetwork zeroes the IP and transport fields of p before the inner
// packet is parsed into it; the link fields (link type, VLANs, interface)
// and the tunnel record stay those of the captured frame.
func clearNetwork(p *Frame) {
	p.Version, p.Src, p.Dst, p.Proto, p.TTL = 0, netip.Addr{}, netip.Addr{}, 0, 0
	p.IPOffset, p.IPHeaderLen, p.IPLen = 0, 0, 0
	p.Fragment, p.FragID, p.FragOffset, p.MoreFragments, p.FragHeaderOffset = false, 0, 0, false, 0
	p.SrcPort, p.DstPort, p.TransportOffset, p.TransportHeaderLen = 0, 0, 0, 0
	p.Seq, p.Ack, p.Flags, p.Window = 0, 0, 0, 0
	p.PayloadOffset, p.Payload, p.PayloadLen = 0, nil, 0
}
