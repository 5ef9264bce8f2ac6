package tracemask

import (
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tapview/tapview/decode/mask"
)

// DefaultHold bounds the bytes of streamed segments held while their
// traces are incomplete. A trace segment (--segment-size) is far
// smaller; an export of a long trace file releases the oldest trace
// past it.
const DefaultHold = 64 << 20

// maxBody bounds a decoded body that is checked; a larger one is
// withheld (the same order as mask.New's default).
const maxBody = 64 << 20

// Stats counts what a Masker did, for summaries and tests.
type Stats struct {
	Traces   int            // traces returned
	Changed  int            // traces with at least one masked value
	Withheld map[string]int // bodies replaced with a note, by reason
}

// Masker masks traces. It is used by one goroutine. The traces given to
// Add are changed in place and returned (callers pass traces they own,
// as read from a file).
type Masker struct {
	m     *mask.Masker
	hold  int64
	held  map[heldKey]*pending
	order []heldKey // held traces, oldest first (may name released ones)
	bytes int64
	stats Stats
	enc   encoders
}

// New returns a Masker with m's rules (m must not be nil: without
// masking, traces are written as they came).
func New(m *mask.Masker) *Masker {
	return &Masker{m: m, hold: DefaultHold, held: make(map[heldKey]*pending), stats: Stats{Withheld: map[string]int{}}}
}

// Stats returns the counts so far.
func (x *Masker) Stats() Stats { return x.stats }

// Add masks one trace and returns the traces ready to be written, in
// order: w itself for a buffered trace, nothing while a streamed trace
// is held, all its segments when it completes (or when the hold bound
// releases older ones).
func (x *Masker) Add(w *tapv3.TraceWrapper) []*tapv3.TraceWrapper {
	if w == nil {
		return nil
	}
	dropUnknown(w.ProtoReflect())
	switch t := w.GetTrace().(type) {
	case *tapv3.TraceWrapper_HttpBufferedTrace:
		x.done(x.httpBuffered(t.HttpBufferedTrace))
		return []*tapv3.TraceWrapper{w}
	case *tapv3.TraceWrapper_SocketBufferedTrace:
		sb := t.SocketBufferedTrace
		x.done(x.socket(sb.GetConnection(), sb.GetEvents()))
		return []*tapv3.TraceWrapper{w}
	case *tapv3.TraceWrapper_HttpStreamedTraceSegment:
		return x.hold1(heldKey{id: t.HttpStreamedTraceSegment.GetTraceId()}, w, t.HttpStreamedTraceSegment.GetResponseTrailers() != nil)
	case *tapv3.TraceWrapper_SocketStreamedTraceSegment:
		closed := false
		for _, ev := range segmentEvents(t.SocketStreamedTraceSegment) {
			closed = closed || ev.GetClosed() != nil
		}
		return x.hold1(heldKey{socket: true, id: t.SocketStreamedTraceSegment.GetTraceId()}, w, closed)
	}
	// An empty wrapper (no trace set) holds nothing to mask.
	x.stats.Traces++
	return []*tapv3.TraceWrapper{w}
}

func (x *Masker) done(changed bool) {
	x.stats.Traces++
	if changed {
		x.stats.Changed++
	}
}

// Flush masks and returns every held trace (end of a segment or file).
func (x *Masker) Flush() []*tapv3.TraceWrapper {
	var out []*tapv3.TraceWrapper
	for _, k := range x.order {
		if p := x.held[k]; p != nil {
			out = append(out, x.release(k, p)...)
		}
	}
	x.order = x.order[:0]
	return out
}

// headers masks a header list in place.
func (x *Masker) headers(hs []*corev3.HeaderValue) bool {
	changed := false
	for _, h := range hs {
		if h.GetValue() != "" {
			if v, ok := x.value(h.GetKey(), []byte(h.GetValue())); ok {
				changed = true
				if utf8.Valid(v) {
					h.Value = string(v)
				} else {
					h.Value, h.RawValue = "", v
				}
			}
		}
		if len(h.GetRawValue()) > 0 {
			if v, ok := x.value(h.GetKey(), h.GetRawValue()); ok {
				h.RawValue, changed = v, true
			}
		}
	}
	return changed
}

// value masks one header value as packet export masks an HTTP/2 header
// field: as the line "name: value", so header-name rules apply.
func (x *Masker) value(name string, v []byte) ([]byte, bool) {
	line := make([]byte, 0, len(name)+len(v)+4)
	line = append(append(append(append(line, name...), ": "...), v...), "\r\n"...)
	if x.m.MaskInPlace(line) == 0 {
		return v, false
	}
	out := line[len(name)+2 : len(line)-2]
	if string(out) == string(v) {
		return v, false
	}
	return out, true
}

// dropUnknown clears unknown fields everywhere in m: a field this build
// cannot read cannot be checked for secrets.
func dropUnknown(m protoreflect.Message) {
	if len(m.GetUnknown()) > 0 {
		m.SetUnknown(nil)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					dropUnknown(mv.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				l := v.List()
				for i := range l.Len() {
					dropUnknown(l.Get(i).Message())
				}
			}
		case fd.Message() != nil:
			dropUnknown(v.Message())
		}
		return true
	})
}

// setBody writes data back in the body's own form; as_string becomes
// as_bytes when masking left bytes that are not UTF-8 (a proto3 string
// must be).
func setBody(b *tapv3.Body, data []byte) {
	if b == nil {
		return
	}
	if _, ok := b.GetBodyType().(*tapv3.Body_AsString); ok && utf8.Valid(data) {
		b.BodyType = &tapv3.Body_AsString{AsString: string(data)}
		return
	}
	b.BodyType = &tapv3.Body_AsBytes{AsBytes: data}
}
