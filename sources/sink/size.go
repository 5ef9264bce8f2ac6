package sink

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
)

// traceOverhead is a rough per-trace and per-field cost of the decoded
// Go structures beyond their bytes.
const (
	traceOverhead = 256
	fieldOverhead = 64
)

// estimateSize approximates the memory a decoded trace holds: its bodies,
// socket data and header strings plus fixed overheads. It only has to be
// in proportion for the queue's byte bound, and it avoids proto.Size,
// which walks the message by reflection and cost a tenth of the sink's
// CPU under load.
func estimateSize(w *tapv3.TraceWrapper) int {
	n := traceOverhead
	switch {
	case w.GetHttpBufferedTrace() != nil:
		h := w.GetHttpBufferedTrace()
		for _, m := range []*tapv3.HttpBufferedTrace_Message{h.GetRequest(), h.GetResponse()} {
			n += headersSize(m.GetHeaders()) + headersSize(m.GetTrailers()) + bodySize(m.GetBody())
		}
	case w.GetHttpStreamedTraceSegment() != nil:
		s := w.GetHttpStreamedTraceSegment()
		switch p := s.GetMessagePiece().(type) {
		case *tapv3.HttpStreamedTraceSegment_RequestHeaders:
			n += headersSize(p.RequestHeaders.GetHeaders())
		case *tapv3.HttpStreamedTraceSegment_RequestTrailers:
			n += headersSize(p.RequestTrailers.GetHeaders())
		case *tapv3.HttpStreamedTraceSegment_ResponseHeaders:
			n += headersSize(p.ResponseHeaders.GetHeaders())
		case *tapv3.HttpStreamedTraceSegment_ResponseTrailers:
			n += headersSize(p.ResponseTrailers.GetHeaders())
		case *tapv3.HttpStreamedTraceSegment_RequestBodyChunk:
			n += bodySize(p.RequestBodyChunk)
		case *tapv3.HttpStreamedTraceSegment_ResponseBodyChunk:
			n += bodySize(p.ResponseBodyChunk)
		}
	case w.GetSocketBufferedTrace() != nil:
		n += eventsSize(w.GetSocketBufferedTrace().GetEvents())
	case w.GetSocketStreamedTraceSegment() != nil:
		s := w.GetSocketStreamedTraceSegment()
		n += eventsSize(s.GetEvents().GetEvents())
		if ev := s.GetEvent(); ev != nil {
			n += eventsSize([]*tapv3.SocketEvent{ev})
		}
	}
	return n
}

func headersSize(hs []*corev3.HeaderValue) int {
	n := 0
	for _, h := range hs {
		n += fieldOverhead + len(h.GetKey()) + len(h.GetValue()) + len(h.GetRawValue())
	}
	return n
}

func bodySize(b *tapv3.Body) int {
	return fieldOverhead + len(b.GetAsBytes()) + len(b.GetAsString())
}

func eventsSize(evs []*tapv3.SocketEvent) int {
	n := 0
	for _, ev := range evs {
		n += fieldOverhead + bodySize(ev.GetRead().GetData()) + bodySize(ev.GetWrite().GetData())
	}
	return n
}
