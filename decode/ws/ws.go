// Package ws decodes WebSocket (RFC 6455) connections after the HTTP/1.1
// upgrade: decode/http1 publishes the 101 exchange and hands the
// connection's later bytes to this package through Conn.Handoff("ws").
//
// Layout: one Exchange with Proto "ws" per upgraded connection. Its
// Response.Parts hold every frame of BOTH directions in the order they
// completed, so a view shows the conversation as it happened; each Part
// has FromClient set for client→server frames. Request and Response keep
// First/Last (times of the first and last frame of that direction),
// BodySize (payload bytes on the wire) and DecodedSize (payload bytes
// after unmasking and inflating) per direction, and never a Body or
// headers: the upgrading HTTP exchange has those.
//
// One Part per frame: Kind "text", "binary", "continuation", "ping",
// "pong", "close" (or "reserved"); Size is the payload length on the wire;
// Data the unmasked payload, at most Limits.MaxBody bytes (Truncated when
// cut or when bytes were missing). A close frame's Data reads
// "1000 (normal closure) reason". With permessage-deflate (RFC 7692)
// every frame of a compressed message has Compressed set; the frame that
// ends the message carries the whole inflated message (at most
// Limits.MaxDecoded bytes are inflated) and earlier fragments carry no
// Data. An inflate failure is the direction's Message.DecodeError.
//
// The exchange is published whenever a Data call completed frames, and a
// last time at End: Complete when close frames were seen both ways,
// Reset when the connection was reset, Partial otherwise. A connection
// that exceeds Limits.MaxParts frames, or MaxDecoded kept bytes, goes on
// in a new exchange so no single exchange grows without bound.
package ws

import "github.com/tapview/tapview/decode"

// Name is the protocol name of upgraded flows and their exchanges, and
// the name decode/http1 hands WebSocket connections off to.
const Name = "ws"

// Parser is the WebSocket stream protocol. It holds no state.
type Parser struct{}

// New returns the WebSocket parser, to be listed in tcp.Config.Parsers
// next to the HTTP/1 parser that hands connections to it.
func New() *Parser { return &Parser{} }

var _ decode.Parser = (*Parser)(nil)

// Name implements decode.Parser.
func (*Parser) Name() string { return Name }

// Detect implements decode.Parser: WebSocket frames carry no signature a
// connection's first bytes could be recognised by, so connections only
// arrive through a handoff after the HTTP upgrade.
func (*Parser) Detect(*decode.Flow, decode.Direction, []byte) decode.Verdict { return decode.No }

// New implements decode.Parser: the handler for one upgraded connection.
func (*Parser) New(c decode.Conn) decode.StreamHandler { return newHandler(c) }
