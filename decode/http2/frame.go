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

// seekSync finds the first offset in b where a plausible chain of frame
// headers starts: a header whose frame is followed by another plausible
// header, or whose frame ends exactly at the end of b. It returns the
// offset and true, or the offset scanning must resume from (earlier
// offsets can be dropped) and false when more bytes are needed.
func seekSync(b []byte, maxFrame uint32) (int, bool) {
	for off := 0; off+frameHeaderLen <= len(b); off++ {
		fh := parseFrameHeader(b[off:])
		if !plausible(fh, maxFrame) {
			continue
		}
		end := off + frameHeaderLen + int(fh.length)
		switch {
		case end == len(b):
			return off, true
		case end+frameHeaderLen <= len(b):
			if plausible(parseFrameHeader(b[end:]), maxFrame) {
				return off, true
			}
		default:
			// The candidate's frame or its successor's header is not
			// here yet: wait for more bytes before judging it.
			return off, false
		}
	}
	return max(0, len(b)-frameHeaderLen+1), false
}
