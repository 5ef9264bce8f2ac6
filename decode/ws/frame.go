package ws

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Opcodes of RFC 6455 section 5.2.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// rsv1 is the RSV1 bit as it sits in frameHeader.rsv; permessage-deflate
// (RFC 7692) sets it on the first frame of a compressed message.
const rsv1 = 0x4

// maxHeader is the longest frame header: 2 bytes, a 64-bit extended
// length and a masking key.
const maxHeader = 14

// maxControlPayload is the largest payload a control frame may carry.
const maxControlPayload = 125

// errLength is a 64-bit length with its most significant bit set, which
// RFC 6455 forbids and no real peer sends: framing is lost.
var errLength = errors.New("frame length has its most significant bit set")

// frameHeader is the decoded header of one frame.
type frameHeader struct {
	fin    bool
	rsv    uint8 // RSV1..RSV3 as bits 2..0
	opcode uint8
	masked bool
	key    [4]byte
	length uint64
}

func (h *frameHeader) control() bool { return h.opcode >= opClose }

// data reports a frame that belongs to a message: text, binary or
// continuation (reserved opcodes belong to none).
func (h *frameHeader) data() bool { return h.opcode <= opBinary }

// headerSize returns the size of the header starting with b0 b1 (the
// first two bytes).
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// parseFrameHeader decodes a complete header (len(b) == headerSize(b[1])).
func parseFrameHeader(b []byte) (frameHeader, error) {
	h := frameHeader{
		fin:    b[0]&0x80 != 0,
		rsv:    b[0] >> 4 & 0x7,
		opcode: b[0] & 0xf,
		masked: b[1]&0x80 != 0,
	}
	p := 2
	switch l := b[1] & 0x7f; l {
	case 126:
		h.length = uint64(binary.BigEndian.Uint16(b[2:]))
		p += 2
	case 127:
		h.length = binary.BigEndian.Uint64(b[2:])
		p += 8
		if h.length>>63 != 0 {
			return h, errLength
		}
	default:
		h.length = uint64(l)
	}
	if h.masked {
		copy(h.key[:], b[p:p+4])
	}
	return h, nil
}

// violation names what is wrong with a frame in the sequence, or "" when
// it is fine. inMsg says whether a fragmented message is in progress.
func (h *frameHeader) violation(inMsg bool) string {
	switch h.opcode {
	case opText, opBinary:
		if inMsg {
			return "data frame inside a fragmented message"
		}
		if h.rsv&^rsv1 != 0 {
			return "RSV2/RSV3 set without an extension"
		}
	case opContinuation:
		if !inMsg {
			return "continuation frame without a message"
		}
		if h.rsv != 0 {
			return "RSV bits on a continuation frame"
		}
	case opClose, opPing, opPong:
		if !h.fin || h.length > maxControlPayload {
			return "control frame fragmented or longer than 125 bytes"
		}
		if h.rsv != 0 {
			return "RSV bits on a control frame"
		}
	default:
		return "reserved opcode " + strconv.Itoa(int(h.opcode))
	}
	return ""
}

// kind is the Part.Kind of a frame.
func (h *frameHeader) kind() string {
	switch h.opcode {
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opContinuation:
		return "continuation"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return "reserved"
}

// plausibleStart reports whether b begins with a frame header a peer in
// direction fromClient would send as the first frame of a message: used
// to pick framing up again after missing bytes. Client frames must be
// masked and server frames not, as RFC 6455 requires.
func plausibleStart(b []byte, fromClient bool) bool {
	if len(b) < 2 || len(b) < headerSize(b[1]) {
		return false
	}
	h, err := parseFrameHeader(b[:headerSize(b[1])])
	if err != nil || h.masked != fromClient || h.violation(false) != "" {
		return false
	}
	if h.opcode == opContinuation {
		return false
	}
	// A length the peer would not send as one frame suggests noise.
	return h.length <= 1<<24
}

// closeCodes names the registered close status codes (RFC 6455 7.4.1 and
// the IANA registry).
var closeCodes = map[uint16]string{
	1000: "normal closure", 1001: "going away", 1002: "protocol error",
	1003: "unsupported data", 1005: "no status", 1006: "abnormal closure",
	1007: "invalid payload", 1008: "policy violation", 1009: "message too big",
	1010: "mandatory extension", 1011: "internal error", 1012: "service restart",
	1013: "try again later", 1014: "bad gateway", 1015: "TLS handshake",
}

// closeText renders a close payload as "code (name) reason"; a payload
// too short for a code is returned as is.
func closeText(p []byte) []byte {
	if len(p) < 2 {
		return p
	}
	code := binary.BigEndian.Uint16(p)
	s := strconv.Itoa(int(code))
	if name, ok := closeCodes[code]; ok {
		s += " (" + name + ")"
	}
	if len(p) > 2 {
		s += " " + string(p[2:])
	}
	return []byte(s)
}
