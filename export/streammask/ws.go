package streammask

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strings"
)

// wsWindow is the permessage-deflate window (RFC 7692: at most 2^15).
const wsWindow = 32 << 10

// maxWSFrame bounds a frame length taken seriously; a larger one means
// the framing was lost.
const maxWSFrame = 1 << 40

// ws walks one direction of a WebSocket connection: client frames are
// unmasked with their key before the masker sees them and patched with
// the key applied again, so the unmasked result reads '*'; a message is
// one unit across its fragments; a permessage-deflate message is
// inflated (with the direction's window when contexts are taken over)
// and, when it holds a secret, overwritten whole.
type ws struct {
	sd         *side
	fromClient bool
	deflate    bool
	takeover   bool
	window     []byte // the last wsWindow bytes of inflated output
	lost       bool   // the deflate window is unknown

	hdr  [14]byte
	hn   int
	need int

	inFrame bool
	left    int64
	op      byte
	fin     bool
	rsv1    bool
	masked  bool
	key     wsKey

	msg *unit
	ctl *unit
	buf []byte
}

func newWS(sd *side, fromClient, deflate, takeover bool) *ws {
	return &ws{sd: sd, fromClient: fromClient, deflate: deflate, takeover: takeover, need: 2}
}

// wsExtensions reads a 101 response's Sec-WebSocket-Extensions:
// whether permessage-deflate was agreed, and whether the client's and
// the server's compression contexts carry over between messages.
func wsExtensions(v string) (deflate, clientTakeover, serverTakeover bool) {
	for _, ext := range strings.Split(v, ",") {
		params := strings.Split(ext, ";")
		if !strings.EqualFold(strings.TrimSpace(params[0]), "permessage-deflate") {
			continue
		}
		deflate, clientTakeover, serverTakeover = true, true, true
		for _, p := range params[1:] {
			switch strings.ToLower(strings.TrimSpace(p)) {
			case "client_no_context_takeover":
				clientTakeover = false
			case "server_no_context_takeover":
				serverTakeover = false
			}
		}
		return
	}
	return false, false, false
}

func (w *ws) data(off int64, b []byte) {
	for len(b) > 0 {
		if !w.inFrame {
			n := min(w.need-w.hn, len(b))
			copy(w.hdr[w.hn:], b[:n])
			w.hn += n
			off += int64(n)
			b = b[n:]
			if w.hn < w.need {
				continue
			}
			if !w.header(off) {
				w.sd.toRaw(off, b)
				return
			}
			continue
		}
		n := int(min(w.left, int64(len(b))))
		w.payload(off, b[:n])
		w.left -= int64(n)
		off += int64(n)
		b = b[n:]
		if w.left == 0 {
			w.frameEnd()
		}
	}
}

// header parses the frame header collected so far: it asks for more
// bytes, or starts the frame. It reports false when the framing is lost.
func (w *ws) header(payloadAt int64) bool {
	h := w.hdr[:w.hn]
	need := 2
	switch h[1] & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if h[1]&0x80 != 0 {
		need += 4
	}
	if w.hn < need {
		w.need = need
		return true
	}
	w.fin, w.rsv1, w.op, w.masked = h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0f, h[1]&0x80 != 0
	n := int64(h[1] & 0x7f)
	k := 2
	switch n {
	case 126:
		n = int64(h[2])<<8 | int64(h[3])
		k = 4
	case 127:
		var v uint64
		for _, c := range h[2:10] {
			v = v<<8 | uint64(c)
		}
		if v > maxWSFrame {
			return false
		}
		n, k = int64(v), 10
	}
	if w.masked {
		copy(w.key.key[:], h[k:k+4])
	}
	w.key.at = payloadAt
	w.hn, w.need = 0, 2
	w.left, w.inFrame = n, true
	w.frameStart()
	if n == 0 {
		w.frameEnd()
	}
	return true
}

func (w *ws) frameStart() {
	switch {
	case w.op >= 8:
		w.ctl = w.sd.newUnit(unitText, "WebSocket control frame")
	case w.op == 0 && w.msg != nil:
	default:
		w.msg.finish()
		if w.deflate && w.rsv1 {
			w.msg = w.sd.newUnit(unitCompressed, "WebSocket message (permessage-deflate)")
			w.msg.decode = w.inflate
			w.msg.filler = func(orig []byte, n int) []byte {
				if len(orig) > maxStarFill {
					return nil
				}
				f, _ := starDeflate(len(orig), n, false)
				return f
			}
			if w.lost {
				w.msg.wipe(WhyDeflateLost)
			}
		} else {
			w.msg = w.sd.newUnit(unitText, "WebSocket message")
		}
	}
}

func (w *ws) payload(off int64, b []byte) {
	u := w.msg
	if w.op >= 8 {
		u = w.ctl
	}
	if !w.masked {
		u.add(off, b, nil)
		return
	}
	w.buf = append(w.buf[:0], b...)
	for i := range w.buf {
		w.buf[i] ^= w.key.key[(off+int64(i)-w.key.at)&3]
	}
	u.add(off, w.buf, &w.key)
}

func (w *ws) frameEnd() {
	w.inFrame = false
	if w.op >= 8 {
		w.ctl.finish()
		w.ctl = nil
		return
	}
	if w.fin {
		m := w.msg
		m.finish()
		if m != nil && m.kind == unitCompressed && m.wiping && m.why != WhyCompressedSecret && w.takeover {
			w.lost = true // it was not inflated: the window is unknown
		}
		w.msg = nil
	}
}

// inflate undoes permessage-deflate for one message and keeps the
// window for the next one when contexts are taken over.
func (w *ws) inflate(b []byte) ([]byte, error) {
	var dict []byte
	if w.takeover {
		dict = w.window
	}
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(b), bytes.NewReader([]byte{0, 0, 0xff, 0xff})), dict)
	out, err := io.ReadAll(io.LimitReader(r, maxDecoded+1))
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // the message ends with a sync flush, not a final block
	}
	if err == nil && len(out) > maxDecoded {
		err = errors.New("too large")
	}
	if err != nil {
		w.lost = w.takeover
		return nil, err
	}
	if w.takeover {
		w.window = append(w.window, out...)
		if len(w.window) > wsWindow {
			w.window = append(w.window[:0], w.window[len(w.window)-wsWindow:]...)
		}
	}
	return out, nil
}

func (w *ws) gap() {
	w.end()
	w.sd.lay = &raw{sd: w.sd}
}

func (w *ws) end() {
	w.ctl.finish()
	w.ctl = nil
	w.msg.finish()
	w.msg = nil
}
