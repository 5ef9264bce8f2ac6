// Package http2 parses HTTP/2 connections without TLS (h2c, whether by
// prior knowledge or after an HTTP/1.1 Upgrade) into Exchanges, one per
// stream, and gRPC calls into Exchanges with their messages. Frames are
// read with golang.org/x/net/http2's Framer; header blocks are decoded by
// an HPACK decoder written for an observer, one per direction, that
// reports fields it cannot know (a capture joined mid-connection, bytes
// lost to a gap) as missing instead of guessing them.
//
// Captured traffic is untrusted: every buffer is bounded (frames kept,
// header blocks, HPACK tables, streams per connection, bodies and gRPC
// messages per decode.Limits) and malformed input becomes notes and
// partial exchanges, never a panic.
package http2

import (
	"sync"
	"sync/atomic"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// Name is the protocol name of this parser: decode/http1 hands an
// upgraded connection over with Conn.Handoff(Name), and flows carrying
// HTTP/2 show it as their protocol.
const Name = "h2"

// preface is the client connection preface (RFC 9113 §3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Parser is the HTTP/2 stream parser given to the TCP layer. One Parser
// serves every connection and is safe for concurrent use; its counters
// add up over all of them.
type Parser struct {
	// decoders recycles content decoders (gzip inflaters cost tens of
	// kilobytes) between connections.
	decoders sync.Pool

	frames, headers, streams, grpcMsgs, resyncs, unknownFields atomic.Int64
}

// Stats counts what a Parser decoded, for status displays and for tests
// that compare with tshark's counts.
type Stats struct {
	Frames        int64 // frames parsed, of any type
	HeadersFrames int64 // HEADERS frames (not CONTINUATION or PUSH_PROMISE)
	Streams       int64 // streams that became exchanges
	GRPCMessages  int64 // gRPC length-prefixed messages, both directions
	Resyncs       int64 // times a direction lost frame sync and searched for it
	UnknownFields int64 // header fields HPACK could not resolve (state unknown)
}

// New returns a Parser. cmd/tapview passes it to the TCP decoder next to
// decode/http1's parser.
func New() *Parser {
	p := &Parser{}
	p.decoders.New = func() any { return new(body.Decoder) }
	return p
}

// Name returns "h2".
func (p *Parser) Name() string { return Name }

// Stats returns the counters so far.
func (p *Parser) Stats() Stats {
	return Stats{
		Frames:        p.frames.Load(),
		HeadersFrames: p.headers.Load(),
		Streams:       p.streams.Load(),
		GRPCMessages:  p.grpcMsgs.Load(),
		Resyncs:       p.resyncs.Load(),
		UnknownFields: p.unknownFields.Load(),
	}
}

// Detect answers Yes when first starts with the client connection
// preface, on any port and in either direction (the transport may have
// guessed the client wrong), and NeedMore while first is a prefix of it.
// For a flow joined mid-stream, whose first bytes are no preface, it also
// answers Yes for a plausible sequence of frame headers: a frame header
// valid for its type whose frame is followed by another valid header or
// ends exactly where first ends.
func (p *Parser) Detect(f *decode.Flow, _ decode.Direction, first []byte) decode.Verdict {
	n := min(len(first), len(preface))
	if string(first[:n]) == preface[:n] {
		if n == len(preface) {
			return decode.Yes
		}
		return decode.NeedMore
	}
	if f == nil || !f.Partial {
		return decode.No
	}
	return detectFrames(first)
}

// detectFrames judges whether b starts at an HTTP/2 frame boundary.
func detectFrames(b []byte) decode.Verdict {
	if len(b) < frameHeaderLen {
		return decode.NeedMore
	}
	fh := parseFrameHeader(b)
	if !plausible(fh, defaultMaxFrame) {
		return decode.No
	}
	end := frameHeaderLen + int(fh.length)
	switch {
	case end == len(b):
		return decode.Yes
	case end > len(b):
		return decode.NeedMore
	case len(b)-end < frameHeaderLen:
		return decode.NeedMore
	case plausible(parseFrameHeader(b[end:]), defaultMaxFrame):
		return decode.Yes
	}
	return decode.No
}

// New returns the handler for one connection. When the connection's flow
// already names another protocol, New was called through Conn.Handoff
// (decode/http1 after a 101 to h2c): both directions then start at a
// frame boundary, and stream 1 carries the response to the HTTP/1.1
// request that asked for the upgrade, so its exchange has no Request.
// Otherwise a flow joined mid-stream starts by searching for frame
// boundaries, and its HPACK state is learnt as it goes.
func (p *Parser) New(c decode.Conn) decode.StreamHandler {
	return newHandler(p, c)
}

func (p *Parser) decoder() *body.Decoder { return p.decoders.Get().(*body.Decoder) }

func (p *Parser) release(d *body.Decoder) { p.decoders.Put(d) }
