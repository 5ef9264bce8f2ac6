package decode

import (
	"time"

	"github.com/tapview/tapview/sources"
)

// Direction says which way bytes travel on a connection.
type Direction uint8

// Directions, relative to the side the decoder believes is the client.
const (
	ClientToServer Direction = 0
	ServerToClient Direction = 1
)

// Reverse returns the other direction.
func (d Direction) Reverse() Direction { return 1 - d }

// String names the direction for logs and tests.
func (d Direction) String() string {
	if d == ClientToServer {
		return "c2s"
	}
	return "s2c"
}

// Verdict is a parser's answer to "is this your protocol?".
type Verdict int

// Detection verdicts. NeedMore asks the TCP layer to call Detect again
// when more bytes arrived (it gives up after a small bound and treats the
// answer as No).
const (
	No Verdict = iota
	Yes
	NeedMore
)

// Limits bound what parsers keep, so hostile or huge traffic cannot grow
// memory without limit. Zero values mean the defaults below.
type Limits struct {
	// MaxBody is how many bytes of each message body are kept.
	MaxBody int
	// MaxDecoded caps decompressed output (a decompression bomb stops
	// here with a note).
	MaxDecoded int64
	// MaxParts caps gRPC messages / WebSocket frames kept per exchange.
	MaxParts int
	// MaxHeaderBytes caps a header block; longer is a parse error.
	MaxHeaderBytes int
}

// Default limits.
const (
	DefaultMaxBody        = 1 << 20
	DefaultMaxDecoded     = 16 << 20
	DefaultMaxParts       = 10000
	DefaultMaxHeaderBytes = 256 << 10
)

// WithDefaults fills zero fields with the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxBody <= 0 {
		l.MaxBody = DefaultMaxBody
	}
	if l.MaxDecoded <= 0 {
		l.MaxDecoded = DefaultMaxDecoded
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// StreamHandler parses the application bytes of one TCP connection (or a
// socket tap). The TCP layer calls it from the decoder goroutine only, in
// order within each direction; directions interleave in capture order as
// far as reassembly allows, so a parser must not assume the request was
// fully seen before the response starts.
type StreamHandler interface {
	// Data delivers contiguous bytes of one direction. data is valid only
	// during the call; ts is the capture time of the segment carrying it.
	Data(dir Direction, data []byte, ts time.Time)
	// Gap reports missing bytes in dir before the next Data (n < 0 when
	// the size is unknown). Parsers resynchronise or mark exchanges
	// partial; they never decode across a gap as if it were not there.
	Gap(dir Direction, n int, ts time.Time)
	// End is called once when the connection is over (FIN, RST, idle
	// timeout, end of input). The handler finalises and publishes every
	// exchange it still holds.
	End(state FlowState, ts time.Time)
}

// DatagramHandler parses the payloads of one UDP conversation.
type DatagramHandler interface {
	Datagram(dir Direction, payload []byte, ts time.Time)
	End(state FlowState, ts time.Time)
}

// Conn is what a parser may do with the connection it was given. The TCP
// and UDP layers implement it.
type Conn interface {
	// Flow returns the connection's flow as it is now. Treat it as
	// read-only.
	Flow() *Flow
	// NewExchange returns a fresh pending Exchange with ID, flow,
	// addresses and source filled in. It is not published yet.
	NewExchange(proto string) *Exchange
	// Publish hands a copy of e to the output. Call it when something a
	// user would see changed, and exactly once with a final state. After
	// Publish, bytes already in e's slices must not be overwritten (only
	// appended to), because readers share them.
	Publish(e *Exchange)
	// SetProto records the detected application protocol of the flow.
	SetProto(proto string)
	// SetTLS records TLS handshake facts (SNI shows as the flow's host).
	SetTLS(info *TLSInfo)
	// SwapDirections tells the transport layer that the side it took for
	// the client is the server (learnt from content, for connections
	// joined mid-stream). Later calls use the new orientation.
	SwapDirections()
	// Handoff returns the handler of another protocol for this same
	// connection (h2c after 101, WebSocket after 101), or nil when that
	// protocol is not available.
	Handoff(proto string) StreamHandler
	// Limits returns the bounds parsers must respect.
	Limits() Limits
	// Note records a problem on the flow (shown as its error) without
	// stopping decoding.
	Note(msg string)
}

// Parser is a stream protocol the TCP layer can hand connections to.
// Parsers are built explicitly in cmd/tapview and passed to the decoder,
// never registered by init.
type Parser interface {
	// Name is the protocol name used by Conn.Handoff and Flow.Proto.
	Name() string
	// Detect looks at the first bytes seen in one direction (the flow
	// gives addresses and ports as a hint, never as proof).
	Detect(f *Flow, dir Direction, first []byte) Verdict
	// New returns the handler for a connection Detect accepted, or that
	// another parser handed off.
	New(c Conn) StreamHandler
}

// DatagramParser is a datagram protocol the UDP layer can hand
// conversations to.
type DatagramParser interface {
	Name() string
	Detect(f *Flow, dir Direction, payload []byte) Verdict
	NewDatagram(c Conn) DatagramHandler
}

// Output receives what the decoder publishes, from the decoder goroutine.
// The Store implements it for the UI; headless writers implement it to
// stream JSON without holding everything in memory.
type Output interface {
	Flow(f *Flow)
	Exchange(e *Exchange)
	Note(s sources.Status)
}

// CopiesFlows reports whether out says (with a CopiesFlows method
// returning true) that it keeps no reference to a flow once Flow
// returns, so a decoder may publish flows from memory it reuses
// (decode/lanes). Wrappers answer for what they wrap.
func CopiesFlows(out Output) bool {
	c, ok := out.(interface{ CopiesFlows() bool })
	return ok && c.CopiesFlows()
}
