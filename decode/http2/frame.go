package http2

import (
	"io"

	"golang.org/x/net/http2"
)

const (
	frameHeaderLen = 9
	// defaultMaxFrame is SETTINGS_MAX_FRAME_SIZE's initial value; frames
	// up to it are plausible before a peer announced more.
	defaultMaxFrame = 16384
	// maxSeek bounds the bytes a direction keeps while searching for a
	// frame boundary: enough for a default-size frame and the header of
	// the next one, several times over.
	maxSeek = 64 << 10
)

// frameHeader is the fixed 9-byte header of every frame (RFC 9113 §4.1).
type frameHeader struct {
	length uint32
	typ    http2.FrameType
	flags  http2.Flags
	stream uint32
	bad    bool // the reserved bit of the stream identifier is set
}

func parseFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length: uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:    http2.FrameType(b[3]),
		flags:  http2.Flags(b[4]),
		stream: (uint32(b[5])<<24 | uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])) & 0x7fffffff,
		bad:    b[5]&0x80 != 0,
	}
}

// plausible reports whether a frame header could have been sent by a
// conforming peer: a known type, flags that type defines, a stream id
// that fits the type, and the fixed lengths some types have. Used to
// find frame boundaries where none is known, so it is strict: unknown
// extension types are not accepted here.
func plausible(fh frameHeader, maxFrame uint32) bool {
	if fh.bad || fh.length > maxFrame {
		return false
	}
	return consistent(fh)
}

// consistent reports whether a header's type, flags, stream id and
// length agree. A synchronised direction that meets an inconsistent
// header of a known type has lost its frame boundaries (bytes missing or
// the sync was a guess). Unknown types are consistent: RFC 9113 §4.1
// asks receivers to ignore them.
func consistent(fh frameHeader) bool {
	f, n, s := uint8(fh.flags), fh.length, fh.stream
	switch fh.typ {
	case http2.FrameData:
		return s != 0 && f&^0x09 == 0
	case http2.FrameHeaders:
		return s != 0 && f&^0x2d == 0
	case http2.FramePriority:
		return s != 0 && n == 5 && f == 0
	case http2.FrameRSTStream:
		return s != 0 && n == 4 && f == 0
	case http2.FrameSettings:
		return s == 0 && n%6 == 0 && f&^0x01 == 0 && (f == 0 || n == 0)
	case http2.FramePushPromise:
		return s != 0 && n >= 4 && f&^0x0c == 0
	case http2.FramePing:
		return s == 0 && n == 8 && f&^0x01 == 0
	case http2.FrameGoAway:
		return s == 0 && n >= 8 && f == 0
	case http2.FrameWindowUpdate:
		return n == 4 && f == 0
	case http2.FrameContinuation:
		return s != 0 && f&^0x04 == 0
	}
	return fh.typ > http2.FrameContinuation
}

// definedFlags are the flag bits RFC 9113 defines for frames of type t;
// all bits for types it does not know, which are passed on unread.
func definedFlags(t http2.FrameType) http2.Flags {
	switch t {
	case http2.FrameData:
		return 0x09
	case http2.FrameHeaders:
		return 0x2d
	case http2.FrameSettings, http2.FramePing:
		return 0x01
	case http2.FramePushPromise:
		return 0x0c
	case http2.FrameContinuation:
		return 0x04
	case http2.FramePriority, http2.FrameRSTStream, http2.FrameGoAway, http2.FrameWindowUpdate:
		return 0
	}
	return 0xff
}

// carriesHeaders reports whether frames of type t hold a header block
// fragment, whose loss leaves the HPACK table unknown.
func carriesHeaders(t http2.FrameType) bool {
	return t == http2.FrameHeaders || t == http2.FrameContinuation || t == http2.FramePushPromise
}

// frameSource is the io.Reader a direction's Framer reads from: exactly
// one frame, its header and its payload, which may come from different
// buffers. It lets complete frames go to the Framer without copying them
// into one buffer first.
type frameSource struct {
	hdr, payload []byte
}

func (s *frameSource) set(hdr, payload []byte) { s.hdr, s.payload = hdr, payload }

func (s *frameSource) Read(p []byte) (int, error) {
	if len(s.hdr) > 0 {
		n := copy(p, s.hdr)
		s.hdr = s.hdr[n:]
		return n, nil
	}
	if len(s.payload) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.payload)
	s.payload = s.payload[n:]
	return n, nil
}

// maxWaits bounds the candidate boundaries a seeker keeps open.
const maxWaits = 32

// seeker finds frame boundaries in a byte stream whose boundaries are
// unknown. A candidate offset is accepted when a plausible frame header
// there is followed by a complete frame and another plausible header, or
// when its frame ends exactly where the bytes end (TCP segments usually
// end at frame ends). A candidate whose frame is not complete yet stays
// open while later offsets are examined: one plausible header alone is
// weak evidence (a slice of HPACK bytes can look like one), so a later
// offset with a confirmed chain wins over it. Every offset is judged
// once, except open candidates, so searching stays linear.
type seeker struct {
	buf   []byte
	from  int   // offsets before from are judged (rejected or open)
	waits []int // open candidates, ascending
}

// chain judges one offset.
type chain uint8

const (
	chainNo chain = iota
	chainYes
	chainWait
)

func chainAt(b []byte, maxFrame uint32) chain {
	fh := parseFrameHeader(b)
	if !plausible(fh, maxFrame) {
		return chainNo
	}
	end := frameHeaderLen + int(fh.length)
	switch {
	case end == len(b):
		return chainYes
	case end+frameHeaderLen > len(b):
		return chainWait
	case plausible(parseFrameHeader(b[end:]), maxFrame):
		return chainYes
	}
	return chainNo
}

// add appends bytes and reports the offset in s.buf of an accepted
// boundary, or false. Without a boundary, bytes no candidate needs are
// dropped, so the buffer holds at most a frame and a header beyond the
// oldest open candidate, plus what one call added.
func (s *seeker) add(b []byte, maxFrame uint32) (int, bool) {
	s.buf = append(s.buf, b...)
	best := -1
	kept := s.waits[:0]
	for _, off := range s.waits {
		switch chainAt(s.buf[off:], maxFrame) {
		case chainYes:
			if best < 0 {
				best = off
			}
		case chainWait:
			kept = append(kept, off)
		}
	}
	s.waits = kept
	if best >= 0 {
		return best, true
	}
	for ; s.from+frameHeaderLen <= len(s.buf); s.from++ {
		switch chainAt(s.buf[s.from:], maxFrame) {
		case chainYes:
			return s.from, true
		case chainWait:
			if len(s.waits) == maxWaits {
				s.waits = s.waits[1:]
			}
			s.waits = append(s.waits, s.from)
		}
	}
	drop := s.from
	if len(s.waits) > 0 {
		drop = s.waits[0]
	}
	s.buf = s.buf[:copy(s.buf, s.buf[drop:])]
	s.from -= drop
	for i := range s.waits {
		s.waits[i] -= drop
	}
	return 0, false
}

// reset forgets everything, after a gap: bytes on both sides of it
// cannot form one chain.
func (s *seeker) reset() {
	s.buf, s.from, s.waits = s.buf[:0], 0, s.waits[:0]
}
