package view

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds for schema-less protobuf decoding: nesting beyond maxProtoDepth is
// shown as bytes, output beyond maxProtoLines is cut with a note, and byte
// fields show at most maxProtoBytes.
const (
	maxProtoDepth = 32
	maxProtoLines = 100000
	maxProtoBytes = 512
)

// Protobuf wire types.
const (
	wtVarint     = 0
	wtFixed64    = 1
	wtBytes      = 2
	wtStartGroup = 3
	wtEndGroup   = 4
	wtFixed32    = 5
)

// DecodeRawProtobuf shows protobuf bytes without a schema, one field per
// line as "number: value" with nested messages in braces. Length-delimited
// fields are guessed: printable UTF-8 is a string, bytes that parse as a
// message are a nested message, anything else is escaped bytes. Fixed-width
// values carry their float reading when it looks plausible. ok is false
// when b is not a well-formed protobuf message; an empty message is ok with
// no lines.
func DecodeRawProtobuf(b []byte) (lines []string, ok bool) {
	if _, ok := scanFields(b, 0, 0); !ok {
		return nil, false
	}
	p := &protoPrinter{}
	p.fields(b, 0, 0)
	if p.cut {
		p.lines = append(p.lines, fmt.Sprintf("… output cut at %d lines", maxProtoLines))
	}
	return p.lines, true
}

// scanFields checks the fields in b up to the end of b (group == 0) or up
// to the end-group tag of field group. It returns the bytes consumed. Only
// the framing is checked, never the contents of length-delimited fields,
// so checking is linear in len(b).
func scanFields(b []byte, depth int, group uint64) (int, bool) {
	if depth > maxProtoDepth {
		return 0, false
	}
	i := 0
	for i < len(b) {
		tag, n := binary.Uvarint(b[i:])
		if n <= 0 || tag>>3 == 0 || tag>>3 > math.MaxInt32>>2 {
			return 0, false
		}
		i += n
		num, wt := tag>>3, tag&7
		switch wt {
		case wtVarint:
			_, n := binary.Uvarint(b[i:])
			if n <= 0 {
				return 0, false
			}
			i += n
		case wtFixed64:
			i += 8
		case wtFixed32:
			i += 4
		case wtBytes:
			l, n := binary.Uvarint(b[i:])
			if n <= 0 || l > uint64(len(b)-i-n) {
				return 0, false
			}
			i += n + int(l)
		case wtStartGroup:
			used, ok := scanFields(b[i:], depth+1, num)
			if !ok {
				return 0, false
			}
			i += used
		case wtEndGroup:
			if group == 0 || num != group {
				return 0, false
			}
			return i, true
		default:
			return 0, false
		}
		if i > len(b) {
			return 0, false
		}
	}
	if group != 0 {
		return 0, false // group never ended
	}
	return i, true
}

type protoPrinter struct {
	lines []string
	cut   bool
}

func (p *protoPrinter) emit(depth int, s string) {
	if len(p.lines) >= maxProtoLines {
		p.cut = true
		return
	}
	p.lines = append(p.lines, strings.Repeat("  ", depth)+s)
}

// fields prints what scanFields accepted; it returns the bytes consumed.
func (p *protoPrinter) fields(b []byte, depth int, group uint64) int {
	i := 0
	for i < len(b) && !p.cut {
		tag, n := binary.Uvarint(b[i:])
		i += n
		num, wt := tag>>3, tag&7
		key := strconv.FormatUint(num, 10)
		switch wt {
		case wtVarint:
			v, n := binary.Uvarint(b[i:])
			i += n
			s := key + ": " + strconv.FormatUint(v, 10)
			if v > math.MaxInt64 {
				s += "  # int64 " + strconv.FormatInt(int64(v), 10)
			}
			p.emit(depth, s)
		case wtFixed64:
			v := binary.LittleEndian.Uint64(b[i:])
			i += 8
			p.emit(depth, fmt.Sprintf("%s: 0x%016x%s", key, v, floatNote("double", math.Float64frombits(v), 64)))
		case wtFixed32:
			v := binary.LittleEndian.Uint32(b[i:])
			i += 4
			p.emit(depth, fmt.Sprintf("%s: 0x%08x%s", key, v, floatNote("float", float64(math.Float32frombits(v)), 32)))
		case wtBytes:
			l, n := binary.Uvarint(b[i:])
			i += n
			p.lengthDelimited(depth, key, b[i:i+int(l)])
			i += int(l)
		case wtStartGroup:
			p.emit(depth, key+" {")
			i += p.fields(b[i:], depth+1, num)
			p.emit(depth, "}")
		case wtEndGroup:
			return i
		}
	}
	return i
}

func (p *protoPrinter) lengthDelimited(depth int, key string, data []byte) {
	switch {
	case len(data) == 0:
		p.emit(depth, key+`: ""`)
	case printableText(data):
		p.emit(depth, key+": "+quoteProto(data))
	case depth+1 <= maxProtoDepth && validNested(data, depth+1):
		p.emit(depth, key+" {")
		p.fields(data, depth+1, 0)
		p.emit(depth, "}")
	default:
		p.emit(depth, key+": "+quoteProto(data))
	}
}

func validNested(data []byte, depth int) bool {
	_, ok := scanFields(data, depth, 0)
	return ok
}

// floatNote adds the float reading of a fixed-width value when it is a
// number a person would plausibly have sent.
func floatNote(kind string, f float64, bits int) string {
	a := math.Abs(f)
	if f == 0 || (a >= 1e-6 && a <= 1e15 && !math.IsInf(f, 0)) {
		return "  # " + kind + " " + strconv.FormatFloat(f, 'g', -1, bits)
	}
	return ""
}

// printableText reports whether data is UTF-8 text without controls other
// than whitespace, the signature of a string field.
func printableText(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, r := range string(data) {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f || r >= 0x80 && r <= 0x9f {
			return false
		}
	}
	return true
}

// quoteProto renders bytes as a double-quoted string: text through
// Sanitize, other bytes as \xNN, at most maxProtoBytes of them.
func quoteProto(data []byte) string {
	extra := ""
	if len(data) > maxProtoBytes {
		extra = fmt.Sprintf(" … (%d bytes)", len(data))
		data = data[:maxProtoBytes]
	}
	var b strings.Builder
	b.WriteByte('"')
	if utf8.Valid(data) {
		s := Sanitize(string(data))
		s = strings.ReplaceAll(s, `"`, `\"`)
		b.WriteString(s)
	} else {
		for _, c := range data {
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c >= 0x20 && c < 0x7f:
				b.WriteByte(c)
			default:
				writeHexByte(&b, `\x`, c)
			}
		}
	}
	b.WriteByte('"')
	return b.String() + extra
}
