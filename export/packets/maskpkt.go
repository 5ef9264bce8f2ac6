package packets

import (
	"bytes"
	"encoding/binary"

	"github.com/tapview/tapview/decode/link"
	"github.com/tapview/tapview/decode/mask"
)

// boundary is how many bytes on each side of a segment boundary are
// joined to find values that continue into the next segment. It exceeds
// a full Ethernet segment, so typical payloads are joined whole.
const boundary = 4096

// held is a packet in the look-ahead window, with what masking needs to
// know about it.
type held struct {
	pkt     packetOut
	seq     uint64 // position in the output, for window membership
	fp      *flowPlan
	dir     int
	payload []byte // captured transport payload (a sub-slice of the data)
	l4      []byte // whole transport segment when it can be checksummed, else nil
	cksum   int    // offset of the checksum field in l4
	pseudo  uint32 // pseudo-header sum
	udp4    bool   // IPv4 UDP (checksum 0 means none)
	sumOK   bool   // the captured checksum was right before masking
	changed bool
	// sums are the exchange comments the packet carries before
	// pkt.comment (flowPlan.due); the slice is kept when h is recycled.
	sums []summary
	// prev is the previous packet with payload in the same direction of
	// the flow, while it is held; cleared when it is written so the chain
	// never outlives the window.
	prev *held
}

// inspect fills the masking fields of h from a parsed frame.
func (h *held) inspect(f *link.Frame, data []byte) {
	if f.Fragment {
		end := min(len(data), f.IPOffset+f.IPLen)
		if f.FragHeaderOffset < end {
			h.payload = data[f.FragHeaderOffset:end]
		}
		return
	}
	if f.Proto != link.ProtoTCP && f.Proto != link.ProtoUDP {
		return
	}
	h.payload = f.Payload
	start := f.IPOffset + f.IPHeaderLen
	if start != f.TransportOffset {
		return
	}
	ipEnd := f.IPOffset + f.IPLen
	switch f.Proto {
	case link.ProtoTCP:
		if f.Truncated() || ipEnd > len(data) || start+20 > ipEnd {
			return // cut by the snaplen: the checksum cannot be recomputed
		}
		h.l4, h.cksum = data[start:ipEnd], 16
	default:
		// The UDP checksum covers the datagram its length field gives,
		// which may end before the IP payload does; a length field that
		// does not fit is taken to mean the IP payload, as link.Parse
		// takes it.
		if ipEnd > len(data) || start+8 > ipEnd {
			return
		}
		end := ipEnd
		if ulen := int(binary.BigEndian.Uint16(data[start+4:])); ulen >= 8 && start+ulen <= ipEnd {
			end = start + ulen
		}
		h.l4, h.cksum = data[start:end], 6
		h.udp4 = f.Version == 4
	}
	h.pseudo = pseudoSum(f, len(h.l4))
	h.sumOK = h.udp4 && binary.BigEndian.Uint16(h.l4[h.cksum:]) == 0 || fold(h.pseudo+sum(h.l4)) == 0xffff
}

// fix recomputes the transport checksum of a changed packet whose
// checksum was right before, so the masked packet is valid again. A
// checksum that was already wrong (offloading) or absent stays as it was.
func (h *held) fix() bool {
	if !h.changed || h.l4 == nil || !h.sumOK {
		return false
	}
	if h.udp4 && binary.BigEndian.Uint16(h.l4[h.cksum:]) == 0 {
		return false
	}
	binary.BigEndian.PutUint16(h.l4[h.cksum:], 0)
	c := ^fold(h.pseudo + sum(h.l4))
	if c == 0 && h.cksum == 6 {
		c = 0xffff // UDP sends a computed zero as all ones
	}
	binary.BigEndian.PutUint16(h.l4[h.cksum:], c)
	return true
}

// pseudoSum is the ones' complement sum of the IPv4 or IPv6
// pseudo-header for a transport segment of n bytes.
func pseudoSum(f *link.Frame, n int) uint32 {
	var s uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
	}
	if f.Version == 4 {
		a, b := f.Src.As4(), f.Dst.As4()
		add(a[:])
		add(b[:])
		s += uint32(f.Proto) + uint32(n)
		return s
	}
	a, b := f.Src.As16(), f.Dst.As16()
	add(a[:])
	add(b[:])
	s += uint32(n>>16) + uint32(n&0xffff) + uint32(f.Proto)
	return s
}

// sum adds b as big-endian 16-bit words (odd length padded with zero).
func sum(b []byte) uint32 {
	var s uint64
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		s += v>>48 + v>>32&0xffff + v>>16&0xffff + v&0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>32 != 0 {
		s = s&0xffffffff + s>>32
	}
	return uint32(s)
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// maskBytes overwrites in b what m's raw scan (when scan is set), the
// flow's secret values and its wiped-body pieces cover. It reports
// whether b changed.
func maskBytes(m *mask.Masker, fp *flowPlan, dir int, b []byte, scan bool) bool {
	changed := scan && m.MaskInPlace(b) > 0
	if fp != nil && maskValues(fp, dir, b) {
		changed = true
	}
	return changed
}

// maskValues overwrites the known secret values of one direction of the
// flow, and wiped-body pieces, in b. It reports whether b changed.
func maskValues(fp *flowPlan, dir int, b []byte) bool {
	changed := false
	for _, s := range fp.secrets {
		if int(s.dir) != dir {
			continue
		}
		for i := 0; i+len(s.b) <= len(b); {
			j := bytes.Index(b[i:], s.b)
			if j < 0 {
				break
			}
			fill(b[i+j:i+j+len(s.b)], s.fill)
			changed = true
			i += j + len(s.b)
		}
	}
	if len(fp.wipe) > 0 {
		for i := 0; i+pieceLen <= len(b); {
			if _, ok := fp.wipe[piece(b[i:i+pieceLen])]; ok {
				fill(b[i:i+pieceLen], '*')
				changed = true
				i += pieceLen
				continue
			}
			i++
		}
	}
	return changed
}

func fill(b []byte, c byte) {
	for i := range b {
		b[i] = c
	}
}

// maskAcross masks known values that continue from earlier segments of
// the same direction into cur: the payloads still held in the window (up
// to boundary bytes before cur) are joined with cur's, searched as one,
// and copied back. Only flows known to hold secrets are worth the copy.
// The raw scan is not repeated on the joined bytes: a header line cut at
// the end of a segment looks complete to it, and masking it again across
// every later boundary would eat the structure around the secret.
func maskAcross(fp *flowPlan, cur *held, holds func(*held) bool, scratch []byte) []byte {
	parts := []*held{cur}
	total := 0
	for p := cur.prev; p != nil && holds(p) && total < boundary; p = p.prev {
		parts = append(parts, p)
		total += len(p.payload)
	}
	if len(parts) == 1 {
		return scratch
	}
	joined := scratch[:0]
	for i := len(parts) - 1; i >= 0; i-- {
		joined = append(joined, parts[i].payload...)
	}
	if !maskValues(fp, cur.dir, joined) {
		return joined
	}
	off := 0
	for i := len(parts) - 1; i >= 0; i-- {
		h := parts[i]
		seg := joined[off : off+len(h.payload)]
		if !bytes.Equal(seg, h.payload) {
			copy(h.payload, seg)
			h.changed = true
		}
		off += len(h.payload)
	}
	return joined
}
