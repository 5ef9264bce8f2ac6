// Package tls recognises TLS connections, reads their handshakes (SNI,
// ALPN, version, cipher suite) even when records and handshake messages
// are split across segments, and, when the session secrets are known
// from a key log or a pcapng Decryption Secrets Block, decrypts their
// records (TLS 1.0-1.2 with AES-GCM, ChaCha20-Poly1305 and CBC suites;
// TLS 1.3 with AES-GCM and ChaCha20-Poly1305, key updates included) and
// feeds the plaintext to the same HTTP/1, HTTP/2 and gRPC parsers as
// cleartext traffic. Flows carry what the handshake showed; exchanges
// decoded inside TLS are marked TLS. Missing keys are a state of the flow
// (TLSInfo.Decrypted false), never an error.
package tls

import (
	"encoding/binary"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/tls/keylog"
)

// Name is the protocol name of this parser for Conn.Handoff and
// Flow.Proto.
const Name = "tls"

// DefaultMaxPending is how many ciphertext bytes a connection keeps while
// it waits for its keys (a live key log lags behind the traffic); records
// past it are counted and skipped, so decryption resumes after a gap.
const DefaultMaxPending = 1 << 20

// Config says where keys come from and what runs inside TLS.
type Config struct {
	// Keys is the key store; nil means no decryption (handshake facts
	// only).
	Keys *keylog.KeyLog
	// Inner are the parsers offered the decrypted bytes: chosen by the
	// ALPN protocol the server selected ("h2" -> the parser named "h2",
	// "http/1.1" -> "http/1") or else by their Detect.
	Inner []decode.Parser
	// MaxPending bounds the ciphertext kept per connection while keys
	// are missing; 0 means DefaultMaxPending.
	MaxPending int
}

// Parser is the TLS stream parser given to the TCP layer. One Parser
// serves every connection of one decoder: connections that ended while
// waiting for keys are finished from that decoder's goroutine when a later
// TLS connection moves, so a Parser with keys must not be shared between
// decoders.
type Parser struct {
	cfg    Config
	linger lingerList
	stats  counters
}

// New returns a TLS parser decrypting with keys (nil: none) and handing
// plaintext to the inner parsers.
func New(keys *keylog.KeyLog, inner ...decode.Parser) *Parser {
	return NewWithConfig(Config{Keys: keys, Inner: inner})
}

// NewWithConfig returns a TLS parser configured by cfg.
func NewWithConfig(cfg Config) *Parser {
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	cfg.Inner = append([]decode.Parser(nil), cfg.Inner...)
	return &Parser{cfg: cfg}
}

// Name returns "tls".
func (p *Parser) Name() string { return Name }

// Detect answers Yes for a TLS handshake record carrying a ClientHello or
// ServerHello (either direction: the handler corrects an orientation the
// transport guessed wrong), and, on flows joined mid-stream, for an
// application data or alert record header. Only the record header and the
// handshake type are needed: NeedMore while fewer than 6 bytes arrived.
func (p *Parser) Detect(f *decode.Flow, dir decode.Direction, first []byte) decode.Verdict {
	if f != nil {
		p.retryLingering(f.Last)
	}
	if len(first) == 0 {
		return decode.NeedMore
	}
	typ := first[0]
	partial := f != nil && f.Partial
	switch typ {
	case ctHandshake:
	case ctApplicationData, ctAlert:
		if !partial {
			return decode.No
		}
	default:
		return decode.No
	}
	if len(first) >= 2 && first[1] != 3 {
		return decode.No
	}
	if len(first) >= 3 && first[2] > 4 {
		return decode.No
	}
	if len(first) < 5 {
		return decode.NeedMore
	}
	version := binary.BigEndian.Uint16(first[1:])
	n := int(binary.BigEndian.Uint16(first[3:]))
	if n == 0 || n > maxCiphertext {
		return decode.No
	}
	if typ != ctHandshake {
		if version < 0x0301 || version > 0x0303 {
			return decode.No
		}
		return decode.Yes
	}
	if len(first) < 6 {
		return decode.NeedMore
	}
	switch first[5] {
	case hsClientHello:
		if version < 0x0300 || version > 0x0304 {
			return decode.No
		}
	case hsServerHello:
		if version < 0x0301 || version > 0x0304 {
			return decode.No
		}
	default:
		return decode.No
	}
	// The hello's own version field, when it is in the window, must be
	// a TLS version too.
	if len(first) >= 10 && (first[9] != 3 || first[6] != 0) {
		return decode.No
	}
	return decode.Yes
}

// New returns the handler for one connection.
func (p *Parser) New(c decode.Conn) decode.StreamHandler {
	p.stats.connections.Add(1)
	h := newHandler(p, c)
	c.SetProto(Name)
	return h
}

// innerByName returns the inner parser called name, or nil.
func (p *Parser) innerByName(name string) decode.Parser {
	for _, q := range p.cfg.Inner {
		if q.Name() == name {
			return q
		}
	}
	return nil
}
