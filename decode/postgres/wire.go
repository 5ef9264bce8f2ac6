package postgres

import "encoding/binary"

// Special request codes of untyped client messages (the first message
// of a connection has no type byte: a length, then a code).
const (
	codeV3      = 196608   // 3.0: StartupMessage
	codeCancel  = 80877102 // CancelRequest
	codeSSL     = 80877103 // SSLRequest
	codeGSSENC  = 80877104 // GSSENCRequest
	maxStartup  = 10000    // the server's own limit on a startup packet
	maxMsgLen   = 1 << 30  // the protocol's limit on any message
	maxResyncAt = 1 << 20  // a message longer than this is not taken as a resync point
)

// msg is one protocol message. body holds at most the reader's keep
// bytes of the payload; size is the payload's real length.
type msg struct {
	typ       byte // 0 for untyped startup-phase messages
	body      []byte
	size      int
	truncated bool
}

// wireSize is the message's size on the wire.
func (m *msg) wireSize() int64 {
	if m.typ == 0 {
		return int64(m.size) + 4
	}
	return int64(m.size) + 5
}

// reader frames one direction. It keeps at most keep bytes of a
// message's payload and skips the rest, so a huge DataRow or CopyData
// costs no more memory than a small one.
type reader struct {
	keep    int
	untyped bool // the next message has no type byte (startup phase)
	hdr     [5]byte
	nhdr    int
	cur     msg
	left    int // payload bytes still to come; -1 while in the header
}

func newReader(keep int, untyped bool) *reader {
	return &reader{keep: keep, untyped: untyped, left: -1}
}

// reset drops the message in progress.
func (r *reader) reset() {
	r.nhdr, r.left, r.cur = 0, -1, msg{}
}

// started reports whether part of a message was read.
func (r *reader) started() bool { return r.nhdr > 0 || r.left >= 0 }

// next consumes bytes of data and returns how many, with a message when
// one completed. err is set when a header cannot be a message.
func (r *reader) next(data []byte) (n int, m *msg, err string) {
	hlen := 5
	if r.untyped {
		hlen = 4
	}
	if r.left < 0 {
		k := copy(r.hdr[r.nhdr:hlen], data)
		r.nhdr += k
		n = k
		if r.nhdr < hlen {
			return n, nil, ""
		}
		var typ byte
		l := binary.BigEndian.Uint32(r.hdr[hlen-4 : hlen])
		if !r.untyped {
			typ = r.hdr[0]
		}
		switch {
		case l < 4 || l > maxMsgLen:
			return n, nil, "postgres: impossible message length"
		case r.untyped && l > maxStartup:
			return n, nil, "postgres: startup packet longer than the server accepts"
		}
		r.cur = msg{typ: typ, size: int(l) - 4}
		r.left = int(l) - 4
	}
	k := min(r.left, len(data)-n)
	if room := r.keep - len(r.cur.body); room > 0 {
		r.cur.body = append(r.cur.body, data[n:n+min(k, room)]...)
	}
	r.left -= k
	n += k
	if r.left > 0 {
		return n, nil, ""
	}
	out := r.cur
	out.truncated = len(out.body) < out.size
	r.reset()
	return n, &out, ""
}

// Message types by direction. Types both sides use (D, C, d, c, E, H, S)
// are in both sets.
func clientType(t byte) bool {
	switch t {
	case 'Q', 'P', 'B', 'E', 'D', 'C', 'S', 'H', 'F', 'X', 'p', 'd', 'c', 'f':
		return true
	}
	return false
}

func serverType(t byte) bool {
	switch t {
	case 'R', 'S', 'K', 'Z', 'T', 'D', 'C', 'E', 'N', 'A', '1', '2', '3', 'n', 't', 's', 'I', 'G', 'H', 'W', 'd', 'c', 'V', 'v':
		return true
	}
	return false
}

// onlyServer and onlyClient are types that tell the side by themselves.
func onlyServer(t byte) bool { return serverType(t) && !clientType(t) }
func onlyClient(t byte) bool { return clientType(t) && !serverType(t) }

// plausible checks one typed message at b[0:]: its type for the side
// (client, server or either when side < 0), its length, and for the
// messages whose shape is fixed, that shape. It returns the message's
// total length, or 0 when b cannot start one (or is too short to tell).
func plausible(b []byte, side int) int {
	if len(b) < 5 {
		return 0
	}
	t := b[0]
	switch {
	case side == 0 && !clientType(t), side == 1 && !serverType(t), side < 0 && !clientType(t) && !serverType(t):
		return 0
	}
	l := int(binary.BigEndian.Uint32(b[1:5]))
	if l < 4 || l > maxResyncAt {
		return 0
	}
	body := b[5:min(len(b), l+1)]
	whole := len(b) >= l+1
	switch t {
	case 'Z':
		if l != 5 || whole && body[0] != 'I' && body[0] != 'T' && body[0] != 'E' {
			return 0
		}
	case '1', '2', '3', 'n', 'I', 'c':
		if l != 4 {
			return 0
		}
	case 'S', 'X', 'H':
		if side == 0 && l != 4 {
			return 0
		}
	case 'Q', 'C':
		text := body
		if l < 5 || whole && body[len(body)-1] != 0 {
			return 0
		}
		if whole {
			text = body[:len(body)-1]
		}
		for _, c := range text {
			if c == 0 || c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return 0
			}
		}
	case 'K':
		if l != 12 {
			return 0
		}
	}
	return l + 1
}

// startupCode returns the length and code of an untyped message at b,
// ok when b holds at least 8 bytes.
func startupCode(b []byte) (l, code uint32, ok bool) {
	if len(b) < 8 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), true
}

// cstring splits a NUL-terminated string off b; ok is false when b has
// no NUL.
func cstring(b []byte) (s string, rest []byte, ok bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return string(b), nil, false
}

func u16(b []byte) (int, []byte, bool) {
	if len(b) < 2 {
		return 0, b, false
	}
	return int(binary.BigEndian.Uint16(b)), b[2:], true
}

func i32(b []byte) (int32, []byte, bool) {
	if len(b) < 4 {
		return 0, b, false
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:], true
}
