package tracemask

import (
	"strings"
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode/taptrace"
)

// httpBuffered masks a buffered HTTP trace in place.
func (x *Masker) httpBuffered(t *tapv3.HttpBufferedTrace) bool {
	a := x.bufferedMessage(t.GetRequest())
	b := x.bufferedMessage(t.GetResponse())
	return a || b
}

func (x *Masker) bufferedMessage(m *tapv3.HttpBufferedTrace_Message) bool {
	if m == nil {
		return false
	}
	info := infoOf(m.GetHeaders())
	changed := x.headers(m.GetHeaders())
	changed = x.headers(m.GetTrailers()) || changed
	if b := m.GetBody(); b != nil {
		out, withheld, ch := x.body(info, taptrace.BodyBytes(b))
		if ch {
			setBody(b, out)
			changed = true
		}
		if withheld != "" {
			m.Headers = dropCoding(m.Headers)
		}
	}
	return changed
}

// dropCoding removes Content-Encoding from a header list whose body was
// replaced with a plain note.
func dropCoding(hs []*corev3.HeaderValue) []*corev3.HeaderValue {
	out := hs[:0]
	for _, h := range hs {
		if !strings.EqualFold(h.GetKey(), "content-encoding") {
			out = append(out, h)
		}
	}
	return out
}

// streamedSide is one message of a streamed HTTP trace as its held
// segments carry it.
type streamedSide struct {
	heads  []*corev3.HeaderMap
	chunks []*tapv3.Body
}

// httpStreamed masks the held segments of one streamed HTTP trace:
// headers and trailers one by one, each message's body chunks joined.
func (x *Masker) httpStreamed(segs []*tapv3.TraceWrapper) bool {
	var req, resp streamedSide
	changed := false
	for _, w := range segs {
		switch p := w.GetHttpStreamedTraceSegment().GetMessagePiece().(type) {
		case *tapv3.HttpStreamedTraceSegment_RequestHeaders:
			req.heads = append(req.heads, p.RequestHeaders)
		case *tapv3.HttpStreamedTraceSegment_ResponseHeaders:
			resp.heads = append(resp.heads, p.ResponseHeaders)
		case *tapv3.HttpStreamedTraceSegment_RequestBodyChunk:
			req.chunks = append(req.chunks, p.RequestBodyChunk)
		case *tapv3.HttpStreamedTraceSegment_ResponseBodyChunk:
			resp.chunks = append(resp.chunks, p.ResponseBodyChunk)
		case *tapv3.HttpStreamedTraceSegment_RequestTrailers:
			changed = x.headers(p.RequestTrailers.GetHeaders()) || changed
		case *tapv3.HttpStreamedTraceSegment_ResponseTrailers:
			changed = x.headers(p.ResponseTrailers.GetHeaders()) || changed
		}
	}
	for _, s := range []*streamedSide{&req, &resp} {
		var hs []*corev3.HeaderValue
		for _, h := range s.heads {
			hs = append(hs, h.GetHeaders()...)
		}
		info := infoOf(hs)
		for _, h := range s.heads {
			changed = x.headers(h.GetHeaders()) || changed
		}
		if x.chunks(info, s) {
			changed = true
		}
	}
	return changed
}

// chunks masks a message's body chunks as one body. When the masked body
// has the original length (secrets overwritten in place) it is cut at
// the original chunk boundaries; otherwise (compressed again, or
// withheld) the first chunk carries all of it and the others are left
// empty, so the segments stay as many and in order.
func (x *Masker) chunks(info msgInfo, s *streamedSide) bool {
	if len(s.chunks) == 0 {
		return false
	}
	var data []byte
	for _, c := range s.chunks {
		data = append(data, taptrace.BodyBytes(c)...)
	}
	var out []byte
	var withheld string
	var changed bool
	if len(s.heads) == 0 && !utf8.Valid(data) {
		// The rest of a body whose headers were masked with an earlier
		// unit (a segment boundary or the hold bound cut the trace): its
		// coding is unknown, and bytes that are not text may be a
		// compressed stream no scan can read.
		withheld, changed = WhyContinued, true
		x.stats.Withheld[withheld]++
		out = []byte("[tapview: body withheld: " + withheld + "]")
	} else {
		out, withheld, changed = x.body(info, data)
	}
	if withheld != "" {
		for _, h := range s.heads {
			h.Headers = dropCoding(h.Headers)
		}
	}
	if !changed {
		return false
	}
	if len(out) == len(data) {
		for _, c := range s.chunks {
			n := len(taptrace.BodyBytes(c))
			setBody(c, out[:n:n])
			out = out[n:]
		}
		return true
	}
	setBody(s.chunks[0], out)
	for _, c := range s.chunks[1:] {
		setBody(c, []byte{})
	}
	return true
}
