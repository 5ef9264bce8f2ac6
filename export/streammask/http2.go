package streammask

import (
	"strings"

	"github.com/tapview/tapview/decode/body"
)

// HTTP/2 frame types and flags used here.
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2RstStream    = 0x3
	h2PushPromise  = 0x5
	h2GoAway       = 0x7
	h2Continuation = 0x9

	h2EndStream  = 0x1
	h2EndHeaders = 0x4
	h2Padded     = 0x8
	h2Priority   = 0x20
)

// maxH2Streams bounds the streams one direction tracks at once.
const maxH2Streams = 512

// h2 walks one direction of an HTTP/2 connection: header blocks are put
// together across HEADERS / PUSH_PROMISE and CONTINUATION frames and
// decoded with the direction's HPACK table, and secret values are
// overwritten in place (raw literals with '*', Huffman-coded ones with
// filler of the same coded length, so the block still decodes and the
// table stays in step); DATA payloads are one unit per stream, gRPC
// messages inside them split by their length prefix, compressed ones
// decompressed to be checked.
type h2 struct {
	sd      *side
	client  bool
	preface int // preface bytes still to skip

	hdr [9]byte
	hn  int

	inFrame bool
	typ     byte
	flags   byte
	stream  uint32
	left    int64 // payload bytes left
	prelude []byte
	preNeed int
	pad     int64
	content int64 // content bytes left (payload minus prelude and padding)

	table          hpackTable
	block          *unit
	blockStream    uint32
	blockEndStream bool
	blockPromise   bool

	streams map[uint32]*h2stream
	goaway  *unit
}

// h2stream is one stream's state in one direction.
type h2stream struct {
	body    *unit
	grpc    bool
	codings []string // content-encoding, or grpc-encoding for gRPC
	pfx     [5]byte
	pn      int
	msgLeft int64
	msg     *unit // a compressed gRPC message
}

func newH2(sd *side, client, noPreface bool) *h2 {
	h := &h2{sd: sd, client: client, streams: make(map[uint32]*h2stream)}
	if client && !noPreface {
		h.preface = len(h2Preface)
	}
	return h
}

func (h *h2) data(off int64, b []byte) {
	for len(b) > 0 {
		if h.preface > 0 {
			done := len(h2Preface) - h.preface
			n := min(h.preface, len(b))
			if string(b[:n]) != h2Preface[done:done+n] {
				h.lostFraming(off, b)
				return
			}
			h.preface -= n
			off += int64(n)
			b = b[n:]
			continue
		}
		if !h.inFrame {
			n := min(9-h.hn, len(b))
			copy(h.hdr[h.hn:], b[:n])
			h.hn += n
			off += int64(n)
			b = b[n:]
			if h.hn == 9 {
				h.hn = 0
				h.frameStart()
			}
			continue
		}
		if len(h.prelude) < h.preNeed {
			n := min(h.preNeed-len(h.prelude), len(b), int(h.left))
			h.prelude = append(h.prelude, b[:n]...)
			h.left -= int64(n)
			off += int64(n)
			b = b[n:]
			if len(h.prelude) == h.preNeed {
				h.preludeDone()
			}
			if h.left == 0 {
				h.frameEnd()
			}
			continue
		}
		n := int(min(h.left, int64(len(b))))
		if c := int(min(h.content, int64(n))); c > 0 {
			h.content -= int64(c)
			h.payload(off, b[:c])
		}
		h.left -= int64(n)
		off += int64(n)
		b = b[n:]
		if h.left == 0 {
			h.frameEnd()
		}
	}
}

func (h *h2) frameStart() {
	d := h.hdr
	h.left = int64(d[0])<<16 | int64(d[1])<<8 | int64(d[2])
	h.typ, h.flags = d[3], d[4]
	h.stream = (uint32(d[5])<<24 | uint32(d[6])<<16 | uint32(d[7])<<8 | uint32(d[8])) & 0x7fffffff
	h.inFrame = true
	h.prelude = h.prelude[:0]
	h.preNeed, h.pad = 0, 0
	padded := h.flags&h2Padded != 0
	switch h.typ {
	case h2Data:
		if padded {
			h.preNeed = 1
		}
	case h2Headers:
		if padded {
			h.preNeed = 1
		}
		if h.flags&h2Priority != 0 {
			h.preNeed += 5
		}
	case h2PushPromise:
		h.preNeed = 4
		if padded {
			h.preNeed++
		}
	}
	if int64(h.preNeed) > h.left {
		h.preNeed = 0
	}
	h.content = h.left - int64(h.preNeed)
	switch h.typ {
	case h2Headers, h2PushPromise:
		h.abandonBlock() // a block that never got its END_HEADERS
		h.block = h.sd.newUnit(unitHold, "HTTP/2 header block")
		h.blockStream = h.stream
		h.blockEndStream = h.typ == h2Headers && h.flags&h2EndStream != 0
		h.blockPromise = h.typ == h2PushPromise
	case h2GoAway:
		h.goaway = h.sd.newUnit(unitText, "HTTP/2 GOAWAY")
	}
	if h.left == 0 {
		h.frameEnd()
	}
}

func (h *h2) preludeDone() {
	if h.flags&h2Padded != 0 && (h.typ == h2Data || h.typ == h2Headers || h.typ == h2PushPromise) {
		h.pad = int64(h.prelude[0])
		if h.pad > h.content {
			h.pad = h.content
		}
		h.content -= h.pad
	}
}

func (h *h2) payload(off int64, b []byte) {
	switch h.typ {
	case h2Data:
		h.streamData(off, b)
	case h2Headers, h2PushPromise, h2Continuation:
		if h.block == nil {
			h.block = h.sd.newUnit(unitHold, "HTTP/2 header block")
			h.blockStream = h.stream
		}
		h.block.add(off, b, nil)
	case h2GoAway:
		h.goaway.add(off, b, nil)
	}
}

func (h *h2) frameEnd() {
	h.inFrame = false
	switch h.typ {
	case h2Headers, h2PushPromise, h2Continuation:
		if h.flags&h2EndHeaders != 0 {
			h.blockDone()
		}
	case h2Data:
		if h.flags&h2EndStream != 0 {
			h.endStream(h.stream)
		}
	case h2RstStream:
		h.endStream(h.stream)
		if p, ok := h.sd.peerOrNew().lay.(*h2); ok {
			p.endStream(h.stream)
		}
	case h2GoAway:
		h.goaway.finish()
		h.goaway = nil
	}
}

// stream returns (making it) the state of stream id.
func (h *h2) streamState(id uint32) *h2stream {
	st := h.streams[id]
	if st != nil {
		return st
	}
	if len(h.streams) >= maxH2Streams {
		for old := range h.streams {
			h.endStream(old)
			break
		}
	}
	st = &h2stream{}
	h.streams[id] = st
	return st
}

func (h *h2) endStream(id uint32) {
	st := h.streams[id]
	if st == nil {
		return
	}
	st.msg.finish()
	st.body.finish()
	delete(h.streams, id)
}

// streamData routes DATA payload to the stream's body or gRPC messages.
func (h *h2) streamData(off int64, b []byte) {
	st := h.streamState(h.stream)
	if !st.grpc {
		if st.body == nil {
			st.body = h.bodyUnit(st.codings, "HTTP/2 body")
		}
		st.body.add(off, b, nil)
		return
	}
	for len(b) > 0 {
		if st.msgLeft == 0 {
			n := min(5-st.pn, len(b))
			copy(st.pfx[st.pn:], b[:n])
			st.pn += n
			off += int64(n)
			b = b[n:]
			if st.pn < 5 {
				return
			}
			st.pn = 0
			st.msgLeft = int64(st.pfx[1])<<24 | int64(st.pfx[2])<<16 | int64(st.pfx[3])<<8 | int64(st.pfx[4])
			if st.pfx[0]&1 != 0 {
				st.msg = h.bodyUnit(st.codings, "gRPC message")
				if st.msg.kind != unitCompressed {
					// Compressed with an unnamed coding: nothing can check it.
					st.msg = h.sd.newUnit(unitCompressed, "gRPC message (compressed)")
					st.msg.decode = func([]byte) ([]byte, error) { return nil, errUnknownCoding }
				}
			}
			continue
		}
		n := int(min(st.msgLeft, int64(len(b))))
		if st.msg != nil {
			st.msg.add(off, b[:n], nil)
		} else {
			if st.body == nil {
				st.body = h.sd.newUnit(unitText, "gRPC messages")
			}
			st.body.add(off, b[:n], nil)
		}
		st.msgLeft -= int64(n)
		off += int64(n)
		b = b[n:]
		if st.msgLeft == 0 {
			st.msg.finish()
			st.msg = nil
		}
	}
}

type codingError string

func (e codingError) Error() string { return string(e) }

const errUnknownCoding = codingError("compressed without a known coding")

func (h *h2) bodyUnit(codings []string, what string) *unit {
	if body.NeedsDecoding(codings) {
		u := h.sd.newUnit(unitCompressed, what+" ("+strings.Join(codings, ", ")+")")
		u.decode = func(b []byte) ([]byte, error) { return body.Decode(codings, b, maxDecoded) }
		u.filler = func(orig []byte, n int) []byte { return bodyFiller(codings, orig, n) }
		u.memo = strings.Join(codings, ",")
		return u
	}
	return h.sd.newUnit(unitText, what)
}

// blockDone decodes a complete header block, overwrites the secret
// values in it, and notes what the stream's DATA will carry.
func (h *h2) blockDone() {
	u := h.block
	h.block = nil
	if u == nil {
		return
	}
	if u.wiping {
		h.table.forget() // its insertions are unknown
		u.release()
		return
	}
	var st *h2stream
	if !h.blockPromise {
		st = h.streamState(h.blockStream)
	}
	b := u.buf
	var line []byte
	bad, err := h.table.walk(b, func(f *hpackField) {
		v := f.value.value
		if f.indexed {
			v = f.entry.value
		}
		if st != nil {
			switch f.name {
			case "content-type":
				st.grpc = strings.HasPrefix(strings.ToLower(v), "application/grpc")
			case "content-encoding":
				if !st.grpc {
					st.codings = body.Codings(v)
				}
			case "grpc-encoding":
				st.codings = body.Codings(v)
			}
		}
		if f.indexed || f.value.end == f.value.at {
			return
		}
		s := f.value
		hide := make([]bool, len(s.value))
		any := false
		if !f.nameKnown || !s.ok {
			for i := range hide {
				hide[i] = true
			}
			any = len(hide) > 0
		} else {
			line = append(append(append(line[:0], f.name...), ": "...), s.value...)
			line = append(line, "\r\n"...)
			masked := h.sd.c.t.m.Bytes(line)
			if &masked[0] != &line[0] {
				vs := len(f.name) + 2
				for i := range hide {
					if masked[vs+i] != line[vs+i] {
						hide[i], any = true, true
					}
				}
			}
		}
		if !any {
			return
		}
		code := b[s.at:s.end]
		var repl []byte
		switch {
		case !s.huffman:
			repl = make([]byte, len(code))
			for i, c := range code {
				if hide[i] {
					c = '*'
				}
				repl[i] = c
			}
		case !s.ok:
			repl = huffmanStars(len(code))
		default:
			var ok bool
			if repl, ok = huffmanMask(code, s.value, hide); !ok {
				repl = huffmanStars(len(code))
			}
		}
		u.emitDiff(int64(s.at), code, repl)
	})
	if err != nil {
		// The rest cannot be read, by anyone: overwrite it.
		rest := make([]byte, len(b)-bad)
		for i := range rest {
			rest[i] = '*'
		}
		u.why = WhyHPACK
		u.emitRun(int64(bad), rest)
		h.sd.c.t.wiped(WhyHPACK)
		h.table.forget()
	}
	u.release()
	if st != nil && h.blockEndStream {
		h.endStream(h.blockStream)
	}
}

// lostFraming leaves the rest of the direction to a raw scan.
func (h *h2) lostFraming(off int64, rest []byte) {
	h.end()
	h.sd.toRaw(off, rest)
}

func (h *h2) gap() {
	h.end()
	h.sd.lay = &raw{sd: h.sd}
}

// abandonBlock overwrites a header block that will never be complete:
// nobody can decode it, and its insertions are lost.
func (h *h2) abandonBlock() {
	b := h.block
	if b == nil {
		return
	}
	h.block = nil
	if !b.wiping && len(b.buf) > 0 {
		b.wipe(WhyHPACK)
	}
	b.release()
	h.table.forget()
}

func (h *h2) end() {
	h.abandonBlock()
	for id := range h.streams {
		h.endStream(id)
	}
	h.goaway.finish()
	h.goaway = nil
}
