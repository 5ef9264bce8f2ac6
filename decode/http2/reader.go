package http2

import (
	"fmt"
	"time"

	"golang.org/x/net/http2"
)

// trustAfter is how many consistent frames make boundaries found by a
// search as trusted as those known from the connection start.
const trustAfter = 4

// mode is where a direction's reader is in its byte stream.
type mode uint8

const (
	mPreface mode = iota // matching the client connection preface
	mHeader              // collecting a 9-byte frame header
	mPayload             // collecting the payload of a frame parsed whole
	mData                // passing a DATA payload through as it arrives
	mSkip                // skipping a frame too large to keep
	mSeek                // frame boundaries unknown: searching for them
)

// reader is the framing state of one direction of a connection, with
// the HPACK decoder for the header blocks that direction sends.
type reader struct {
	mode    mode
	matched int // preface bytes matched so far

	hdr  [frameHeaderLen]byte
	nhdr int
	fh   frameHeader
	ts   time.Time // capture time of the current frame's first byte
	buf  []byte    // payload of a frame being collected (mPayload)

	remain  int     // payload bytes left in the frame (mData, mSkip)
	padLen  int     // DATA: padding at the end of the payload
	needPad bool    // DATA: the pad length byte has not arrived yet
	damaged bool    // DATA: bytes of this frame were lost to a gap
	cur     *stream // DATA: the stream the frame belongs to, nil if none

	seek    seeker // mSeek: the search for a frame boundary
	trusted bool   // boundaries come from the connection start, not a search
	good    int    // consistent frames since a search found a boundary

	src      frameSource
	fr       *http2.Framer
	hp       *hpackDecoder
	block    headerBlock
	maxFrame uint32 // largest frame the peer allowed (SETTINGS_MAX_FRAME_SIZE)
}

func newReader(m mode) *reader {
	r := &reader{mode: m, hp: newHPACKDecoder(), maxFrame: defaultMaxFrame, trusted: m != mSeek}
	r.fr = http2.NewFramer(nil, &r.src)
	// The observer checks frame order itself and keeps reading after a
	// violation, where an endpoint would hang up.
	r.fr.AllowIllegalReads = true
	return r
}

// feed parses the next bytes of direction r.
func (h *handler) feed(r *reader, b []byte) {
	for len(b) > 0 && !h.stopped {
		switch r.mode {
		case mPreface:
			b = h.matchPreface(r, b)
		case mHeader:
			if r.nhdr == 0 {
				r.ts = h.ts
			}
			n := copy(r.hdr[r.nhdr:], b)
			r.nhdr += n
			b = b[n:]
			if r.nhdr == frameHeaderLen {
				r.nhdr = 0
				h.startFrame(r)
			}
		case mPayload:
			b = h.payload(r, b)
		case mData:
			b = h.dataBytes(r, b)
		case mSkip:
			n := min(r.remain, len(b))
			r.remain -= n
			b = b[n:]
			if r.remain == 0 {
				r.mode = mHeader
			}
		case mSeek:
			b = h.seek(r, b)
		}
	}
}

// matchPreface consumes the client preface. Anything else at the start
// of the client's bytes means the boundaries are unknown.
func (h *handler) matchPreface(r *reader, b []byte) []byte {
	n := min(len(b), len(preface)-r.matched)
	if string(b[:n]) != preface[r.matched:r.matched+n] {
		h.c.Note("http2: client connection preface missing")
		h.loseSync(r)
		return b
	}
	r.matched += n
	if r.matched == len(preface) {
		r.mode = mHeader
	}
	return b[n:]
}

// startFrame acts on a complete frame header in r.hdr.
func (h *handler) startFrame(r *reader) {
	fh := parseFrameHeader(r.hdr[:])
	if r.trusted {
		// RFC 9113 §4.1: flags a frame type does not define are ignored
		// on receipt (suricata-verify's http2-continuation sends a
		// CONTINUATION with 0x01 set). Only a boundary search needs
		// them unset, as a sign the guess was right.
		fh.flags &= definedFlags(fh.typ)
		r.hdr[4] = uint8(fh.flags)
	}
	r.fh = fh
	if fh.bad || !consistent(fh) {
		if !r.trusted {
			// The boundary was a guess, and a wrong one.
			h.c.Note(fmt.Sprintf("http2: invalid %v frame header (stream %d, length %d); searching for the next frame", fh.typ, fh.stream, fh.length))
			h.loseSync(r)
			// The header bytes may belong to a real frame further on.
			r.seek.buf = append(r.seek.buf, r.hdr[1:]...)
			return
		}
		// Boundaries known since the connection start stay right: the
		// frame is malformed, and skipped by its length.
		h.c.Note(fmt.Sprintf("http2: malformed %v frame header (stream %d, length %d, flags %#x) skipped", fh.typ, fh.stream, fh.length, uint8(fh.flags)))
		if carriesHeaders(fh.typ) {
			h.blockLost(r, fh, "malformed header frame")
		}
		r.mode, r.remain = mSkip, int(fh.length)
		if r.remain == 0 {
			r.mode = mHeader
		}
		return
	}
	if !r.trusted {
		if r.good++; r.good >= trustAfter {
			r.trusted = true
		}
	}
	h.p.frames.Add(1)
	if r.block.active && fh.typ != http2.FrameContinuation {
		h.c.Note(fmt.Sprintf("http2: %v frame inside the header block of stream %d", fh.typ, r.block.stream))
		h.blockLost(r, fh, "header block interrupted")
	}
	if fh.typ == http2.FrameHeaders {
		h.p.headers.Add(1)
	}
	switch {
	case fh.typ == http2.FrameData:
		r.mode, r.remain, r.padLen, r.damaged = mData, int(fh.length), 0, false
		r.needPad = fh.flags.Has(http2.FlagDataPadded)
		h.dataStart(r)
		if r.remain == 0 {
			h.finishData(r)
		}
	case int(fh.length) > h.maxKeep():
		h.c.Note(fmt.Sprintf("http2: %v frame of %d bytes on stream %d not decoded", fh.typ, fh.length, fh.stream))
		if carriesHeaders(fh.typ) {
			h.blockLost(r, fh, "header block too large")
		}
		r.mode, r.remain = mSkip, int(fh.length)
	default:
		r.mode = mPayload
		r.buf = r.buf[:0]
		if fh.length == 0 {
			h.parseFrame(r, nil)
		}
	}
}

// maxKeep is the largest non-DATA frame kept for parsing: header blocks
// are bounded by Limits.MaxHeaderBytes, other frames are tiny.
func (h *handler) maxKeep() int { return max(defaultMaxFrame, h.lim.MaxHeaderBytes) }

// payload collects a frame's payload and parses the frame once whole.
// A payload that arrives in one piece is parsed in place.
func (h *handler) payload(r *reader, b []byte) []byte {
	need := int(r.fh.length) - len(r.buf)
	if len(r.buf) == 0 && len(b) >= need {
		h.parseFrame(r, b[:need])
		return b[need:]
	}
	take := min(need, len(b))
	r.buf = append(r.buf, b[:take]...)
	if len(r.buf) == int(r.fh.length) {
		h.parseFrame(r, r.buf)
		if cap(r.buf) > 64<<10 {
			r.buf = nil
		}
	}
	return b[take:]
}

// parseFrame hands one whole frame to the Framer and acts on it.
func (h *handler) parseFrame(r *reader, payload []byte) {
	r.mode = mHeader
	r.src.set(r.hdr[:], payload)
	f, err := r.fr.ReadFrame()
	if err != nil {
		if d := r.fr.ErrorDetail(); d != nil {
			err = fmt.Errorf("%w: %v", err, d)
		}
		h.c.Note(fmt.Sprintf("http2: %v frame on stream %d: %v", r.fh.typ, r.fh.stream, err))
		if carriesHeaders(r.fh.typ) {
			h.blockLost(r, r.fh, "malformed header frame")
		}
		return
	}
	h.frame(r, f)
}

// dataBytes passes DATA payload bytes to the stream as they arrive,
// without keeping the frame, and strips padding.
func (h *handler) dataBytes(r *reader, b []byte) []byte {
	if r.needPad {
		r.needPad = false
		r.padLen = int(b[0])
		r.remain--
		b = b[1:]
		if r.padLen > r.remain {
			h.c.Note(fmt.Sprintf("http2: DATA on stream %d: padding longer than the frame", r.fh.stream))
			r.padLen = r.remain
		}
	}
	n := min(r.remain-r.padLen, len(b))
	if n > 0 {
		h.data(r, b[:n])
	}
	used := n
	if n == r.remain-r.padLen {
		used += min(r.padLen, len(b)-n)
	}
	r.remain -= used
	if r.remain == 0 {
		h.finishData(r)
	}
	return b[used:]
}

// finishData ends the DATA frame in progress.
func (h *handler) finishData(r *reader) {
	r.mode, r.remain, r.padLen, r.needPad = mHeader, 0, 0, false
	h.dataEnd(r)
}

// seek searches for a frame boundary after bytes were lost or when the
// connection was joined mid-stream. The client preface, if it shows up
// first, is a boundary too.
func (h *handler) seek(r *reader, b []byte) []byte {
	take := min(len(b), maxSeek)
	chunk := b[:take]
	b = b[take:]
	if sk := &r.seek; sk.from == 0 && len(sk.waits) == 0 && len(sk.buf) < len(preface) {
		have := len(sk.buf)
		n := min(len(chunk), len(preface)-have)
		if string(sk.buf) == preface[:have] && string(chunk[:n]) == preface[have:have+n] {
			if have+n < len(preface) {
				sk.buf = append(sk.buf, chunk...)
				return b
			}
			h.sawPreface(r)
			sk.reset()
			r.mode, r.trusted = mHeader, true
			return append(append([]byte(nil), chunk[n:]...), b...)
		}
	}
	off, ok := r.seek.add(chunk, min(r.maxFrame, maxSeek-2*frameHeaderLen))
	if !ok {
		if cap(r.seek.buf) > 4*maxSeek {
			r.seek.buf = append([]byte(nil), r.seek.buf...)
		}
		return b
	}
	rest := append([]byte(nil), r.seek.buf[off:]...)
	r.seek.reset()
	r.mode, r.good = mHeader, 0
	return append(rest, b...)
}

// loseSync abandons the frame boundaries of r: whatever header block was
// in progress is lost, and with it the HPACK table, since the lost bytes
// may have held insertions.
func (h *handler) loseSync(r *reader) {
	h.p.resyncs.Add(1)
	if r.mode == mData {
		h.dataLost(r)
	}
	if r.block.active {
		h.blockLost(r, frameHeader{typ: http2.FrameContinuation, stream: r.block.stream}, "bytes missing")
	}
	r.hp.forget()
	r.mode, r.nhdr, r.buf, r.trusted = mSeek, 0, r.buf[:0], false
	r.seek.reset()
}

// gap handles n missing bytes (n < 0: unknown) in the direction of r.
// A gap of known size inside a frame payload keeps the boundaries;
// anything else loses them.
func (h *handler) gap(r *reader, n int) {
	switch {
	case r.mode == mSeek:
		// Bytes on either side of a gap cannot form a frame chain.
		r.seek.reset()
		return
	case n < 0:
	case r.mode == mSkip && n <= r.remain:
		r.remain -= n
		if r.remain == 0 {
			r.mode = mHeader
		}
		return
	case r.mode == mPayload && n <= int(r.fh.length)-len(r.buf):
		if carriesHeaders(r.fh.typ) {
			h.blockLost(r, r.fh, "bytes missing")
		}
		r.mode, r.remain = mSkip, int(r.fh.length)-len(r.buf)-n
		r.buf = r.buf[:0]
		if r.remain == 0 {
			r.mode = mHeader
		}
		return
	case r.mode == mData && n <= r.remain:
		h.dataGap(r, n)
		return
	}
	h.loseSync(r)
}

// dataGap skips n bytes of a DATA payload that the capture lost.
func (h *handler) dataGap(r *reader, n int) {
	if r.needPad {
		// The pad length went missing: count everything as data.
		r.needPad = false
		r.remain--
		n--
	}
	r.damaged = true
	d := min(n, r.remain-r.padLen)
	if d > 0 {
		h.dataSkip(r, d)
	}
	r.remain -= n
	if r.remain <= 0 {
		h.finishData(r)
	}
}
