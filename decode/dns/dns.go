// Package dns decodes DNS over UDP and TCP (and mDNS and LLMNR, which
// share its wire format) into exchanges: one Exchange with Proto "dns"
// per query and its response, paired by message id and first question.
//
// Layout of a DNS exchange:
//   - Exchange.DNS holds the id, the first question's name (no trailing
//     dot) and type, the response code ("NOERROR", ...) and the answer
//     section as "TYPE data" strings ("A 192.0.2.1", "CNAME x.example.").
//   - Request and Response carry the raw DNS message as Body (capped by
//     Limits.MaxBody; BodySize is its full length, without the TCP length
//     prefix) and one Part per non-empty section, Kind "question",
//     "answer", "authority" or "additional", whose Data are zone-file
//     lines ("www.example. 300 IN A 192.0.2.1") and Size the section's
//     bytes on the wire. Method stays empty: views show DNS.Type.
//
// Queries wait QueryTimeout of capture time; unanswered ones end as
// Orphan ("no response seen"), and responses without a query (mDNS
// announcements) become Orphan exchanges, at most MaxOrphans per
// conversation. Detection is by content: the header must be plausible
// (opcode, counts, flags) and the whole message must walk cleanly (label
// names, records within bounds, A/AAAA sizes); ports only make a TCP probe
// cut inside the first question acceptable, and NetBIOS ports, whose
// messages look like DNS, are refused. Over TCP, missing bytes drop the
// message in progress and framing resumes at the next segment that starts
// with a plausible length-prefixed message.
package dns

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
)

// Name is the protocol name of flows and exchanges this package decodes.
const Name = "dns"

// Parser is DNS for both transports: it is a decode.DatagramParser for
// UDP conversations and a decode.Parser for TCP connections, where every
// message carries a 2-byte length prefix. It holds no state; every
// conversation gets its own handler.
type Parser struct{}

// New returns the DNS parser, to be listed in both tcp.Config.Parsers and
// tcp.Config.Datagrams.
func New() *Parser { return &Parser{} }

var (
	_ decode.Parser         = (*Parser)(nil)
	_ decode.DatagramParser = (*Parser)(nil)
)

// Name implements decode.Parser and decode.DatagramParser; flows read
// "dns" whatever the transport.
func (*Parser) Name() string { return Name }

// Detect implements both interfaces: the flow's Transport says whether
// first is a UDP payload or the start of a length-prefixed TCP stream
// (a nil flow or an unknown transport is taken for UDP).
func (*Parser) Detect(f *decode.Flow, _ decode.Direction, first []byte) decode.Verdict {
	if f != nil && f.Transport == "tcp" {
		return detectStream(f, first)
	}
	return detectDatagram(f, first)
}

// NewDatagram implements decode.DatagramParser.
func (*Parser) NewDatagram(c decode.Conn) decode.DatagramHandler {
	return &datagramHandler{p: newPairer(c)}
}

// New implements decode.Parser for DNS over TCP.
func (*Parser) New(c decode.Conn) decode.StreamHandler {
	h := &streamHandler{p: newPairer(c), sides: [2]*streamSide{{}, {}}}
	h.p.hold = true
	h.p.swap = func() { h.sides[0], h.sides[1] = h.sides[1], h.sides[0] }
	return h
}

// datagramHandler decodes one UDP conversation: one message per datagram.
type datagramHandler struct{ p *pairer }

func (h *datagramHandler) Datagram(dir decode.Direction, payload []byte, ts time.Time) {
	h.p.message(dir, payload, ts, ts)
}

func (h *datagramHandler) End(st decode.FlowState, _ time.Time) { h.p.end(st) }

// streamSide is the framing state of one TCP direction.
type streamSide struct {
	buf   []byte    // an incomplete length-prefixed message
	first time.Time // capture time of buf's first byte
	lost  bool      // a gap broke the framing; waiting for a message start
}

// streamHandler decodes one TCP connection of length-prefixed messages.
type streamHandler struct {
	p       *pairer
	sides   [2]*streamSide
	noted   bool
	skipped int64 // bytes dropped while resynchronising
}

// Data frames messages; a swap of directions while parsing leaves s on
// the same physical side, which is what the rest of data belongs to.
func (h *streamHandler) Data(dir decode.Direction, data []byte, ts time.Time) {
	s := h.sides[dir&1]
	if s.lost {
		// Resume only where a segment starts with what looks like a
		// length-prefixed message.
		if detectStream(h.p.c.Flow(), data) != decode.Yes {
			h.skipped += int64(len(data))
			return
		}
		s.lost = false
	}
	for len(data) > 0 {
		if len(s.buf) == 0 {
			s.first = ts
			if len(data) >= 2 {
				n := int(binary.BigEndian.Uint16(data))
				if len(data) >= 2+n {
					h.p.message(dir, data[2:2+n], ts, ts)
					data = data[2+n:]
					continue
				}
			}
		}
		need := 2
		if len(s.buf) >= 2 {
			need = 2 + int(binary.BigEndian.Uint16(s.buf))
		}
		take := min(need-len(s.buf), len(data))
		s.buf = append(s.buf, data[:take]...)
		data = data[take:]
		if len(s.buf) >= 2 && len(s.buf) == 2+int(binary.BigEndian.Uint16(s.buf)) {
			h.p.message(dir, s.buf[2:], s.first, ts)
			s.buf = s.buf[:0]
		}
	}
}

// Gap drops the message in progress; framing resumes at the next segment
// that starts like a message.
func (h *streamHandler) Gap(dir decode.Direction, _ int, _ time.Time) {
	s := h.sides[dir&1]
	s.buf = s.buf[:0]
	s.lost = true
	if !h.noted {
		h.noted = true
		h.p.c.Note("dns: bytes missing in the TCP stream; resynchronising at the next message")
	}
}

func (h *streamHandler) End(st decode.FlowState, _ time.Time) {
	for _, s := range h.sides {
		if len(s.buf) > 0 {
			h.p.c.Note("dns: connection ended inside a message")
			break
		}
	}
	if h.skipped > 0 {
		h.p.c.Note(fmt.Sprintf("dns: %d bytes skipped while resynchronising", h.skipped))
	}
	h.p.end(st)
}

// Summary parses one DNS message outside a conversation, such as the
// body of a DNS-over-HTTPS request or response (RFC 8484,
// application/dns-message), so the HTTP parsers can fill Exchange.DNS
// the same way this package does. Rcode and Answers are set for
// responses only. A message damaged after its question section still
// yields a summary together with the error.
func Summary(msg []byte) (*decode.DNSInfo, error) {
	m, err := parseMessage(msg)
	if m == nil {
		return nil, fmt.Errorf("dns summary: %w", err)
	}
	info := &decode.DNSInfo{ID: m.id}
	info.Name, info.Type = subject(m)
	if m.response {
		info.Rcode = rcodeName(m.rcode())
		info.Answers = answers(m)
	}
	if err != nil {
		return info, fmt.Errorf("dns summary: %w", err)
	}
	return info, nil
}
