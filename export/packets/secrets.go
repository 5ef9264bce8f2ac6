package packets

import (
	"bytes"

	"golang.org/x/net/http2/hpack"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
)

// huffmanStar is the HPACK Huffman code of '*' (8 bits, RFC 7541
// appendix B), so a Huffman-coded value overwritten with it decodes as
// asterisks of the same coded length.
const huffmanStar = 0xf9

// pieceLen is the unit in which whole bodies are wiped: long enough that
// a piece practically never occurs elsewhere, short enough that little
// is left where a piece straddles a segment boundary.
const pieceLen = 16

type piece [pieceLen]byte

// collectSecrets records in fp the byte strings that must not survive in
// the flow's packets, and reports whether there were any: what the raw
// masker finds in each header and trailer line, the request target,
// bodies and framed parts; the HPACK Huffman code of HTTP/2 header values
// that hold a secret; and content-encoded bodies whose decoded form holds
// one. Each field is scanned once, by the same rules the display masker
// applies.
func (p *Plan) collectSecrets(fp *flowPlan, e *decode.Exchange) bool {
	h2 := e.Proto == "h2" || e.Proto == "grpc"
	found := p.messageSecrets(fp, 0, e.Request, h2)
	if p.messageSecrets(fp, 1, e.Response, h2) {
		found = true
	}
	for _, m := range e.Interim {
		if p.messageSecrets(fp, 1, m, h2) {
			found = true
		}
	}
	return found
}

// messageSecrets collects one message's secrets; dir is the direction
// that carries it (0 client to server), the only one searched for them.
func (p *Plan) messageSecrets(fp *flowPlan, dir uint8, m *decode.Message, h2 bool) bool {
	if m == nil {
		return false
	}
	found := p.headerSecrets(fp, dir, m.Headers, h2)
	if p.headerSecrets(fp, dir, m.Trailers, h2) {
		found = true
	}
	if m.Target != "" && p.valueSecrets(fp, dir, p.scratch(m.Target), 0, len(m.Target)) {
		found = true
	}
	if p.follow {
		// Bodies and their parts are masked where pass one walked the
		// streams; the values above still serve packets it could not
		// walk (and HPACK-coded values the stream walk could not read).
		return found
	}
	if len(m.Body) > 0 {
		if body.NeedsDecoding(m.ContentEncoding) {
			// The secret would be inside compressed bytes, where no plain
			// value can be found in the packets: the body goes as a whole.
			plain, _ := body.Decode(m.ContentEncoding, m.Body, decode.DefaultMaxDecoded)
			if len(plain) > 0 && p.masker.MaskInPlace(bytes.Clone(plain)) > 0 {
				p.wipeBody(fp, dir, m.Body)
				found = true
			}
		} else if p.valueSecrets(fp, dir, m.Body, 0, len(m.Body)) {
			found = true
		}
	}
	for _, part := range m.Parts {
		if len(part.Data) == 0 {
			continue
		}
		if part.Compressed {
			if p.masker.MaskInPlace(bytes.Clone(part.Data)) > 0 {
				p.wipeBody(fp, dir, m.Body)
				found = true
			}
			continue
		}
		if p.valueSecrets(fp, dir, part.Data, 0, len(part.Data)) {
			found = true
		}
	}
	return found
}

// headerSecrets handles header (or trailer) fields. The raw masker
// recognises a header line by its name, so it is given one; only spans
// inside the value are kept.
func (p *Plan) headerSecrets(fp *flowPlan, dir uint8, hs []decode.Header, h2 bool) bool {
	found := false
	for _, h := range hs {
		if h.Value == "" {
			continue
		}
		line := append(append(append(p.line[:0], h.Name...), ": "...), h.Value...)
		line = append(line, "\r\n"...)
		p.line = line
		if !p.valueSecrets(fp, dir, line, len(h.Name)+2, len(h.Name)+2+len(h.Value)) {
			continue
		}
		found = true
		if h2 {
			code := hpack.AppendHuffmanString(nil, h.Value)
			fp.addSecret(secret{b: code, fill: huffmanStar, dir: dir})
		}
	}
	return found
}

// valueSecrets runs the raw masker over b and records the overwritten
// runs that lie in b[lo:hi]. It reports whether any run was found.
func (p *Plan) valueSecrets(fp *flowPlan, dir uint8, b []byte, lo, hi int) bool {
	if len(b) == 0 {
		return false
	}
	if p.clean.Has(memoBytes, b) {
		return false
	}
	masked := p.masker.Bytes(b)
	if &masked[0] == &b[0] {
		p.clean.Add(memoBytes, b)
		return false
	}
	if len(masked) != len(b) {
		return false
	}
	found := false
	for i := lo; i < hi; {
		if masked[i] == b[i] {
			i++
			continue
		}
		j := i
		for j < hi && masked[j] != b[j] {
			j++
		}
		// A bare JSON number is rewritten as "0" and spaces: extend over
		// bytes that happened to match so the value stays whole.
		for j < hi && masked[j] == ' ' && b[j] != ' ' {
			j++
		}
		fp.addSecret(secret{b: bytes.Clone(b[i:j]), fill: '*', dir: dir})
		found = true
		i = j
	}
	return found
}

// addSecret keeps a value once per flow, within the bounds.
func (fp *flowPlan) addSecret(s secret) {
	if len(s.b) < minSecretLen {
		return
	}
	for _, have := range fp.secrets {
		if have.fill == s.fill && have.dir == s.dir && bytes.Equal(have.b, s.b) {
			return
		}
	}
	if len(fp.secrets) >= maxSecretsPerFlow {
		fp.capped = true
		return
	}
	fp.secrets = append(fp.secrets, s)
}

// wipeBody records a body to overwrite wherever its pieces occur.
func (p *Plan) wipeBody(fp *flowPlan, dir uint8, b []byte) {
	if len(b) == 0 {
		return
	}
	p.stats.WipedBodies++
	if fp.wipe == nil {
		fp.wipe = make(map[piece]struct{})
	}
	for len(b) >= pieceLen {
		if len(fp.wipe) >= maxWipePerFlow {
			fp.capped = true
			return
		}
		fp.wipe[piece(b[:pieceLen])] = struct{}{}
		b = b[pieceLen:]
	}
	fp.addSecret(secret{b: bytes.Clone(b), fill: '*', dir: dir})
}

// scratch returns s in the plan's line buffer, which the next call
// reuses.
func (p *Plan) scratch(s string) []byte {
	p.line = append(p.line[:0], s...)
	return p.line
}
