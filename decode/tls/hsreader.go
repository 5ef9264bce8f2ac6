package tls

import "fmt"

// maxKeptHandshake is the largest handshake message body the decoder
// keeps to parse (hellos, EncryptedExtensions, KeyUpdate). Certificates
// and other messages of any size are skipped without being kept.
const maxKeptHandshake = 64 << 10

// hsReader reassembles handshake messages of one direction: a message
// may span records, and a record may hold several messages.
type hsReader struct {
	hdr       [4]byte
	hdrN      int
	typ       uint8
	remaining int // body bytes still to come
	keep      bool
	body      []byte
}

// kept reports whether messages of type t are parsed (and so kept).
func kept(t uint8) bool {
	switch t {
	case hsClientHello, hsServerHello, hsEncryptedExtensions, hsKeyUpdate, hsClientKeyExchange:
		return true
	}
	return false
}

// feed consumes handshake bytes, calling fn for each complete message
// (body nil for messages that are not kept). It fails only when a
// message that must be parsed is too large to keep.
func (r *hsReader) feed(b []byte, fn func(typ uint8, body []byte)) error {
	for {
		if r.hdrN < 4 {
			if len(b) == 0 {
				return nil
			}
			k := copy(r.hdr[r.hdrN:], b)
			r.hdrN += k
			b = b[k:]
			if r.hdrN < 4 {
				return nil
			}
			r.typ = r.hdr[0]
			r.remaining = int(r.hdr[1])<<16 | int(r.hdr[2])<<8 | int(r.hdr[3])
			r.keep = kept(r.typ)
			if r.keep && r.remaining > maxKeptHandshake {
				return fmt.Errorf("handshake message type %d of %d bytes is too large", r.typ, r.remaining)
			}
			r.body = r.body[:0]
		}
		k := min(r.remaining, len(b))
		if r.keep {
			r.body = append(r.body, b[:k]...)
		}
		r.remaining -= k
		b = b[k:]
		if r.remaining > 0 {
			return nil
		}
		r.hdrN = 0
		var body []byte
		if r.keep {
			body = r.body
		}
		fn(r.typ, body)
	}
}
