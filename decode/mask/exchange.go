package mask

import (
	"strings"
	"unicode/utf8"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// Exchange returns e with its secrets masked, for views, JSON and HAR.
// Published exchanges are shared and immutable, so e is never modified:
// what changes is copied (the exchange, the messages, header slices,
// bodies, parts), everything else is shared. When nothing is secret, e
// itself is returned, which keeps the common case free.
//
// Headers, trailers and the request target get Display in place of
// secrets. A body is masked in its decoded form: when it was content
// encoded (gzip, br, zstd, deflate), the masked copy holds the decoded,
// masked bytes with ContentEncoding cleared and Masked set, while the
// Content-Encoding header stays as it was on the wire, which is what HAR
// and the body views expect (they show decoded content). A body that
// cannot be decoded cannot be checked, so it is withheld (Body nil, the
// reason in DecodeError). Text bodies get Display; binary bodies and
// gRPC/WebSocket parts are overwritten with '*' keeping their length, so
// protobuf framing still parses. DNS answers are checked with the same
// rules as any text (see dnsInfo): TXT records carry verification
// tokens, keys and addresses, and every view and export prints them.
func (m *Masker) Exchange(e *decode.Exchange) *decode.Exchange {
	return m.ExchangeDecoding(e, nil)
}

// BodyDecoder undoes content codings as body.Decoder does. The decoded
// bytes it returns are only read, never changed.
type BodyDecoder interface {
	Decode(codings []string, data []byte, max int64) ([]byte, error)
}

// ExchangeDecoding is Exchange with content-encoded bodies decoded by d
// (nil: the masker's own decoder). A caller that shows the decoded
// bodies too (HAR export) passes a decoder that remembers what it
// decoded, so each body is inflated once, not once for masking and once
// for showing.
func (m *Masker) ExchangeDecoding(e *decode.Exchange, d BodyDecoder) *decode.Exchange {
	if m == nil || e == nil {
		return e
	}
	sc := m.get()
	defer m.put(sc)
	sc.ext = d
	defer func() { sc.ext = nil }()
	req := m.message(sc, e.Request)
	resp := m.message(sc, e.Response)
	var interim []*decode.Message
	for i, im := range e.Interim {
		if mm := m.message(sc, im); mm != im {
			if interim == nil {
				interim = append([]*decode.Message(nil), e.Interim...)
			}
			interim[i] = mm
		}
	}
	var grpc *decode.GRPCInfo
	if e.GRPC != nil {
		if t, ok := m.text(sc, e.GRPC.Message); ok {
			g := *e.GRPC
			g.Message = t
			grpc = &g
		}
	}
	dns := m.dnsInfo(sc, e.DNS)
	errText, errChanged := m.text(sc, e.Error)
	if req == e.Request && resp == e.Response && interim == nil && grpc == nil && dns == e.DNS && !errChanged {
		return e
	}
	c := *e
	c.Request, c.Response = req, resp
	if interim != nil {
		c.Interim = interim
	}
	if grpc != nil {
		c.GRPC = grpc
	}
	c.DNS = dns
	c.Error = errText
	return &c
}

// dnsInfo returns d, or a copy whose answers have their secrets masked.
// Answers are presentation-form strings ("TXT \"v=spf1 ...\""); the
// record types that hold only an address are skipped because no rule
// can match them and a busy resolver answers thousands of them. Names
// and types stay, so the answer keeps its shape.
func (m *Masker) dnsInfo(sc *scratch, d *decode.DNSInfo) *decode.DNSInfo {
	if d == nil {
		return nil
	}
	var answers []string
	for i, a := range d.Answers {
		if strings.HasPrefix(a, "A ") || strings.HasPrefix(a, "AAAA ") {
			continue
		}
		t, ok := m.text(sc, a)
		if !ok {
			continue
		}
		if answers == nil {
			answers = append([]string(nil), d.Answers...)
		}
		answers[i] = t
	}
	if answers == nil {
		return d
	}
	c := *d
	c.Answers = answers
	return &c
}

// text masks a display string, reporting whether anything changed.
func (m *Masker) text(sc *scratch, s string) (string, bool) {
	if s == "" || !m.mayScan(featuresFor(m, s)) {
		return s, false
	}
	sc.buf = append(sc.buf[:0], s...)
	sc.spans = merge(m.scan(sc, sc.buf, sc.spans[:0]))
	if len(sc.spans) == 0 {
		return s, false
	}
	return string(render(sc.buf, sc.spans)), true
}

// target is text for a request target, remembering targets that needed
// no change (cleancache.go): clients ask for the same paths again.
func (m *Masker) target(sc *scratch, s string) (string, bool) {
	if m.slow || s == "" || len(s) > cleanMaxValue {
		return m.text(sc, s)
	}
	i := sc.clean.index(cleanText, "", s)
	if sc.clean.hit(i, cleanText, "", s) {
		return s, false
	}
	t, changed := m.text(sc, s)
	if !changed {
		sc.clean.remember(i, cleanText, "", s)
	}
	return t, changed
}

// message returns msg, or a masked copy when anything in it is secret.
func (m *Masker) message(sc *scratch, msg *decode.Message) *decode.Message {
	if msg == nil {
		return nil
	}
	var out *decode.Message
	edit := func() *decode.Message {
		if out == nil {
			c := *msg
			c.Masked = true
			out = &c
		}
		return out
	}
	if hs, ok := m.headerList(sc, msg.Headers); ok {
		edit().Headers = hs
	}
	if ts, ok := m.headerList(sc, msg.Trailers); ok {
		edit().Trailers = ts
	}
	if t, ok := m.target(sc, msg.Target); ok {
		edit().Target = t
	}
	m.body(sc, msg, edit)
	if ps, ok := m.parts(sc, msg.Parts); ok {
		edit().Parts = ps
	}
	if out == nil {
		return msg
	}
	return out
}

// headerList masks a header list, copying it only when a value changes.
func (m *Masker) headerList(sc *scratch, hs []decode.Header) ([]decode.Header, bool) {
	var out []decode.Header
	for i, h := range hs {
		v, changed := m.header(sc, h.Name, h.Value)
		if !changed {
			continue
		}
		if out == nil {
			out = append([]decode.Header(nil), hs...)
		}
		out[i].Value = v
	}
	return out, out != nil
}

// body masks msg's body through edit when it holds a secret.
func (m *Masker) body(sc *scratch, msg *decode.Message, edit func() *decode.Message) {
	data := msg.Body
	if len(data) == 0 {
		return
	}
	memo := -1
	var sum uint64
	encoded := body.NeedsDecoding(msg.ContentEncoding)
	if !m.slow {
		if memo, sum = sc.bodies.index(data); memo >= 0 {
			if s := sc.bodies.lookup(memo, sum, msg.ContentEncoding, data); s != nil {
				if s.dirty {
					c := edit()
					c.Body = append([]byte(nil), s.masked...)
					if encoded {
						c.ContentEncoding = nil
					}
				}
				return
			}
		}
	}
	var decodeErr error
	if encoded {
		if sc.ext != nil {
			data, decodeErr = sc.ext.Decode(msg.ContentEncoding, msg.Body, m.maxBody)
		} else {
			data, decodeErr = sc.dec.Decode(msg.ContentEncoding, msg.Body, m.maxBody)
		}
		if decodeErr != nil && len(data) == 0 {
			c := edit()
			c.Body, c.ContentEncoding = nil, nil
			c.DecodeError = "body not shown: masking could not decode it to check for secrets: " + decodeErr.Error()
			return
		}
	}
	sc.spans = merge(m.scan(sc, data, sc.spans[:0]))
	if len(sc.spans) == 0 {
		if memo >= 0 && decodeErr == nil {
			sc.bodies.remember(memo, sum, msg.ContentEncoding, msg.Body, nil)
		}
		return
	}
	var masked []byte
	if utf8.Valid(data) {
		masked = render(data, sc.spans)
	} else {
		masked = append([]byte(nil), data...)
		fill(masked, sc.spans)
	}
	c := edit()
	c.Body = masked
	if encoded {
		c.ContentEncoding = nil
		if decodeErr != nil {
			c.Truncated = true
		}
	}
	if memo >= 0 && decodeErr == nil {
		sc.bodies.remember(memo, sum, msg.ContentEncoding, msg.Body, masked)
	}
}

// parts masks framed payloads in place-length form, copying only the
// parts that change.
func (m *Masker) parts(sc *scratch, ps []decode.Part) ([]decode.Part, bool) {
	var out []decode.Part
	for i, p := range ps {
		if len(p.Data) == 0 {
			continue
		}
		sc.spans = merge(m.scan(sc, p.Data, sc.spans[:0]))
		if len(sc.spans) == 0 {
			continue
		}
		if out == nil {
			out = append([]decode.Part(nil), ps...)
		}
		d := append([]byte(nil), p.Data...)
		fill(d, sc.spans)
		out[i].Data = d
	}
	return out, out != nil
}
