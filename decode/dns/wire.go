package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// headerLen is the fixed DNS header: id, flags and four section counts.
const headerLen = 12

// Bounds of the wire parser. A message is at most 64 KiB, so counts and
// names are bounded by the input anyway; these keep the strings built
// from one hostile message small.
const (
	maxNameWire  = 255 // RFC 1035 limit on an uncompressed name
	maxPointers  = 32  // compression pointers followed for one name
	maxKeepLines = 100 // record lines kept per section (the rest are counted)
	maxRdataHex  = 64  // bytes of unknown rdata shown as hex
)

// Flag bits of the header's second 16-bit word.
const (
	flagQR = 1 << 15
	flagAA = 1 << 10
	flagTC = 1 << 9
	flagRD = 1 << 8
	flagRA = 1 << 7
)

// Classes an UPDATE (RFC 2136) gives records without rdata.
const (
	classNONE = 254
	classANY  = 255
)

// Opcodes a plausible message may carry (RFC 1035, 1996, 2136).
const (
	opQuery  = 0
	opStatus = 2
	opNotify = 4
	opUpdate = 5
)

// Errors of the wire parser; they describe the input, never a bug.
var (
	errShort       = errors.New("message shorter than its header")
	errNameRange   = errors.New("name runs past the end of the message")
	errNameLong    = errors.New("name longer than 255 bytes")
	errNamePointer = errors.New("compression pointer does not point backwards")
	errNameLoop    = errors.New("too many compression pointers")
	errLabelType   = errors.New("reserved label type")
	errRecordRange = errors.New("record runs past the end of the message")
)

// header is the fixed part of a message.
type header struct {
	id                 uint16
	flags              uint16
	qd, an, ns, ar     uint16
	opcode, rcodeLow   uint8
	response, trunc    bool
	authoritative, rec bool
}

func parseHeader(b []byte) (header, error) {
	if len(b) < headerLen {
		return header{}, errShort
	}
	h := header{
		id:    binary.BigEndian.Uint16(b[0:]),
		flags: binary.BigEndian.Uint16(b[2:]),
		qd:    binary.BigEndian.Uint16(b[4:]),
		an:    binary.BigEndian.Uint16(b[6:]),
		ns:    binary.BigEndian.Uint16(b[8:]),
		ar:    binary.BigEndian.Uint16(b[10:]),
	}
	h.response = h.flags&flagQR != 0
	h.opcode = uint8(h.flags>>11) & 0xf
	h.rcodeLow = uint8(h.flags & 0xf)
	h.trunc = h.flags&flagTC != 0
	h.authoritative = h.flags&flagAA != 0
	h.rec = h.flags&flagRD != 0
	return h, nil
}

// question is one entry of the question section.
type question struct {
	name   string // presentation form with a trailing dot
	qtype  uint16
	qclass uint16
}

// record is one resource record, already formatted.
type record struct {
	name  string
	rtype uint16
	class uint16
	ttl   uint32
	data  string // presentation form of the rdata
}

// section numbers, in wire order.
const (
	secAnswer = iota
	secAuthority
	secAdditional
	numSections
)

// message is a parsed DNS message. Sections hold at most maxKeepLines
// records each; counts hold how many the header announced and parsed.
type message struct {
	header
	questions []question
	sections  [numSections][]record
	parsed    [numSections]int // records parsed per section (kept or not)
	ednsRcode uint8            // upper 8 bits of the extended rcode (OPT)
	// qEnd is the offset just past the question section; end just past
	// the last parsed record; spans give each record section's bytes.
	qEnd, end int
	spans     [numSections]int
}

// rcode returns the full response code, extended by an OPT record.
func (m *message) rcode() int { return int(m.ednsRcode)<<4 | int(m.rcodeLow) }

// parseMessage parses b. It returns the message together with the first
// error: when the header and question section parsed, the message is
// non-nil and holds everything up to the damage, so a snaplen-cut or
// malformed response still pairs with its query.
func parseMessage(b []byte) (*message, error) {
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	m := &message{header: h}
	off := headerLen
	if n := int(h.qd); n > 0 {
		m.questions = make([]question, 0, min(n, maxKeepLines, (len(b)-off)/5+1))
	}
	for i := 0; i < int(h.qd); i++ {
		q, next, err := parseQuestion(b, off)
		if err != nil {
			return nil, fmt.Errorf("question %d: %w", i+1, err)
		}
		if len(m.questions) < maxKeepLines {
			m.questions = append(m.questions, q)
		}
		off = next
	}
	m.qEnd, m.end = off, off
	counts := [numSections]int{int(h.an), int(h.ns), int(h.ar)}
	for s := range counts {
		start := off
		for i := 0; i < counts[s]; i++ {
			r, next, opt, err := parseRecord(b, off)
			if err != nil {
				m.spans[s] = off - start
				return m, fmt.Errorf("%s %d: %w", sectionName[s], i+1, err)
			}
			if opt {
				m.ednsRcode = uint8(r.ttl >> 24)
			}
			if len(m.sections[s]) < maxKeepLines {
				m.sections[s] = append(m.sections[s], r)
			}
			m.parsed[s]++
			off = next
			m.end = off
		}
		m.spans[s] = off - start
	}
	return m, nil
}

var sectionName = [numSections]string{"answer", "authority", "additional"}

func parseQuestion(b []byte, off int) (question, int, error) {
	name, off, err := readName(b, off)
	if err != nil {
		return question{}, 0, err
	}
	if off+4 > len(b) {
		return question{}, 0, errRecordRange
	}
	return question{
		name:   name,
		qtype:  binary.BigEndian.Uint16(b[off:]),
		qclass: binary.BigEndian.Uint16(b[off+2:]),
	}, off + 4, nil
}

// parseRecord parses the record at off; opt reports an EDNS OPT record.
func parseRecord(b []byte, off int) (r record, next int, opt bool, err error) {
	name, off, err := readName(b, off)
	if err != nil {
		return record{}, 0, false, err
	}
	if off+10 > len(b) {
		return record{}, 0, false, errRecordRange
	}
	r = record{
		name:  name,
		rtype: binary.BigEndian.Uint16(b[off:]),
		class: binary.BigEndian.Uint16(b[off+2:]),
		ttl:   binary.BigEndian.Uint32(b[off+4:]),
	}
	n := int(binary.BigEndian.Uint16(b[off+8:]))
	off += 10
	if off+n > len(b) {
		return record{}, 0, false, errRecordRange
	}
	if n == 0 && (r.class == classANY || r.class == classNONE) {
		// RFC 2136 §2.4, §2.5: an UPDATE's prerequisites and deletions
		// of class ANY or NONE carry no rdata whatever their type.
		return r, off, false, nil
	}
	r.data, err = formatRdata(b, off, n, r)
	if err != nil {
		return record{}, 0, false, fmt.Errorf("%s rdata: %w", typeName(r.rtype), err)
	}
	return r, off + n, r.rtype == typeOPT, nil
}

// readName reads a possibly compressed name at off and returns it in
// presentation form ("www.example.org.", "." for the root) with the
// offset after its wire bytes. Pointers must point strictly backwards,
// which together with maxPointers guarantees termination.
func readName(b []byte, off int) (string, int, error) {
	var sb strings.Builder
	next := -1 // offset after the name's bytes at the original position
	wire := 0  // uncompressed length so far, including length bytes
	limit := off
	hops := 0
	for {
		if off >= len(b) {
			return "", 0, errNameRange
		}
		c := int(b[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if sb.Len() == 0 {
					return ".", next, nil
				}
				return sb.String(), next, nil
			}
			if off+1+c > len(b) {
				return "", 0, errNameRange
			}
			wire += 1 + c
			if wire+1 > maxNameWire {
				return "", 0, errNameLong
			}
			appendLabel(&sb, b[off+1:off+1+c])
			sb.WriteByte('.')
			off += 1 + c
		case 0xc0:
			if off+1 >= len(b) {
				return "", 0, errNameRange
			}
			ptr := int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
			if next < 0 {
				next = off + 2
			}
			if ptr >= limit || ptr >= off {
				return "", 0, errNamePointer
			}
			hops++
			if hops > maxPointers {
				return "", 0, errNameLoop
			}
			limit = ptr
			off = ptr
		default:
			return "", 0, errLabelType
		}
	}
}

// appendLabel writes one label in presentation form: printable ASCII and
// valid UTF-8 as is, dots and backslashes escaped, anything else as \DDD.
func appendLabel(sb *strings.Builder, l []byte) {
	for len(l) > 0 {
		c := l[0]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(l)
			if r != utf8.RuneError && r >= 0xa0 {
				sb.Write(l[:n])
				l = l[n:]
				continue
			}
			fmt.Fprintf(sb, "\\%03d", c)
			l = l[1:]
			continue
		}
		switch {
		case c == '.' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(sb, "\\%03d", c)
		default:
			sb.WriteByte(c)
		}
		l = l[1:]
	}
}

// labelsPlausible checks, without allocating, that a name at off is made
// of well-formed labels within the first n bytes of b. It reports the
// offset after the name, or cut when b ends inside the name (the caller
// decides whether a cut probe is enough).
func labelsPlausible(b []byte, off int) (next int, cut, ok bool) {
	wire := 0
	for {
		if off >= len(b) {
			return 0, true, true
		}
		c := int(b[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				return off + 1, false, true
			}
			wire += 1 + c
			if wire+1 > maxNameWire {
				return 0, false, false
			}
			end := min(off+1+c, len(b))
			for _, ch := range b[off+1 : end] {
				if ch < 0x20 || ch == 0x7f {
					// Real names are text; control bytes mean binary.
					return 0, false, false
				}
			}
			if off+1+c > len(b) {
				return 0, true, true
			}
			off += 1 + c
		case 0xc0:
			if off+1 >= len(b) {
				return 0, true, true
			}
			ptr := int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
			if ptr < headerLen || ptr >= off {
				return 0, false, false
			}
			return off + 2, false, true
		default:
			return 0, false, false
		}
	}
}
