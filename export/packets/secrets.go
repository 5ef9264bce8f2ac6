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
// the flow's packets: the raw masker's findings in every value that the
// display masker changed (header and trailer values, the request target,
// bodies, framed parts), the HPACK Huffman code of changed HTTP/2 header
// values, and content-encoded bodies that held a secret.
func (p *Plan) collectSecrets(fp *flowPlan, e, me *decode.Exchange) {
	h2 := e.Proto == "h2" || e.Proto == "grpc"
	p.messageSecrets(fp, e.Request, me.Request, h2)
	p.messageSecrets(fp, e.Response, me.Response, h2)
	for i, m := range e.Interim {
		if i < len(me.Interim) {
			p.messageSecrets(fp, m, me.Interim[i], h2)
		}
	}
}

func (p *Plan) messageSecrets(fp *flowPlan, m, mm *decode.Message, h2 bool) {
	if m == nil || mm == nil || m == mm {
		return
	}
	p.headerSecrets(fp, m.Headers, mm.Headers, h2)
	p.headerSecrets(fp, m.Trailers, mm.Trailers, h2)
	if m.Target != mm.Target {
		p.valueSecrets(fp, []byte(m.Target), 0, len(m.Target))
	}
	if len(m.Body) > 0 && !sameBytes(m.Body, mm.Body) {
		if body.NeedsDecoding(m.ContentEncoding) {
			// The secret is inside compressed bytes: no plain value can be
			// found in the packets, so the body goes as a whole.
			p.wipeBody(fp, m.Body)
		} else {
			p.valueSecrets(fp, m.Body, 0, len(m.Body))
		}
	}
	for i, part := range m.Parts {
		if i >= len(mm.Parts) || sameBytes(part.Data, mm.Parts[i].Data) {
			continue
		}
		if part.Compressed {
			p.wipeBody(fp, m.Body)
			continue
		}
		p.valueSecrets(fp, part.Data, 0, len(part.Data))
	}
}

// headerSecrets handles the fields whose masked value differs.
func (p *Plan) headerSecrets(fp *flowPlan, hs, mhs []decode.Header, h2 bool) {
	for i, h := range hs {
		if i >= len(mhs) || mhs[i].Value == h.Value {
			continue
		}
		// The raw masker recognises a header line by its name, so it is
		// given one; only spans inside the value are kept.
		line := make([]byte, 0, len(h.Name)+len(h.Value)+4)
		line = append(append(append(line, h.Name...), ": "...), h.Value...)
		line = append(line, "\r\n"...)
		if !p.valueSecrets(fp, line, len(h.Name)+2, len(h.Name)+2+len(h.Value)) {
			// The display masker saw a secret the raw one does not
			// place: the whole value goes.
			fp.addSecret(secret{b: []byte(h.Value), fill: '*'})
		}
		if h2 && h.Value != "" {
			code := hpack.AppendHuffmanString(nil, h.Value)
			fp.addSecret(secret{b: code, fill: huffmanStar})
		}
	}
}

// valueSecrets runs the raw masker over b and records the overwritten
// runs that lie in b[lo:hi]. It reports whether any run was found.
func (p *Plan) valueSecrets(fp *flowPlan, b []byte, lo, hi int) bool {
	if len(b) == 0 {
		return false
	}
	masked := p.masker.Bytes(b)
	if len(masked) != len(b) || &masked[0] == &b[0] {
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
		fp.addSecret(secret{b: bytes.Clone(b[i:j]), fill: '*'})
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
		if have.fill == s.fill && bytes.Equal(have.b, s.b) {
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
func (p *Plan) wipeBody(fp *flowPlan, b []byte) {
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
	fp.addSecret(secret{b: bytes.Clone(b), fill: '*'})
}

func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return bytes.Equal(a, b)
}
