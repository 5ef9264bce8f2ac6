package http2

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
	"github.com/tapview/tapview/decode/grpc"
)

// stream is the parser's bookkeeping for one HTTP/2 stream and the
// Exchange it becomes. Per-direction arrays are indexed by
// decode.Direction: the client's side is the request, the server's the
// response.
type stream struct {
	id      uint32
	x       *decode.Exchange
	last    time.Time // capture time of the latest frame
	hdrs    [2]bool   // the side's (non-interim) header block was seen
	ended   [2]bool   // the side sent END_STREAM
	hole    [2]bool   // the side's body lost bytes: later bytes are not appended
	split   [2]*grpc.Splitter
	grpc    bool
	upgrade bool // stream 1 of an h2c upgrade: the request was HTTP/1.1
	partial bool
	final   bool
	dirty   bool
	// interimDropped and trailersDropped count what the stream's
	// exchange did not keep past maxInterim and maxTrailerFields.
	interimDropped  int
	trailersDropped int
}

// Bounds on what one stream keeps, so a peer repeating HEADERS frames
// cannot grow an exchange (each publication copies its interim list).
// What is dropped is counted in the exchange's Error when it ends.
const (
	// maxInterim is how many 1xx responses an exchange keeps (as in
	// decode/http1).
	maxInterim = 16
	// maxTrailerFields is how many trailer fields a message keeps over
	// all its trailer blocks.
	maxTrailerFields = 256
)

// stream returns the live stream id, opening it when it is new. It
// returns nil for id 0 and for streams already finished.
func (h *handler) stream(id uint32, ts time.Time) *stream {
	if st := h.streams[id]; st != nil {
		return st
	}
	if id == 0 || h.isClosed(id) {
		return nil
	}
	if len(h.streams) >= maxStreams {
		h.evictOldest()
	}
	st := &stream{id: id, x: h.c.NewExchange(Name), last: ts}
	st.x.StreamID = id
	st.x.Start = ts
	if id == 1 && h.handoff {
		// RFC 7540 §3.2: the upgrade request is stream 1, half-closed
		// from the client; decode/http1 published it with the 101.
		st.upgrade = true
		if r := h.upgradeReq; r != nil {
			st.x.Request, st.x.Start = r, r.First
		}
		st.hdrs[decode.ClientToServer] = true
		st.ended[decode.ClientToServer] = true
	}
	h.streams[id] = st
	h.track(st)
	h.p.streams.Add(1)
	return st
}

// evictOldest finalises the longest-open stream to make room. Streams
// leave h.order lazily: finished ones are skipped here and compacted
// away once they outnumber the open ones, so this stays O(1) amortised.
func (h *handler) evictOldest() {
	for len(h.order) > 0 {
		st := h.order[0]
		h.order[0] = nil
		h.order = h.order[1:]
		if !st.final {
			h.finalize(st, decode.Partial, "too many open streams on the connection")
			return
		}
	}
}

// track adds a new stream to the creation order.
func (h *handler) track(st *stream) {
	if len(h.order) > 2*len(h.streams)+64 {
		kept := make([]*stream, 0, 2*len(h.streams)+16)
		for _, o := range h.order {
			if !o.final {
				kept = append(kept, o)
			}
		}
		h.order = kept
	}
	h.order = append(h.order, st)
}

// message returns the side's message, creating an empty one (a side
// whose first frame was not its headers).
func (st *stream) message(dir decode.Direction, ts time.Time) *decode.Message {
	p := &st.x.Response
	if dir == decode.ClientToServer {
		p = &st.x.Request
	}
	if *p == nil {
		*p = &decode.Message{First: ts, Last: ts, Proto: "HTTP/2"}
		if dir == decode.ClientToServer && (st.x.Start.IsZero() || ts.Before(st.x.Start)) {
			st.x.Start = ts
		}
	}
	return *p
}

// turn swaps the sides of a stream seen before the connection's
// orientation was known.
func (st *stream) turn() {
	x := st.x
	x.Request, x.Response = x.Response, x.Request
	x.Client, x.Server = x.Server, x.Client
	st.hdrs[0], st.hdrs[1] = st.hdrs[1], st.hdrs[0]
	st.ended[0], st.ended[1] = st.ended[1], st.ended[0]
	st.hole[0], st.hole[1] = st.hole[1], st.hole[0]
	st.split[0], st.split[1] = st.split[1], st.split[0]
}

func (st *stream) addErr(msg string) {
	switch e := st.x.Error; {
	case msg == "":
	case e == "":
		st.x.Error = msg
	case !strings.Contains(e, msg) && len(e) < 1024:
		st.x.Error = e + "; " + msg
	}
}

// lostHeaders records that a header block of the side could not be read.
func (st *stream) lostHeaders(h *handler, dir decode.Direction, why string) {
	st.message(dir, h.ts)
	st.hdrs[dir] = true
	st.partial = true
	st.addErr(why)
}

// unfinished says why a stream still open at the end of the connection
// is incomplete.
func (st *stream) unfinished() string {
	switch {
	case st.x.Request == nil && !st.upgrade:
		return "request headers not seen"
	case st.x.Response == nil:
		return "no response seen"
	case !st.ended[decode.ClientToServer]:
		return "request not finished"
	}
	return "response not finished"
}

// headers applies a decoded header block of r's direction to its stream.
func (h *handler) headers(r *reader, blk *headerBlock, fields []decode.Header, problems []string) {
	dir, sid := h.dirOf(r), blk.stream
	if blk.push {
		// A pushed response's request comes from the server, promised
		// on another stream.
		dir, sid = decode.ClientToServer, blk.promised
	}
	st := h.stream(sid, blk.ts)
	if st == nil {
		return
	}
	st.last = h.ts
	for _, p := range problems {
		st.partial = true
		st.addErr(p)
	}
	x := st.x
	switch {
	case dir == decode.ClientToServer && !st.hdrs[dir]:
		m := st.message(dir, blk.ts)
		m.First, m.Last, m.Headers = blk.ts, h.ts, fields
		requestFields(m)
		x.Start = blk.ts
		st.hdrs[dir] = true
	case dir == decode.ServerToClient && !st.hdrs[dir] && informational(fields):
		m := &decode.Message{First: blk.ts, Last: h.ts, Proto: "HTTP/2", Headers: fields, DecodedSize: 0}
		m.Status = statusOf(fields)
		if len(x.Interim) < maxInterim {
			x.Interim = append(x.Interim, m)
		} else {
			st.interimDropped++
		}
	case !st.hdrs[dir]:
		m := st.message(dir, blk.ts)
		m.First, m.Last, m.Headers = blk.ts, h.ts, fields
		m.Status = statusOf(fields)
		m.ContentEncoding = body.Codings(m.HeaderValue("content-encoding"))
		st.hdrs[dir] = true
	default:
		m := st.message(dir, blk.ts)
		m.Last = h.ts
		if room := maxTrailerFields - len(m.Trailers); len(fields) > room {
			st.trailersDropped += len(fields) - room
			fields = fields[:room]
		}
		m.Trailers = append(m.Trailers, fields...)
		if m.Trailers == nil {
			m.Trailers = []decode.Header{} // an empty trailer block was still sent
		}
	}
	if !st.grpc && grpc.IsContentType(headerValue(fields, "content-type")) {
		h.startGRPC(st)
	}
	if st.grpc {
		x.GRPC = grpc.Info(x.Request, x.Response)
	}
	if blk.push {
		st.ended[decode.ClientToServer] = true
	} else if blk.endStream {
		h.endSide(st, dir)
	}
	h.markDirty(st)
}

// requestFields fills a request's method, target, host and scheme from
// its pseudo-header fields (falling back to Host for the authority).
func requestFields(m *decode.Message) {
	m.ContentEncoding = body.Codings(m.HeaderValue("content-encoding"))
	for _, f := range m.Headers {
		switch f.Name {
		case ":method":
			m.Method = f.Value
		case ":path":
			m.Target = f.Value
		case ":authority":
			m.Host = f.Value
		case ":scheme":
			m.Scheme = f.Value
		}
	}
	if m.Host == "" {
		m.Host = m.HeaderValue("host")
	}
}

func headerValue(fields []decode.Header, name string) string {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

func statusOf(fields []decode.Header) int {
	n, err := strconv.Atoi(headerValue(fields, ":status"))
	if err != nil || n < 0 || n > 999 {
		return 0
	}
	return n
}

// informational reports a 1xx response header block (100 Continue, 103
// Early Hints), which precedes the final response on the same stream.
func informational(fields []decode.Header) bool {
	s := statusOf(fields)
	return s >= 100 && s < 200
}

// startGRPC marks a stream as a gRPC call. Body bytes that arrived before
// the content type was known are split from the kept body when it is
// whole; other sides get their splitter with their first DATA, when
// their grpc-encoding is known.
func (h *handler) startGRPC(st *stream) {
	st.grpc = true
	st.x.Proto = grpc.Name
	for dir := range st.split {
		if m := st.sideMessage(decode.Direction(dir)); m != nil && m.BodySize > 0 {
			h.splitter(st, decode.Direction(dir))
		}
	}
}

// splitter returns the gRPC splitter of a side, creating it from the
// side's grpc-encoding when the side's headers are known.
func (h *handler) splitter(st *stream, dir decode.Direction) *grpc.Splitter {
	if s := st.split[dir]; s != nil || !st.grpc {
		return s
	}
	m := st.x.Response
	if dir == decode.ClientToServer {
		m = st.x.Request
	}
	enc := ""
	if m != nil {
		enc = m.HeaderValue("grpc-encoding")
	}
	s := grpc.NewSplitter(enc, h.lim, h.decoder())
	st.split[dir] = s
	if m != nil && len(m.Body) > 0 {
		if st.hole[dir] || m.Truncated {
			s.Lose()
		} else {
			m.Parts = s.Write(m.Parts, m.Body, m.First)
		}
	}
	return s
}

// dataStart opens the stream a DATA frame belongs to.
func (h *handler) dataStart(r *reader) {
	r.cur = h.stream(r.fh.stream, r.ts)
	if st := r.cur; st != nil {
		dir := h.dirOf(r)
		if !st.hdrs[dir] {
			st.partial = true
			st.addErr("DATA before the stream's headers")
		}
		m := st.message(dir, r.ts)
		m.Last, st.last = h.ts, h.ts
	}
}

// data appends DATA payload bytes to the side's body and gRPC messages.
func (h *handler) data(r *reader, b []byte) {
	st := r.cur
	if st == nil || st.final {
		return
	}
	dir := h.dirOf(r)
	m := st.message(dir, h.ts)
	m.Last, st.last = h.ts, h.ts
	s := h.splitter(st, dir) // before b joins the body it would split again
	m.BodySize += int64(len(b))
	if !st.hole[dir] {
		keep := min(len(b), h.lim.MaxBody-len(m.Body))
		if keep > 0 {
			m.Body = append(m.Body, b[:keep]...)
		}
		if keep < len(b) {
			m.Truncated = true
		}
	}
	if s != nil {
		n := len(m.Parts)
		m.Parts = s.Write(m.Parts, b, h.ts)
		if len(m.Parts) != n {
			h.markDirty(st)
		}
	}
}

// dataSkip accounts for n payload bytes of a known-size capture gap.
func (h *handler) dataSkip(r *reader, n int) {
	st := r.cur
	if st == nil || st.final {
		return
	}
	dir := h.dirOf(r)
	m := st.message(dir, h.ts)
	m.BodySize += int64(n)
	m.Truncated = true
	st.hole[dir], st.partial = true, true
	st.addErr("bytes missing from the capture")
	if s := h.splitter(st, dir); s != nil {
		m.Parts = s.Skip(m.Parts, int64(n), h.ts)
	}
}

// dataLost handles bytes of unknown extent lost in r's direction: every
// open stream may have lost DATA there.
func (h *handler) dataLost(r *reader) {
	dir := h.dirOf(r)
	r.cur = nil
	for _, st := range h.streams {
		if st.ended[dir] {
			continue
		}
		st.hole[dir], st.partial = true, true
		st.addErr("bytes missing from the capture")
		if m := st.sideMessage(dir); m != nil {
			m.Truncated = true
		}
		if s := st.split[dir]; s != nil {
			s.Lose()
		}
	}
}

func (st *stream) sideMessage(dir decode.Direction) *decode.Message {
	if dir == decode.ClientToServer {
		return st.x.Request
	}
	return st.x.Response
}

// dataEnd finishes a DATA frame, ending the side on END_STREAM.
func (h *handler) dataEnd(r *reader) {
	st := r.cur
	r.cur = nil
	if st != nil && !st.final && r.fh.flags.Has(http2.FlagDataEndStream) {
		h.endSide(st, h.dirOf(r))
	}
}

// endSide records END_STREAM from one side and finalises the stream when
// both sides are done.
func (h *handler) endSide(st *stream, dir decode.Direction) {
	st.ended[dir] = true
	if s := st.split[dir]; s != nil {
		if m := st.sideMessage(dir); m != nil {
			m.Parts = s.Flush(m.Parts)
		}
	}
	h.markDirty(st)
	if st.ended[decode.ClientToServer] && st.ended[decode.ServerToClient] {
		h.finalize(st, decode.Complete, "")
	}
}

// finalize publishes a stream's exchange for the last time and forgets
// the stream.
func (h *handler) finalize(st *stream, state decode.ExchangeState, why string) {
	if st.final {
		return
	}
	st.final = true
	x := st.x
	for dir, s := range st.split {
		if m := st.sideMessage(decode.Direction(dir)); s != nil && m != nil {
			m.Parts = s.Flush(m.Parts)
		}
		if s != nil {
			h.p.grpcMsgs.Add(int64(s.Messages()))
		}
	}
	h.decodedSize(x.Request)
	h.decodedSize(x.Response)
	if st.grpc {
		x.GRPC = grpc.Info(x.Request, x.Response)
	}
	if state == decode.Complete && st.partial {
		state = decode.Partial
	}
	st.addErr(why)
	if st.interimDropped > 0 {
		st.addErr(fmt.Sprintf("%d more interim responses not kept (limit %d)", st.interimDropped, maxInterim))
	}
	if st.trailersDropped > 0 {
		st.addErr(fmt.Sprintf("%d trailer fields over the limit of %d not kept", st.trailersDropped, maxTrailerFields))
	}
	x.State = state
	x.End = st.last
	h.c.Publish(x)
	delete(h.streams, st.id)
	h.remember(st.id)
}

// decodedSize fills DecodedSize (and DecodeError) of a finished message.
func (h *handler) decodedSize(m *decode.Message) {
	switch {
	case m == nil:
	case m.BodySize == 0 || !body.NeedsDecoding(m.ContentEncoding):
		m.DecodedSize = m.BodySize
	case m.Truncated:
		m.DecodedSize = -1
		m.DecodeError = "body incomplete; content coding not undone"
	default:
		n, err := h.decoder().DecodedSize(m.ContentEncoding, m.Body, h.lim.MaxDecoded)
		if err != nil {
			m.DecodedSize, m.DecodeError = -1, err.Error()
		} else {
			m.DecodedSize = n
		}
	}
}
