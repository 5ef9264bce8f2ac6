package postgres

import "github.com/tapview/tapview/decode"

// maxCarry bounds what a resynchronising direction holds while a
// possible message start is incomplete.
const maxCarry = 64 << 10

// detect says whether first (the first bytes of one direction) is
// PostgreSQL: an untyped startup-phase message, or typed messages with
// plausible lengths (a connection joined mid-stream).
func detect(first []byte) decode.Verdict {
	if len(first) == 0 {
		return decode.NeedMore
	}
	if first[0] == 0 {
		return detectStartup(first)
	}
	l := plausible(first, -1)
	switch {
	case l == 0 && len(first) < 5:
		if clientType(first[0]) || serverType(first[0]) {
			return decode.NeedMore
		}
		return decode.No
	case l == 0:
		return decode.No
	case l > len(first):
		if l <= maxCarry {
			return decode.NeedMore
		}
		return decode.No
	}
	// One whole message: enough when its shape is fixed and checked.
	if l == len(first) {
		switch first[0] {
		case 'Q', 'Z', 'K', 'C':
			return decode.Yes
		}
		return decode.NeedMore
	}
	rest := first[l:]
	switch m := plausible(rest, -1); {
	case m > 0:
		return decode.Yes
	case len(rest) < 5 && (clientType(rest[0]) || serverType(rest[0])):
		return decode.NeedMore
	}
	return decode.No
}

// detectStartup checks an untyped message: SSLRequest, GSSENCRequest,
// CancelRequest, or a StartupMessage whose parameters are NUL-terminated
// strings including "user" (the protocol requires it; Kafka's Metadata
// v0 request starts with the same eight bytes).
func detectStartup(b []byte) decode.Verdict {
	l, code, ok := startupCode(b)
	if !ok {
		if len(b) < 2 || b[1] == 0 {
			return decode.NeedMore
		}
		return decode.No
	}
	switch code {
	case codeSSL, codeGSSENC:
		if l == 8 {
			return decode.Yes
		}
		return decode.No
	case codeCancel:
		if l == 16 {
			return decode.Yes
		}
		return decode.No
	}
	if code>>16 != 3 || l < 9 || l > maxStartup {
		return decode.No
	}
	if len(b) < int(l) {
		return decode.NeedMore
	}
	params := b[8:l]
	if params[len(params)-1] != 0 {
		return decode.No
	}
	user := false
	for len(params) > 1 {
		k, rest, ok := cstring(params)
		if !ok || k == "" || !printable(k) {
			return decode.No
		}
		v, rest, ok := cstring(rest)
		if !ok {
			return decode.No
		}
		_ = v
		user = user || k == "user"
		params = rest
	}
	if user {
		return decode.Yes
	}
	return decode.No
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// resync looks for a message start in carry+data and returns the bytes
// from it on and their direction (nil when none was found yet; a possible start cut by the
// end of data is carried to the next call). A start is a plausible
// message followed by another or by the end of the data. On a
// connection joined mid-stream the first start with a type only one
// side sends also tells which side is the client.
func (h *handler) resync(d int, data []byte) ([]byte, int) {
	buf := data
	if len(h.carry[d]) > 0 {
		buf = append(h.carry[d], data...)
	}
	h.carry[d] = nil
	for i := 0; i+5 <= len(buf); i++ {
		side := d
		if !h.oriented {
			side = -1
		}
		l := plausible(buf[i:], side)
		if l == 0 {
			continue
		}
		rest := len(buf) - i - l
		if rest < 0 || rest > 0 && rest < 5 {
			if len(buf)-i <= maxCarry {
				h.carry[d] = append([]byte(nil), buf[i:]...)
				return nil, d
			}
			continue
		}
		if rest > 0 && plausible(buf[i+l:], side) == 0 {
			continue
		}
		if !h.oriented {
			t := buf[i]
			if !onlyServer(t) && !onlyClient(t) {
				continue
			}
			if onlyServer(t) == (d == 0) {
				h.swap()
				d = 1 - d
			}
			h.oriented = true
		}
		h.sync[d] = false
		h.rd[d].reset()
		h.rd[d].untyped = false
		return buf[i:], d
	}
	if k := len(buf) - 4; k > 0 {
		buf = buf[k:]
	}
	h.carry[d] = append([]byte(nil), buf...)
	return nil, d
}

// swap exchanges the two directions' state after learning that the
// transport's client is the server.
func (h *handler) swap() {
	h.c.SwapDirections()
	h.rd[0], h.rd[1] = h.rd[1], h.rd[0]
	h.first[0], h.first[1] = h.first[1], h.first[0]
	h.sync[0], h.sync[1] = h.sync[1], h.sync[0]
	h.carry[0], h.carry[1] = h.carry[1], h.carry[0]
	h.noted[0], h.noted[1] = h.noted[1], h.noted[0]
}
