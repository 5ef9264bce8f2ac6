package http1

import (
	"bytes"
	"fmt"

	"github.com/tapview/tapview/decode"
)

// stepStart parses a start line and header block. It skips empty lines
// left between messages, resumes the header scan where the previous call
// stopped, and never buffers more than MaxHeaderBytes.
func (h *handler) stepStart(s *side, b []byte) int {
	limit := h.lim.MaxHeaderBytes
	if s.scanned == 0 {
		n := 0
		for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
			n++
		}
		if n > 0 {
			return n
		}
		k, lineEnd := classify(b)
		switch k {
		case kindNo:
			h.notHTTP(s, b)
			return 0
		case kindMore:
			if len(b) >= limit {
				h.notHTTP(s, b)
			}
			return 0
		}
		if (k == kindRequest) != (s.dir == decode.ClientToServer) {
			if h.oriented {
				h.notHTTP(s, b)
				return 0
			}
			h.swap()
		}
		h.oriented = true
		s.scanned, s.lines = lineEnd, 1
	}
	end, resume, lines := headerEnd(b, s.scanned)
	if end < 0 || end > limit {
		if end < 0 && len(b) < limit {
			s.scanned = resume
			s.lines += lines
			return 0
		}
		// Header block over the limit: keep the complete lines that fit,
		// as a partial message, and resynchronise.
		cut := bytes.LastIndexByte(b[:min(limit, len(b))], '\n') + 1
		if cut == 0 {
			// Not even the start line fits: not a message worth showing.
			h.notHTTP(s, b)
			return 0
		}
		first := s.firstTS(b)
		s.scanned = 0
		msg := fmt.Sprintf("header block over %d bytes", limit)
		h.head(s, b[:cut], first, msg, 0)
		h.resync(s, "http1: "+msg)
		return cut
	}
	first := s.firstTS(b)
	s.scanned = 0
	h.head(s, b[:end], first, "", s.lines+lines)
	return end
}

// stepSeek skips bytes until a line that starts a plausible message, so a
// connection joined mid-stream or broken by a gap picks up again at the
// next request or response.
func (h *handler) stepSeek(s *side, b []byte) int {
	i := 0
	if !s.lineStart {
		j := bytes.IndexByte(b, '\n')
		if j < 0 {
			return len(b)
		}
		i = j + 1
		s.lineStart = true
	}
	for i < len(b) {
		k, _ := classify(b[i:])
		switch k {
		case kindRequest, kindStatus:
			if !h.oriented || (k == kindRequest) == (s.dir == decode.ClientToServer) {
				s.st = stStart
				return i
			}
		case kindMore:
			if len(b)-i <= maxSeekLine {
				return i
			}
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			s.lineStart = false
			return len(b)
		}
		i += j + 1
	}
	return len(b)
}

// stepData consumes Content-Length body bytes or chunk data.
func (h *handler) stepData(s *side, b []byte) int {
	take := int64(len(b))
	if take > s.remaining {
		take = s.remaining
	}
	h.appendBody(s, b[:take])
	s.remaining -= take
	if s.remaining == 0 {
		if s.st == stBody {
			h.complete(s)
		} else {
			s.st = stChunkEnd
		}
	}
	return int(take)
}

// stepChunkSize parses "hex-size [; extensions] CRLF".
func (h *handler) stepChunkSize(s *side, b []byte) int {
	i := bytes.IndexByte(b[:min(len(b), maxChunkLine)], '\n')
	if i < 0 {
		if len(b) >= maxChunkLine {
			h.abort(s, "chunk size line too long")
		}
		return 0
	}
	line := trimCR(b[:i])
	if len(trimSpaceBytes(line)) == 0 {
		return i + 1 // a stray empty line; tolerated
	}
	size, ok := parseChunkSize(line)
	if !ok {
		h.abort(s, fmt.Sprintf("bad chunk size line %q", clip(line)))
		return 0
	}
	h.touch(s)
	if size == 0 {
		s.st, s.scanned = stTrailers, 0
	} else {
		s.st, s.remaining = stChunkData, size
	}
	return i + 1
}

// stepChunkEnd consumes the CRLF that ends chunk data.
func (h *handler) stepChunkEnd(s *side, b []byte) int {
	switch {
	case b[0] == '\n':
		s.st = stChunkSize
		return 1
	case b[0] == '\r' && len(b) < 2:
		return 0
	case b[0] == '\r' && b[1] == '\n':
		s.st = stChunkSize
		return 2
	}
	// Missing CRLF: note it and read the next size line from here.
	s.x.addErr("missing CRLF after chunk data")
	s.st = stChunkSize
	return 0
}

// stepTrailers reads the trailer section after the last chunk.
func (h *handler) stepTrailers(s *side, b []byte) int {
	end, resume, _ := headerEnd(b, s.scanned)
	if end < 0 {
		s.scanned = resume
		if len(b) >= h.lim.MaxHeaderBytes {
			h.abort(s, fmt.Sprintf("trailer section over %d bytes", h.lim.MaxHeaderBytes))
		}
		return 0
	}
	s.scanned = 0
	if end > 2 {
		var f framing
		m := h.own(s)
		m.Trailers = parseFields(string(b[:end]), nil, &f)
	}
	h.touch(s)
	h.complete(s)
	return end
}

// parseChunkSize parses the hex size and skips extensions.
func parseChunkSize(line []byte) (int64, bool) {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	var n int64
	digits := 0
	for ; i < len(line); i++ {
		c := line[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			goto rest
		}
		if digits == 15 {
			return 0, false
		}
		n = n<<4 | int64(v)
		digits++
	}
rest:
	if digits == 0 {
		return 0, false
	}
	for ; i < len(line); i++ {
		switch line[i] {
		case ' ', '\t':
		case ';':
			return n, true
		default:
			return 0, false
		}
	}
	return n, true
}

// appendBody adds transferred body bytes, keeping at most MaxBody.
func (h *handler) appendBody(s *side, p []byte) {
	m := h.own(s)
	m.BodySize += int64(len(p))
	if room := h.lim.MaxBody - len(m.Body); room > 0 && len(p) > 0 {
		m.Body = append(m.Body, p[:min(room, len(p))]...)
	}
	if int64(len(m.Body)) < m.BodySize {
		m.Truncated = true
	}
	h.touch(s)
}

// touch records that bytes of the current message arrived now.
func (h *handler) touch(s *side) {
	if s.msg == nil {
		return
	}
	if !s.msg.Last.Equal(s.ts) {
		h.own(s).Last = s.ts
	}
	if e := s.x.e; s.ts.After(e.End) {
		e.End = s.ts
	}
}

// own returns the current message, copying it first when a published
// exchange shares it, so readers never see it change.
func (h *handler) own(s *side) *decode.Message {
	if !s.shared {
		return s.msg
	}
	c := *s.msg
	e := s.x.e
	switch s.msg {
	case e.Request:
		e.Request = &c
	case e.Response:
		e.Response = &c
	default:
		if n := len(e.Interim); n > 0 && e.Interim[n-1] == s.msg {
			e.Interim[n-1] = &c
		}
	}
	s.msg, s.shared = &c, false
	return &c
}

// abort ends the current message as partial with an error and
// resynchronises the direction.
func (h *handler) abort(s *side, msg string) {
	if s.x != nil {
		s.x.addErr(msg)
	}
	s.partial = true
	if s.msg != nil {
		h.complete(s)
	}
	h.resync(s, "http1: "+msg)
}

// notHTTP handles bytes where a start line was expected. A response
// direction that turns out not to speak HTTP (an SSH banner answering a
// GET) orphans the request waiting for it.
func (h *handler) notHTTP(s *side, b []byte) {
	if !s.synced {
		h.resync(s, "")
		return
	}
	desc := fmt.Sprintf("%s bytes are not HTTP/1: %q", s.dir, clip(b))
	if s.dir == decode.ServerToClient && len(h.queue) > 0 {
		x := h.queue[0]
		h.queue = popFront(h.queue)
		h.finalize(x, decode.Orphan, "response is not HTTP/1: "+fmt.Sprintf("%q", clip(b)))
	}
	s.synced = false
	s.seekNoted = false
	h.resync(s, "http1: "+desc)
}

// clip shortens wire bytes for an error message.
func clip(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 && i < 40 {
		return trimCR(b[:i])
	}
	return b[:min(len(b), 40)]
}
