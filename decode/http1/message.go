package http1

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// maxPrealloc bounds the body buffer allocated up front from a
// Content-Length, so a lying header cannot reserve MaxBody per message.
const maxPrealloc = 64 << 10

// head turns a parsed header block into the current message of s and sets
// up how its body is delimited. lines counts the block's line ends, or
// is 0 when unknown. A non-empty partial reason means the block
// is incomplete (gap, over the limit): the message ends right here.
func (h *handler) head(s *side, block []byte, first time.Time, partial string, lines int) {
	isReq := s.dir == decode.ClientToServer
	m, f := parseHead(block, isReq, lines)
	m.First, m.Last = first, s.ts
	if !h.protoSet {
		h.c.SetProto(protoName(m.Proto))
		h.protoSet = true
	}
	s.synced, s.seekNoted = true, false
	s.msg, s.shared, s.partial = m, false, partial != ""
	var x *xch
	if isReq {
		x = h.pairRequest(m)
		x.method, x.upgrade = m.Method, f.upgrade
	} else {
		s.interim = m.Status >= 100 && m.Status < 200 && m.Status != 101
		x = h.pairResponse(m, s.interim)
	}
	s.x = x
	h.touch(s)
	h.markDirty(x)
	if f.malformed > 0 {
		x.addErr("malformed header line")
	}
	if f.hasTE && f.contentLength >= 0 {
		// RFC 9112 §6.3: Transfer-Encoding wins, but the pair is how
		// request smuggling starts, so it is worth showing.
		x.addErr("both Transfer-Encoding and Content-Length")
	}
	if partial != "" {
		x.addErr(partial)
		h.complete(s)
		return
	}
	if isReq {
		h.requestBody(s, m, f)
	} else {
		method := x.method
		if x.e.Request == nil && len(h.early) == 1 && h.early[0] == x {
			method = h.pendingMethod()
		}
		h.responseBody(s, m, f, method)
	}
}

// pendingMethod guesses the method of the request that the first early
// response (delivered before its request was parsed, as reassembly can
// do) answers, from the start of the client's unparsed bytes: HEAD and
// CONNECT change how the response is framed.
func (h *handler) pendingMethod() string {
	c2s := h.sides[decode.ClientToServer]
	if c2s.st != stStart || len(c2s.pend) == 0 {
		return ""
	}
	for _, m := range [...]string{"HEAD", "CONNECT"} {
		if len(c2s.pend) > len(m) && string(c2s.pend[:len(m)]) == m && c2s.pend[len(m)] == ' ' {
			return m
		}
	}
	return ""
}

// requestBody applies RFC 9112 §6.3 to a request: chunked, else
// Content-Length, else no body.
func (h *handler) requestBody(s *side, m *decode.Message, f framing) {
	switch {
	case m.Method == "CONNECT":
		// RFC 9110 §9.3.6: a CONNECT request has no content, whatever
		// its framing headers say; what follows is the tunnel's (held
		// until the response decides) or the next request.
		h.complete(s)
	case f.hasTE && f.chunked:
		s.st = stChunkSize
	case f.hasTE:
		s.x.addErr("request Transfer-Encoding does not end in chunked")
		s.st = stUntilClose
	case f.badLength:
		s.x.addErr("invalid Content-Length")
		h.complete(s)
	case f.contentLength > 0:
		h.expectLength(s, m, f.contentLength)
	default:
		h.complete(s)
	}
}

// responseBody applies RFC 9112 §6.3 to a response; method is the request
// method when known.
func (h *handler) responseBody(s *side, m *decode.Message, f framing, method string) {
	switch st := m.Status; {
	case st < 200 || st == 204 || st == 304 || method == "HEAD":
		h.complete(s)
	case method == "CONNECT" && st < 300:
		s.tunnel = true
		h.complete(s)
	case f.hasTE && f.chunked:
		s.st = stChunkSize
	case f.hasTE:
		s.st = stUntilClose
	case f.badLength:
		s.x.addErr("invalid Content-Length")
		s.st = stUntilClose
	case f.contentLength > 0:
		h.expectLength(s, m, f.contentLength)
	case f.contentLength == 0:
		h.complete(s)
	default:
		s.st = stUntilClose
	}
}

func (h *handler) expectLength(s *side, m *decode.Message, n int64) {
	s.st, s.remaining = stBody, n
	m.Body = make([]byte, 0, min(n, int64(h.lim.MaxBody), maxPrealloc))
}

// complete ends the current message of s: it computes the decoded size,
// updates its exchange and decides what the direction does next.
func (h *handler) complete(s *side) {
	if s.msg == nil {
		s.st = stStart
		return
	}
	m := h.own(s)
	x := s.x
	if s.partial {
		m.Truncated = true
		x.partial = true
	}
	h.decodedSize(m)
	interim, tunnel := s.interim, s.tunnel
	s.msg, s.x, s.shared = nil, nil, false
	s.interim, s.tunnel, s.partial, s.remaining = false, false, false, 0
	s.st = stStart

	if s.dir == decode.ClientToServer {
		x.reqDone = true
		switch {
		case s.handoffAfter && h.next != nil:
			s.handoffAfter = false
			s.st = stHandoff
		case (x.method == "CONNECT" || x.upgrade != "") && !x.respDone && !x.final:
			// The bytes after this request may not be HTTP/1 at all:
			// keep them until the response says what follows.
			s.st = stHold
			h.holdFor = x
		}
		h.settle(x)
		return
	}
	if interim {
		return
	}
	x.respDone = true
	h.settle(x)
	c2s := h.sides[decode.ClientToServer]
	switch {
	case m.Status == 101:
		h.upgrade(x, m)
	case tunnel:
		h.stopBoth()
	case c2s.st == stHold && h.holdFor == x:
		h.holdFor = nil
		c2s.st = stStart
		if len(c2s.pend) > 0 {
			h.runPend(c2s)
		}
	}
}

// decodedSize fills DecodedSize (and DecodeError) of a finished message.
func (h *handler) decodedSize(m *decode.Message) {
	switch {
	case m.BodySize == 0 || !body.NeedsDecoding(m.ContentEncoding):
		m.DecodedSize = m.BodySize
	case m.Truncated:
		m.DecodedSize = -1
		m.DecodeError = "body incomplete; content coding not undone"
	case h.p.opts.GzipTrailerSizes && len(m.ContentEncoding) == 1 && (m.ContentEncoding[0] == "gzip" || m.ContentEncoding[0] == "x-gzip"):
		if n, ok := body.GzipTrailerSize(m.Body); ok {
			if n > h.lim.MaxDecoded {
				m.DecodedSize, m.DecodeError = -1, fmt.Sprintf("decoded size %d over the %d-byte cap", n, h.lim.MaxDecoded)
			} else {
				m.DecodedSize = n
			}
			return
		}
		h.inflateSize(m)
	default:
		h.inflateSize(m)
	}
}

// inflateSize measures the decoded size by undoing the codings.
func (h *handler) inflateSize(m *decode.Message) {
	d := h.p.decoder()
	n, err := d.DecodedSize(m.ContentEncoding, m.Body, h.lim.MaxDecoded)
	h.p.release(d)
	if err != nil {
		m.DecodedSize, m.DecodeError = -1, err.Error()
	} else {
		m.DecodedSize = n
	}
}

// gap handles n missing bytes (n < 0: unknown) in the direction of s.
func (h *handler) gap(s *side, n int) {
	switch s.st {
	case stHold:
		// Bytes went missing after an Upgrade/CONNECT request: what was
		// held cannot be parsed reliably either way. Drop it; a 101 still
		// hands the stream over from here on.
		s.skipped += int64(len(s.pend))
	case stHandoff:
		h.next.Gap(s.dir, n, s.ts)
		return
	case stStopped:
		if n > 0 {
			s.skipped += int64(n)
		}
		return
	case stBody, stChunkData:
		if n >= 0 && int64(n) <= s.remaining {
			// Skip exactly: the framing survives, only content is lost.
			m := h.own(s)
			m.BodySize += int64(n)
			m.Truncated = true
			s.partial = true
			s.remaining -= int64(n)
			if s.remaining == 0 {
				if s.st == stBody {
					h.complete(s)
				} else {
					s.st = stChunkEnd
				}
			}
			return
		}
		if n > 0 {
			h.own(s).BodySize += s.remaining
		}
		s.partial = true
		h.complete(s)
	case stUntilClose:
		m := h.own(s)
		if n > 0 {
			m.BodySize += int64(n)
		}
		m.Truncated = true
		s.partial = true
		return
	case stStart:
		h.partialHead(s)
	case stSeek:
	default:
		s.partial = true
		h.complete(s)
	}
	if s.st == stHandoff || s.st == stStopped {
		// The cut-short message was a 101 or a CONNECT answer: the
		// missing bytes may belong to what follows it.
		if s.st == stHandoff {
			h.next.Gap(s.dir, -1, s.ts)
		}
		return
	}
	s.pend = s.pend[:0]
	s.pendOld = 0
	s.st, s.lineStart, s.scanned, s.synced = stSeek, true, 0, false
}

// partialHead turns a header block cut short (by a gap or the end of the
// connection) into a partial message, so request/response pairing stays
// aligned and the user sees what was captured. Even an incomplete start
// line is used when it shows at least a method and target, or a status.
func (h *handler) partialHead(s *side) {
	if len(s.pend) == 0 {
		return
	}
	block := s.pend[:s.scanned]
	if s.scanned == 0 {
		if k, _ := classify(s.pend); k != kindMore || !usableFragment(s.pend) {
			return
		}
		block = s.pend
		if isReq := !hasPrefixOrIsPrefix(s.pend, "HTTP/"); isReq != (s.dir == decode.ClientToServer) {
			if h.oriented {
				return
			}
			h.swap()
		}
		h.oriented = true
	}
	s.onPend = true
	first := s.firstTS(s.pend)
	s.onPend = false
	s.scanned = 0
	h.head(s, block, first, "headers incomplete", 0)
	s.st = stStart
}

// usableFragment reports whether an incomplete start line carries enough
// to describe the message: a method and target, or a status code.
func usableFragment(b []byte) bool {
	if hasPrefixOrIsPrefix(b, "HTTP/") {
		return len(b) >= len("HTTP/1.1 200")
	}
	sp := bytes.IndexByte(b, ' ')
	return sp > 0 && sp+1 < len(b)
}

// endSide finishes the direction when the connection ends.
func (h *handler) endSide(s *side, flow decode.FlowState) {
	if s.st == stHold {
		s.st = stStart
		h.runPend(s)
	}
	switch s.st {
	case stUntilClose:
		if flow == decode.FlowReset || flow == decode.FlowTimedOut {
			s.partial = true
		}
		h.complete(s)
	case stBody, stChunkSize, stChunkData, stChunkEnd, stTrailers:
		s.partial = true
		h.complete(s)
	case stStart:
		h.partialHead(s)
	}
	s.pend = nil
}

// protoName maps a wire version to the Exchange.Proto value.
func protoName(p string) string {
	if p == "HTTP/1.0" {
		return "http/1.0"
	}
	return "http/1.1"
}
