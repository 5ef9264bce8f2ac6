package link

import (
	"encoding/binary"

	"github.com/tapview/tapview/sources"
)

// EtherTypes the parser follows.
const (
	EtherTypeIPv4   uint16 = 0x0800
	EtherTypeIPv6   uint16 = 0x86dd
	etherTypeVLAN   uint16 = 0x8100 // 802.1Q
	etherTypeQinQ   uint16 = 0x88a8 // 802.1ad service tag
	etherTypeQinQv1 uint16 = 0x9100 // pre-standard QinQ
)

// Address family values of the BSD NULL and LOOP headers. AF_INET6
// differs per operating system, so every known value is accepted.
const (
	afINET         = 2
	afINET6Linux   = 10
	afINET6BSD     = 24 // NetBSD, OpenBSD
	afINET6FreeBSD = 28
	afINET6Darwin  = 30
)

// Parse fills p from one captured frame of the given LINKTYPE, the inner
// packet when the frame carries a tunnel (see Frame.Tunnel). It never
// allocates and never keeps data beyond the slices it stores in p. On
// error p holds whatever was parsed before the problem (at least
// LinkType); ErrNotIP and ErrUnsupportedLink are not malformations.
func Parse(linkType uint16, data []byte, p *Frame) error {
	if err := parseLink(linkType, data, p); err != nil {
		return err
	}
	return decapsulate(data, p)
}

// parseLink is Parse up to the outermost IP packet (tunnels are removed
// by decapsulate, tunnel.go).
func parseLink(linkType uint16, data []byte, p *Frame) error {
	p.reset(linkType)
	switch linkType {
	case sources.LinkEthernet:
		return parseEthernet(data, p)
	case sources.LinkLinuxSLL:
		if len(data) < 16 {
			return ErrTruncated
		}
		p.HardwareType = binary.BigEndian.Uint16(data[2:4])
		return parseEtherType(binary.BigEndian.Uint16(data[14:16]), data, 16, p)
	case sources.LinkSLL2:
		if len(data) < 20 {
			return ErrTruncated
		}
		p.Interface = binary.BigEndian.Uint32(data[4:8])
		p.HardwareType = binary.BigEndian.Uint16(data[8:10])
		return parseEtherType(binary.BigEndian.Uint16(data[0:2]), data, 20, p)
	case sources.LinkNull:
		return parseFamily(data, p, false)
	case sources.LinkLoop:
		return parseFamily(data, p, true)
	case sources.LinkRaw:
		return parseIP(data, 0, p)
	case sources.LinkIPv4:
		if len(data) > 0 && data[0]>>4 != 4 {
			return ErrTruncated
		}
		return parseIP(data, 0, p)
	case sources.LinkIPv6:
		if len(data) > 0 && data[0]>>4 != 6 {
			return ErrTruncated
		}
		return parseIP(data, 0, p)
	default:
		return ErrUnsupportedLink
	}
}

func parseEthernet(data []byte, p *Frame) error {
	if len(data) < 14 {
		return ErrTruncated
	}
	return parseEtherType(binary.BigEndian.Uint16(data[12:14]), data, 14, p)
}

// parseEtherType follows VLAN tags from off, where et is the type that
// announced the bytes at off, and parses the IP packet behind them.
func parseEtherType(et uint16, data []byte, off int, p *Frame) error {
	for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQv1 {
		if len(data) < off+4 {
			p.EtherType = et
			return ErrTruncated
		}
		if p.NumVLANs < MaxVLANs {
			p.VLANs[p.NumVLANs] = binary.BigEndian.Uint16(data[off:off+2]) & 0x0fff
			p.NumVLANs++
		}
		et = binary.BigEndian.Uint16(data[off+2 : off+4])
		off += 4
	}
	p.EtherType = et
	switch et {
	case EtherTypeIPv4:
		if len(data) > off && data[off]>>4 != 4 {
			return ErrTruncated
		}
	case EtherTypeIPv6:
		if len(data) > off && data[off]>>4 != 6 {
			return ErrTruncated
		}
	default:
		return ErrNotIP
	}
	return parseIP(data, off, p)
}

// parseFamily handles the 4-byte address family header of NULL (host byte
// order of the capturing machine, so both orders are tried) and LOOP
// (network byte order).
func parseFamily(data []byte, p *Frame, networkOrder bool) error {
	if len(data) < 4 {
		return ErrTruncated
	}
	be := binary.BigEndian.Uint32(data[:4])
	fam := be
	if !networkOrder {
		le := binary.LittleEndian.Uint32(data[:4])
		// The family is a small number: the byte order that yields one
		// is the capturing machine's.
		if le < be {
			fam = le
		}
	}
	switch fam {
	case afINET:
		p.EtherType = EtherTypeIPv4
	case afINET6Linux, afINET6BSD, afINET6FreeBSD, afINET6Darwin:
		p.EtherType = EtherTypeIPv6
	default:
		return ErrNotIP
	}
	return parseIP(data, 4, p)
}
