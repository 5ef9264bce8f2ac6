package streammask

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/tapview/tapview/decode/body"
)

// HTTP/1 states of one direction.
const (
	h1Head       = iota // start line and header fields
	h1Body              // Content-Length body
	h1ChunkSize         // a chunk-size line
	h1ChunkData         // chunk data
	h1ChunkEnd          // the CRLF after chunk data
	h1Trailers          // trailer fields after the last chunk
	h1UntilClose        // a response body delimited by the end of the connection
	h1Await             // client: held after an upgrade request until the response says
)

// maxAwait bounds what a client direction holds after an upgrade request
// while the response has not come.
const maxAwait = 64 << 10

// h1Request is what a response needs to know of its request.
type h1Request struct {
	method  string
	upgrade string // "websocket", "h2c" or ""
}

// h1 walks one direction of HTTP/1.x: each head is masked as a whole,
// bodies (chunked framing removed) as one unit per message, compressed
// ones decompressed to be checked. A 101 response hands both directions
// to WebSocket or HTTP/2; a 2xx to CONNECT hands them back to detection.
type h1 struct {
	sd      *side
	req     bool // this direction sends requests
	st      int
	head    []byte
	headAt  int64
	left    int64
	body    *unit
	line    []byte
	await   []byte
	awaitAt int64
	upgrade string // the last request asked for this upgrade
	hd      httpHead
	// spare is the last body's unit, finished, reused for the next.
	spare *unit
	// ce, codings, what and memo are the last Content-Encoding value
	// and what bodyUnit made of it, reused while it repeats.
	ce      string
	codings []string
	what    string
	memo    string
	decode  func([]byte) ([]byte, error)
	filler  func([]byte, int) []byte
}

func newH1(sd *side, req bool) *h1 { return &h1{sd: sd, req: req} }

func (h *h1) data(off int64, b []byte) {
	for len(b) > 0 {
		var n int
		switch h.st {
		case h1Head, h1Trailers:
			n = h.headBytes(off, b)
			if n < 0 {
				return // handed over to another layer
			}
		case h1Body, h1ChunkData:
			n = int(min(h.left, int64(len(b))))
			if h.st != h1Body || int64(n) != h.left || !h.body.scanWhole(off, b[:n]) {
				h.body.add(off, b[:n], nil)
			}
			h.left -= int64(n)
			if h.left == 0 {
				if h.st == h1Body {
					h.endMessage()
				} else {
					h.st = h1ChunkEnd
				}
			}
		case h1ChunkEnd:
			for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
				c := b[n]
				n++
				if c == '\n' {
					h.st = h1ChunkSize
					break
				}
			}
			if n == 0 {
				h.st = h1ChunkSize // tolerate a missing CRLF
			}
		case h1ChunkSize:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				h.line = append(h.line, b...)
				if len(h.line) > 4096 {
					// No chunk-size line is that long: the framing is lost.
					h.sd.emitText(off+int64(len(b)-len(h.line)), h.line)
					h.line = nil
					h.lost(off+int64(len(b)), nil)
				}
				return
			}
			n = i + 1
			h.line = append(h.line, b[:n]...)
			size, ok := chunkSize(h.line)
			h.sd.emitText(off-int64(len(h.line)-n), h.line) // chunk extensions
			h.line = h.line[:0]
			switch {
			case !ok:
				h.lost(off+int64(n), b[n:])
				return
			case size == 0:
				h.st = h1Trailers
			default:
				h.left, h.st = size, h1ChunkData
			}
		case h1UntilClose:
			n = len(b)
			h.body.add(off, b, nil)
		case h1Await:
			if len(h.await) == 0 {
				h.awaitAt = off
			}
			h.await = append(h.await, b...)
			if len(h.await) > maxAwait {
				h.resume(h.guessUpgrade())
			}
			return
		}
		off += int64(n)
		b = b[n:]
	}
}

// headBytes collects a head (or trailer section) and processes it when
// complete. It returns how many bytes of b it took, or -1 when the rest
// went to another layer.
func (h *h1) headBytes(off int64, b []byte) int {
	n := 0
	if len(h.head) == 0 && h.st == h1Head {
		for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
			n++ // empty lines between messages
		}
		off += int64(n)
		b = b[n:]
		if len(b) == 0 {
			return n
		}
		h.headAt = off
	}
	if len(h.head) == 0 && h.st == h1Trailers {
		h.headAt = off
	}
	if len(h.head) == 0 {
		// The usual case: the whole head is in b, which is read in
		// place instead of being copied with what follows it.
		if end := headEnd(b, 0, h.st == h1Trailers); end >= 0 {
			return h.headFrom(off, b, b[:end], end, n)
		}
	}
	from := max(0, len(h.head)-3)
	h.head = append(h.head, b...)
	end := headEnd(h.head, from, h.st == h1Trailers)
	if end < 0 {
		if len(h.head) > maxHold {
			h.sd.emitText(h.headAt, h.head)
			h.head = nil
			h.lost(off+int64(len(b)), nil)
			return -1
		}
		return n + len(b)
	}
	return h.headFrom(off, b, h.head[:end], end-(len(h.head)-len(b)), n)
}

// headFrom processes the complete head, whose last took bytes are the
// first of b (at off); n bytes were skipped before b. It returns what
// headBytes returns.
func (h *h1) headFrom(off int64, b, head []byte, took, n int) int {
	h.sd.emitHead(h.headAt, head)
	next, rest := h.headDone(head), b[took:]
	h.hd.release()
	h.head = h.head[:0]
	if cap(h.head) > 64<<10 {
		h.head = nil
	}
	if next != nil {
		h.sd.switchTo(next, off+int64(took), rest)
		return -1
	}
	return n + took
}

// headEnd returns the index after the empty line that ends a head in b
// (searching from from), or -1. A trailer section may be empty: then the
// first line is already the empty one.
func headEnd(b []byte, from int, trailers bool) int {
	if trailers {
		if bytes.HasPrefix(b, []byte("\r\n")) {
			return 2
		}
		if bytes.HasPrefix(b, []byte("\n")) {
			return 1
		}
	}
	for i := from; i < len(b); i++ {
		k := bytes.IndexByte(b[i:], '\n')
		if k < 0 {
			return -1
		}
		i += k
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}

// headDone acts on a complete head; it returns the layer the stream
// continues with when the head ends HTTP/1 on this direction.
func (h *h1) headDone(head []byte) layer {
	if h.st == h1Trailers {
		h.endMessage()
		return nil
	}
	hd := &h.hd
	parseHead(hd, head)
	h.body = nil
	if h.req {
		up := ""
		if hd.has("connection", "upgrade") || len(hd.get("upgrade")) > 0 {
			up = strings.ToLower(strings.TrimSpace(string(hd.get("upgrade"))))
		}
		h.sd.c.reqs = append(h.sd.c.reqs, h1Request{method: hd.method(), upgrade: up})
		if len(h.sd.c.reqs) > 1024 {
			h.sd.c.reqs = h.sd.c.reqs[1:]
		}
		h.upgrade = up
		return h.startBody(hd, false)
	}
	code := hd.status
	var req h1Request
	if code >= 100 && code < 200 && code != 101 {
		h.st = h1Head // interim: no body, the request waits for its final response
		return nil
	}
	if len(h.sd.c.reqs) > 0 {
		req = h.sd.c.reqs[0]
		if len(h.sd.c.reqs) == 1 {
			h.sd.c.reqs = h.sd.c.reqs[:0] // keep-alive: one at a time, in place
		} else {
			h.sd.c.reqs = h.sd.c.reqs[1:]
		}
	}
	client := h.sd.peerOrNew()
	ch, _ := client.lay.(*h1)
	switch {
	case code == 101:
		proto := strings.ToLower(strings.TrimSpace(string(hd.get("upgrade"))))
		if proto == "" {
			proto = req.upgrade
		}
		var mine, theirs layer
		switch {
		case strings.HasPrefix(proto, "websocket"):
			deflate, cTake, sTake := wsExtensions(string(hd.get("sec-websocket-extensions")))
			mine = newWS(h.sd, false, deflate, sTake)
			theirs = newWS(client, true, deflate, cTake)
		case proto == "h2c":
			mine = newH2(h.sd, false, false)
			theirs = newH2(client, true, false)
		default:
			mine, theirs = &raw{sd: h.sd}, &raw{sd: client}
		}
		if ch != nil {
			ch.handOver(theirs)
		} else {
			client.setIfUndecided(theirs)
		}
		return mine
	case req.method == "CONNECT" && code >= 200 && code < 300:
		if ch != nil {
			ch.handOver(&detect{sd: client})
		}
		return &detect{sd: h.sd}
	}
	if ch != nil && ch.st == h1Await {
		ch.resume(nil)
	}
	if req.method == "HEAD" || code == 204 || code == 304 {
		h.st = h1Head
		return nil
	}
	return h.startBody(hd, true)
}

// startBody sets up the body of the message whose head was hd.
func (h *h1) startBody(hd *httpHead, response bool) layer {
	chunked := containsFold(hd.get("transfer-encoding"), "chunked")
	cl, hasCL := int64(-1), false
	if v := bytes.TrimSpace(hd.get("content-length")); len(v) > 0 {
		if n, err := parseLength(v); err == nil && n >= 0 {
			cl, hasCL = n, true
		}
	}
	switch {
	case chunked:
		h.body = h.bodyUnit(hd)
		h.st = h1ChunkSize
	case hasCL && cl > 0:
		h.body = h.bodyUnit(hd)
		h.left, h.st = cl, h1Body
	case response && !hasCL:
		h.body = h.bodyUnit(hd)
		h.st = h1UntilClose
	default:
		h.endMessage()
	}
	return nil
}

func (h *h1) bodyUnit(hd *httpHead) *unit {
	var codings []string
	if ce := hd.get("content-encoding"); len(ce) > 0 {
		if string(ce) != h.ce || h.codings == nil {
			h.ce = string(ce)
			h.codings = body.Codings(h.ce)
			h.what = "HTTP body (" + strings.Join(h.codings, ", ") + ")"
			h.memo = strings.Join(h.codings, ",")
			cs := h.codings
			h.decode = func(b []byte) ([]byte, error) { return body.Decode(cs, b, maxDecoded) }
			h.filler = func(orig []byte, n int) []byte { return bodyFiller(cs, orig, n) }
		}
		codings = h.codings
	}
	u := h.spare
	h.spare = nil
	if body.NeedsDecoding(codings) {
		u = h.sd.reuseUnit(u, unitCompressed, h.what)
		u.decode, u.filler, u.memo = h.decode, h.filler, h.memo
		return u
	}
	return h.sd.reuseUnit(u, unitText, "HTTP body")
}

// finishBody finishes the current body and keeps its unit for the next.
func (h *h1) finishBody() {
	if h.body != nil {
		h.body.finish()
		h.spare = h.body
	}
	h.body = nil
}

// endMessage finishes the current message and waits for the next head
// (or, after an upgrade request, for the response).
func (h *h1) endMessage() {
	h.finishBody()
	h.st = h1Head
	if h.req && h.upgrade != "" {
		h.st = h1Await
	}
}

// handOver gives this (client) direction to the upgraded protocol, with
// what it held.
func (h *h1) handOver(next layer) {
	if h.st != h1Await && !(h.st == h1Head && len(h.head) == 0) {
		return // still sending a request: leave it as it is
	}
	h.resume(next)
}

// resume ends the wait after an upgrade request: with next, the held
// bytes belong to it; without, HTTP/1 goes on.
func (h *h1) resume(next layer) {
	held, at := h.await, h.awaitAt
	h.await, h.upgrade = nil, ""
	h.st = h1Head
	if next == nil {
		h.sd.switchTo(h, at, held)
		return
	}
	h.sd.switchTo(next, at, held)
}

// guessUpgrade decides from held bytes what the client sends after an
// upgrade request whose response has not come.
func (h *h1) guessUpgrade() layer {
	switch {
	case bytes.HasPrefix(h.await, []byte(h2Preface)):
		return newH2(h.sd, true, false)
	case methodPrefix(h.await) == 1:
		return nil
	case strings.HasPrefix(h.upgrade, "websocket"):
		return newWS(h.sd, true, false, false)
	}
	return &raw{sd: h.sd}
}

// lost abandons HTTP/1 framing on this direction: what it held is
// finished and the rest is scanned raw.
func (h *h1) lost(off int64, rest []byte) {
	h.finishBody()
	h.sd.toRaw(off, rest)
}

func (h *h1) gap() {
	if h.st == h1Await {
		h.resume(h.guessUpgrade())
		h.sd.lay.gap()
		return
	}
	h.sd.emitText(h.headAt, h.head)
	h.head = nil
	h.finishBody()
	h.sd.lay = &raw{sd: h.sd}
}

func (h *h1) end() {
	switch h.st {
	case h1Await:
		h.resume(h.guessUpgrade())
		if h.sd.lay != layer(h) {
			h.sd.lay.end()
			return
		}
	case h1Head, h1Trailers:
		h.sd.emitText(h.headAt, h.head)
		h.head = nil
	}
	h.finishBody()
}

// chunkSize parses a chunk-size line (extensions and CRLF included).
func chunkSize(line []byte) (int64, bool) {
	s := bytes.TrimRight(line, "\r\n")
	if i := bytes.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	s = bytes.TrimSpace(s)
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s), 16, 64)
	return n, err == nil && n >= 0
}
