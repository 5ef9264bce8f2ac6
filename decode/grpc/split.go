package grpc

import (
	"fmt"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// prefixLen is the size of the gRPC message prefix: a compressed flag
// byte and a big-endian uint32 payload length.
const prefixLen = 5

// maxPrealloc bounds the buffer reserved for a message from its claimed
// length alone, so a forged length costs nothing before bytes arrive.
const maxPrealloc = 64 << 10

// Decompressor undoes a grpc-encoding. *body.Decoder satisfies it, so a
// caller can share one decoder (and its inflater) across the messages of
// a connection.
type Decompressor interface {
	Decode(codings []string, data []byte, max int64) ([]byte, error)
}

// Splitter cuts one direction of one gRPC call into its length-prefixed
// messages as the bytes arrive, in any chunking. It keeps at most
// Limits.MaxBody payload bytes over all its messages and at most
// Limits.MaxParts messages; beyond that messages are still counted, so a
// hostile or huge stream costs bounded memory. A Splitter is not safe for
// concurrent use.
type Splitter struct {
	lim      decode.Limits
	codings  []string // grpc-encoding of the direction, nil for identity
	dec      Decompressor
	prefix   [prefixLen]byte
	nprefix  int
	size     int64 // payload length of the current message
	got      int64 // payload bytes of the current message seen so far
	missing  bool  // part of the current message's payload was not seen
	data     []byte
	start    time.Time
	budget   int64 // payload bytes the splitter may still keep
	messages int
	dropped  int
	lost     bool
}

// NewSplitter returns a splitter for a direction whose headers named
// encoding in grpc-encoding ("" or "identity" for none). dec may be nil,
// then compressed messages are decoded with body.Decode.
//
// Each message becomes a decode.Part of Kind "grpc": Size is the payload
// length on the wire, Compressed the prefix's flag, and Data the payload
// decompressed (capped; Truncated when anything is missing). When the
// coding is unknown (snappy) or the payload corrupt, Data holds the wire
// bytes and Compressed stays set.
func NewSplitter(encoding string, lim decode.Limits, dec Decompressor) *Splitter {
	lim = lim.WithDefaults()
	s := &Splitter{lim: lim, dec: dec, budget: int64(lim.MaxBody)}
	if enc := strings.ToLower(strings.TrimSpace(encoding)); enc != "" && enc != "identity" {
		s.codings = []string{enc}
	}
	return s
}

// Messages is how many messages started so far, including any not kept.
func (s *Splitter) Messages() int { return s.messages }

// Dropped is how many complete messages were counted but not kept
// because Limits.MaxParts was reached.
func (s *Splitter) Dropped() int { return s.dropped }

// Lost reports whether missing bytes of unknown extent broke the framing;
// later bytes are then ignored, since any boundary found in them would be
// a guess.
func (s *Splitter) Lost() bool { return s.lost }

// Write consumes the next bytes of the direction, captured at ts, and
// appends every message they complete to dst.
func (s *Splitter) Write(dst []decode.Part, b []byte, ts time.Time) []decode.Part {
	for len(b) > 0 && !s.lost {
		if s.nprefix < prefixLen {
			if s.nprefix == 0 {
				s.start = ts
			}
			n := copy(s.prefix[s.nprefix:], b)
			s.nprefix += n
			b = b[n:]
			if s.nprefix < prefixLen {
				break
			}
			s.begin()
			if s.size == 0 {
				dst = s.finish(dst, false)
			}
			continue
		}
		n := int(min(int64(len(b)), s.size-s.got))
		if keep := min(int64(n), s.budget-int64(len(s.data))); keep > 0 {
			s.data = append(s.data, b[:keep]...)
		}
		s.got += int64(n)
		b = b[n:]
		if s.got == s.size {
			dst = s.finish(dst, false)
		}
	}
	return dst
}

// Skip accounts for n missing bytes of known size (a capture gap inside
// DATA). Inside a message payload the message is kept as truncated;
// when the gap hides a prefix the framing is lost.
func (s *Splitter) Skip(dst []decode.Part, n int64, ts time.Time) []decode.Part {
	if s.lost || n <= 0 {
		return dst
	}
	if s.nprefix < prefixLen {
		s.lost = true
		if s.nprefix > 0 {
			s.messages++
		}
		return dst
	}
	take := min(n, s.size-s.got)
	s.got += take
	s.missing = true
	n -= take
	if s.got == s.size {
		dst = s.finish(dst, false)
	}
	if n > 0 {
		s.lost = true
	}
	return dst
}

// Lose records missing bytes of unknown size: the message in progress is
// kept as truncated by Flush and later bytes are ignored.
func (s *Splitter) Lose() {
	s.missing = true
	s.lost = true
}

// Flush ends the direction: a message cut short by the end of the stream
// (or by a gap) is appended to dst with Truncated set.
func (s *Splitter) Flush(dst []decode.Part) []decode.Part {
	if s.nprefix == prefixLen && s.got < s.size {
		dst = s.finish(dst, true)
	}
	s.nprefix = 0
	return dst
}

// begin reads the prefix of a new message.
func (s *Splitter) begin() {
	p := s.prefix
	s.size = int64(p[1])<<24 | int64(p[2])<<16 | int64(p[3])<<8 | int64(p[4])
	s.got = 0
	s.missing = false
	s.data = nil
	if keep := min(s.size, s.budget, maxPrealloc); keep > 0 {
		s.data = make([]byte, 0, keep)
	}
	s.messages++
}

// finish turns the current message into a Part and resets for the next.
func (s *Splitter) finish(dst []decode.Part, cut bool) []decode.Part {
	s.nprefix = 0
	if len(dst) >= s.lim.MaxParts {
		s.dropped++
		return dst
	}
	p := decode.Part{
		Time:       s.start,
		Kind:       Name,
		Compressed: s.prefix[0]&1 == 1,
		Size:       s.size,
		Truncated:  cut || s.missing || int64(len(s.data)) < s.size,
	}
	data := s.data
	s.data = nil // the Part owns it now
	if p.Compressed && len(s.codings) > 0 && len(data) > 0 && s.budget > 0 {
		out, err := s.decompress(data, min(s.budget, s.lim.MaxDecoded))
		switch {
		case err == nil:
			data = out
		case len(out) > 0:
			data, p.Truncated = out, true
		}
	}
	if int64(len(data)) > s.budget {
		data, p.Truncated = data[:max(s.budget, 0)], true
	}
	if len(data) > 0 {
		p.Data = data
		s.budget -= int64(len(data))
	}
	return append(dst, p)
}

func (s *Splitter) decompress(data []byte, limit int64) ([]byte, error) {
	var (
		out []byte
		err error
	)
	if s.dec != nil {
		out, err = s.dec.Decode(s.codings, data, limit)
	} else {
		out, err = body.Decode(s.codings, data, limit)
	}
	if err != nil {
		return out, fmt.Errorf("grpc: decompress %s: %w", s.codings[0], err)
	}
	return out, nil
}
