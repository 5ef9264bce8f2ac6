// Package http1 parses HTTP/1.0 and HTTP/1.1 connections into Exchanges:
// keep-alive and pipelined requests, Content-Length, chunked and
// close-delimited bodies, interim 1xx responses, upgrades to h2c and
// WebSocket, CONNECT tunnels, and connections joined mid-stream or broken
// by capture gaps. It works on the byte slices the TCP layer hands it,
// without net/http, because captured traffic is often incomplete or
// malformed and must still be shown.
package http1

import (
	"bytes"
	"sync"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// Name is the protocol name of this parser for Conn.Handoff and logs.
const Name = "http/1"

// detectScan bounds how far Detect looks for a start line inside the
// first bytes of a connection joined mid-stream.
const detectScan = 16 << 10

// Parser is the HTTP/1.x stream parser given to the TCP layer. One Parser
// serves every connection; it is safe for concurrent use.
type Parser struct {
	opts Options
	// decoders recycles content decoders between messages, because a
	// gzip inflater costs tens of kilobytes to build and most bodies are
	// small.
	decoders sync.Pool
}

// Options tune a Parser for the trade-offs a caller cares about.
type Options struct {
	// GzipTrailerSizes takes Message.DecodedSize of bodies whose only
	// coding is gzip from the gzip trailer instead of inflating them.
	// Inflating costs a few microseconds per body, often more than
	// parsing the whole exchange; the trailer is exact for valid streams
	// but cannot reveal a corrupt one (views find that when they decode).
	GzipTrailerSizes bool
}

// New returns a Parser that inflates bodies to measure decoded sizes.
// cmd/tapview passes it to the TCP decoder.
func New() *Parser { return NewWithOptions(Options{}) }

// NewWithOptions returns a Parser configured by o.
func NewWithOptions(o Options) *Parser {
	p := &Parser{opts: o}
	p.decoders.New = func() any { return new(body.Decoder) }
	return p
}

// Name returns "http/1".
func (p *Parser) Name() string { return Name }

// Detect answers Yes when first starts with an HTTP/1 request line or
// status line (either direction: a capture may have joined mid-stream, or
// the transport may have guessed the client wrong), NeedMore while a
// prefix is still ambiguous, and No otherwise. On flows joined mid-stream
// it also accepts a complete start line at the beginning of any line in
// first, since the first bytes may be the tail of an earlier message.
func (p *Parser) Detect(f *decode.Flow, dir decode.Direction, first []byte) decode.Verdict {
	if v := detectAt(first); v != decode.No {
		return v
	}
	if f == nil || !f.Partial {
		return decode.No
	}
	if len(first) > detectScan {
		first = first[:detectScan]
	}
	for {
		i := bytes.IndexByte(first, '\n')
		if i < 0 {
			return decode.No
		}
		first = first[i+1:]
		if k, _ := classify(first); k == kindRequest || k == kindStatus {
			return decode.Yes
		}
	}
}

// detectAt classifies the very start of a stream.
func detectAt(b []byte) decode.Verdict {
	if len(b) == 0 {
		return decode.NeedMore
	}
	if yes, more := knownMethodPrefix(b); yes {
		return decode.Yes
	} else if more && len(b) < maxMethod {
		return decode.NeedMore
	}
	switch k, _ := classify(b); k {
	case kindRequest, kindStatus:
		return decode.Yes
	case kindMore:
		if hasPrefixOrIsPrefix(b, "HTTP/") {
			if len(b) >= len("HTTP/1.1 ") {
				return decode.Yes
			}
			return decode.NeedMore
		}
		if len(b) < 4096 {
			return decode.NeedMore
		}
	}
	return decode.No
}

// New returns the handler for one connection.
func (p *Parser) New(c decode.Conn) decode.StreamHandler {
	return newHandler(p, c)
}

func (p *Parser) decoder() *body.Decoder { return p.decoders.Get().(*body.Decoder) }

func (p *Parser) release(d *body.Decoder) { p.decoders.Put(d) }
