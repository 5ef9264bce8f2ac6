package sources

import (
	"time"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
)

// Trace is one Envoy tap trace (buffered HTTP, a streamed segment, or a
// socket trace) as a tap sink, an admin /tap stream or a trace file
// delivered it. HTTP traces become Exchanges directly; socket traces are
// fed through the same TCP stream parsers as packets.
type Trace struct {
	Wrapper *tapv3.TraceWrapper
	// TraceID is the sink-level merge key of streamed segments
	// (StreamTapsRequest.trace_id), 0 when the transport has none.
	TraceID uint64
	// Source names the sink, Envoy or file the trace came from.
	Source string
	// Node is the sending Envoy's node id when known.
	Node string
	// Arrival is when tapview received it.
	Arrival time.Time
	// Ordinal numbers traces of one source from 1.
	Ordinal uint64
}

// TraceEmitter is implemented by emitters that accept traces as well as
// packets. Sources that produce traces type-assert their Emitter to it.
type TraceEmitter interface {
	Trace(t Trace)
}

// Counts are what a live source itself received, dropped and rejected
// before anything reached its emitter.
type Counts struct {
	Received  int64 // items accepted from senders
	Dropped   int64 // items dropped because the source's own queue was full
	Malformed int64 // messages or requests rejected as undecodable
	Refused   int64 // requests refused (authentication)
}

// Counter is implemented by live sources with their own bounded queues
// (the tap sink, the watch client), so the status bar and periodic stats
// lines can show drops that happen before the pipeline's emitter.
type Counter interface {
	Counts() Counts
}
