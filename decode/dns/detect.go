package dns

import (
	"encoding/binary"
	"net/netip"

	"github.com/tapview/tapview/decode"
)

// Detection bounds. A real query asks one question (mDNS packs a few
// dozen); a message with more is taken for something else.
const (
	maxQuestions = 64
	// minTCPMessage is the smallest message worth a length prefix:
	// header, root name, type and class.
	minTCPMessage = headerLen + 5
	// probeEnough is how many probe bytes, all consistent with DNS, let a
	// TCP flow on a DNS port be accepted before its first question ends
	// (the TCP layer shows parsers 64 bytes by default).
	probeEnough = 48
)

// dnsPort reports a port used by DNS, mDNS or LLMNR. Ports only raise
// confidence in content that already looks like DNS.
func dnsPort(p uint16) bool { return p == 53 || p == 5353 || p == 5355 }

// netbiosPort reports NetBIOS name and datagram services, whose messages
// share DNS's layout but are a different protocol.
func netbiosPort(p uint16) bool { return p == 137 || p == 138 }

func flowPorts(f *decode.Flow) (a, b netip.AddrPort) {
	if f == nil {
		return netip.AddrPort{}, netip.AddrPort{}
	}
	return f.Client, f.Server
}

// plausibleHeader checks the header alone: a known opcode, a question
// count a real resolver sends, a rcode of 0 in queries, and at least one
// question or record.
func plausibleHeader(h header) bool {
	switch h.opcode {
	case opQuery, opStatus, opNotify, opUpdate:
	default:
		return false
	}
	if h.qd > maxQuestions {
		return false
	}
	if !h.response {
		if h.rcodeLow != 0 || h.qd == 0 && h.opcode == opQuery {
			return false
		}
		if h.flags&flagRA != 0 && h.opcode == opQuery {
			// "Recursion available" is an answer's flag.
			return false
		}
	}
	return int(h.qd)+int(h.an)+int(h.ns)+int(h.ar) > 0
}

// detectDatagram decides whether a UDP payload is one DNS message: the
// header is plausible and the whole message parses. Trailing bytes after
// the last record are only tolerated on a DNS port.
func detectDatagram(f *decode.Flow, b []byte) decode.Verdict {
	a, z := flowPorts(f)
	if netbiosPort(a.Port()) || netbiosPort(z.Port()) {
		return decode.No
	}
	h, err := parseHeader(b)
	if err != nil || !plausibleHeader(h) {
		return decode.No
	}
	end, ok := scan(b)
	if !ok {
		return decode.No
	}
	if end != len(b) && !dnsPort(a.Port()) && !dnsPort(z.Port()) {
		return decode.No
	}
	return decode.Yes
}

// detectStream decides whether the first bytes of a TCP direction are a
// length-prefixed DNS message (RFC 1035 4.2.2). A message that fits the
// probe must parse completely; otherwise its question must parse, or, on a
// DNS port, every label seen so far must be plausible.
func detectStream(f *decode.Flow, b []byte) decode.Verdict {
	if len(b) < 2+headerLen {
		return decode.NeedMore
	}
	// Never take a TLS record for a length prefix.
	if b[0] >= 0x14 && b[0] <= 0x17 && b[1] == 0x03 {
		return decode.No
	}
	n := int(binary.BigEndian.Uint16(b))
	if n < minTCPMessage {
		return decode.No
	}
	h, _ := parseHeader(b[2:])
	if !plausibleHeader(h) {
		return decode.No
	}
	msg := b[2:]
	if len(msg) >= n {
		if end, ok := scan(msg[:n]); !ok || end != n {
			return decode.No
		}
		return decode.Yes
	}
	if h.qd == 0 {
		// A response without a question: only its records could tell,
		// and they rarely fit the probe.
		return decode.NeedMore
	}
	next, cut, ok := labelsPlausible(msg, headerLen)
	switch {
	case !ok:
		return decode.No
	case !cut && next+4 <= len(msg):
		if !plausibleClass(binary.BigEndian.Uint16(msg[next+2:])) {
			return decode.No
		}
		return decode.Yes
	}
	a, z := flowPorts(f)
	if len(b) >= probeEnough && (dnsPort(a.Port()) || dnsPort(z.Port())) {
		return decode.Yes
	}
	return decode.NeedMore
}

// plausibleClass accepts the classes real traffic uses (IN, CH, HS, NONE,
// ANY), ignoring mDNS's unicast-response / cache-flush bit.
func plausibleClass(c uint16) bool {
	switch c & 0x7fff {
	case 1, 3, 4, 254, 255:
		return true
	}
	return false
}

// scan walks a whole message without building strings, for detection:
// every name is made of plausible labels, questions have a real class,
// records fit the message and A/AAAA data has its fixed size. It returns
// the offset after the last record.
func scan(b []byte) (end int, ok bool) {
	h, err := parseHeader(b)
	if err != nil {
		return 0, false
	}
	off := headerLen
	for i := 0; i < int(h.qd); i++ {
		next, cut, ok := labelsPlausible(b, off)
		if !ok || cut || next+4 > len(b) || !plausibleClass(binary.BigEndian.Uint16(b[next+2:])) {
			return 0, false
		}
		off = next + 4
	}
	for i := 0; i < int(h.an)+int(h.ns)+int(h.ar); i++ {
		next, cut, ok := labelsPlausible(b, off)
		if !ok || cut || next+10 > len(b) {
			return 0, false
		}
		typ := binary.BigEndian.Uint16(b[next:])
		n := int(binary.BigEndian.Uint16(b[next+8:]))
		off = next + 10 + n
		// An UPDATE's records of class ANY or NONE have no rdata
		// (RFC 2136 §2.4, §2.5).
		class := binary.BigEndian.Uint16(b[next+2:])
		empty := n == 0 && (class == classANY || class == classNONE)
		if off > len(b) || !empty && (typ == typeA && n != 4 || typ == typeAAAA && n != 16) {
			return 0, false
		}
	}
	return off, true
}
