package link

import (
	"encoding/binary"
	"net/netip"

	"github.com/tapview/tapview/sources"
)

// IPv6 extension headers that are skipped to reach the transport header.
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6AH       = 51
	ipv6DestOpts = 60
	ipv6NoNext   = 59
	// maxExtHeaders bounds the walk so a chain of tiny headers cannot
	// make one packet expensive.
	maxExtHeaders = 16
)

// ParseIP parses an IP datagram that starts at data[0] (the output of a
// Defragmenter, or a raw capture). It is Parse for LINKTYPE_RAW: tunnels
// are removed too, so a reassembled outer datagram yields its inner packet.
func ParseIP(data []byte, p *Frame) error {
	p.reset(sources.LinkRaw)
	if err := parseIP(data, 0, p); err != nil {
		return err
	}
	return decapsulate(data, p)
}

func parseIP(data []byte, off int, p *Frame) error {
	if len(data) <= off {
		return ErrTruncated
	}
	p.IPOffset = off
	switch data[off] >> 4 {
	case 4:
		return parseIPv4(data, off, p)
	case 6:
		return parseIPv6(data, off, p)
	default:
		return ErrTruncated
	}
}

func parseIPv4(data []byte, off int, p *Frame) error {
	h := data[off:]
	if len(h) < 20 {
		return ErrTruncated
	}
	ihl := int(h[0]&0x0f) * 4
	if ihl < 20 || len(h) < ihl {
		return ErrTruncated
	}
	p.Version = 4
	p.IPHeaderLen = ihl
	total := int(binary.BigEndian.Uint16(h[2:4]))
	if total == 0 {
		// Segmentation offload: the capturing host saw a super-frame
		// whose length field was left 0. Trust the captured length.
		total = len(h)
	}
	if total < ihl {
		return ErrTruncated
	}
	p.IPLen = total
	p.TTL = h[8]
	p.Proto = h[9]
	p.Src = netip.AddrFrom4([4]byte(h[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(h[16:20]))
	frag := binary.BigEndian.Uint16(h[6:8])
	p.MoreFragments = frag&0x2000 != 0
	p.FragOffset = int(frag&0x1fff) * 8
	if p.MoreFragments || p.FragOffset != 0 {
		p.Fragment = true
		p.FragID = uint32(binary.BigEndian.Uint16(h[4:6]))
		p.FragHeaderOffset = off + ihl
		p.TransportOffset = off + ihl
		p.PayloadOffset = off + ihl
		p.PayloadLen = total - ihl
		p.Payload = capture(data, off+ihl, total-ihl)
		return nil
	}
	return parseTransport(data, off+ihl, total-ihl, p)
}

func parseIPv6(data []byte, off int, p *Frame) error {
	h := data[off:]
	if len(h) < 40 {
		return ErrTruncated
	}
	p.Version = 6
	plen := int(binary.BigEndian.Uint16(h[4:6]))
	if plen == 0 {
		// Jumbogram or offloaded super-frame: use what was captured.
		plen = len(h) - 40
	}
	p.IPLen = 40 + plen
	p.TTL = h[7]
	p.Src = netip.AddrFrom16([16]byte(h[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(h[24:40]))
	next := h[6]
	pos := off + 40
	end := off + 40 + plen
	for i := 0; ; i++ {
		if i > maxExtHeaders {
			return ErrTruncated
		}
		switch next {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts, ipv6AH:
			if len(data) < pos+2 {
				return ErrTruncated
			}
			n := (int(data[pos+1]) + 1) * 8
			if next == ipv6AH {
				n = (int(data[pos+1]) + 2) * 4
			}
			if pos+n > end || len(data) < pos+n {
				return ErrTruncated
			}
			next = data[pos]
			pos += n
			continue
		case ipv6Fragment:
			if pos+8 > end || len(data) < pos+8 {
				return ErrTruncated
			}
			fo := binary.BigEndian.Uint16(data[pos+2 : pos+4])
			offset := int(fo>>3) * 8
			more := fo&1 != 0
			nh := data[pos]
			id := binary.BigEndian.Uint32(data[pos+4 : pos+8])
			pos += 8
			if offset == 0 && !more {
				// Atomic fragment (RFC 6946): the whole datagram.
				next = nh
				continue
			}
			p.Proto = nh
			p.IPHeaderLen = pos - off
			p.Fragment = true
			p.FragID = id
			p.FragOffset = offset
			p.MoreFragments = more
			p.FragHeaderOffset = pos
			p.TransportOffset = pos
			p.PayloadOffset = pos
			p.PayloadLen = end - pos
			p.Payload = capture(data, pos, end-pos)
			return nil
		}
		break
	}
	p.Proto = next
	p.IPHeaderLen = pos - off
	return parseTransport(data, pos, end-pos, p)
}

// parseTransport parses the TCP or UDP header at off; n is the transport
// length the IP header announces.
func parseTransport(data []byte, off, n int, p *Frame) error {
	p.TransportOffset = off
	switch p.Proto {
	case ProtoTCP:
		if n < 20 || len(data) < off+20 {
			return ErrTruncated
		}
		h := data[off:]
		hl := int(h[12]>>4) * 4
		if hl < 20 || hl > n || len(h) < hl {
			return ErrTruncated
		}
		p.SrcPort = binary.BigEndian.Uint16(h[0:2])
		p.DstPort = binary.BigEndian.Uint16(h[2:4])
		p.Seq = binary.BigEndian.Uint32(h[4:8])
		p.Ack = binary.BigEndian.Uint32(h[8:12])
		p.Flags = TCPFlags(h[13])
		p.Window = binary.BigEndian.Uint16(h[14:16])
		p.TransportHeaderLen = hl
		p.PayloadOffset = off + hl
		p.PayloadLen = n - hl
	case ProtoUDP:
		if n < 8 || len(data) < off+8 {
			return ErrTruncated
		}
		h := data[off:]
		p.SrcPort = binary.BigEndian.Uint16(h[0:2])
		p.DstPort = binary.BigEndian.Uint16(h[2:4])
		ulen := int(binary.BigEndian.Uint16(h[4:6]))
		p.TransportHeaderLen = 8
		p.PayloadOffset = off + 8
		p.PayloadLen = n - 8
		if ulen >= 8 && ulen-8 < p.PayloadLen {
			p.PayloadLen = ulen - 8
		}
	default:
		p.PayloadOffset = off
		p.PayloadLen = n
	}
	if p.PayloadLen < 0 {
		p.PayloadLen = 0
	}
	p.Payload = capture(data, p.PayloadOffset, p.PayloadLen)
	return nil
}

// capture returns data[off:off+n] clipped to what was captured.
func capture(data []byte, off, n int) []byte {
	if off > len(data) {
		return data[len(data):]
	}
	end := off + n
	if end > len(data) || end < off {
		end = len(data)
	}
	return data[off:end:end]
}
