package tls

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"strings"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/tls/keylog"
)

// RSA key exchange: a key log may hold, instead of the master secret
// (CLIENT_RANDOM), the premaster secret under the first 8 bytes of its
// RSA encryption ("RSA" lines). The decoder then takes the encrypted
// premaster from the ClientKeyExchange and derives the master secret
// itself (RFC 5246 section 8.1), with the extended master secret of RFC
// 7627 when the ServerHello chose it, which needs the hash of the
// handshake up to the ClientKeyExchange.

// hsClientKeyExchange is the handshake type of ClientKeyExchange.
const hsClientKeyExchange uint8 = 16

// transcript hashes a TLS 1.0-1.2 handshake, both directions in arrival
// order, up to and including the ClientKeyExchange: the session hash of
// the extended master secret. It follows message boundaries per direction
// so it stops exactly after that message.
type transcript struct {
	h    [4]hash.Hash // SHA-256, SHA-384, MD5, SHA-1
	hdr  [2][4]byte
	hdrN [2]int
	typ  [2]uint8
	left [2]int
	done bool
	sums [4][]byte
}

// feed hashes handshake bytes of one direction (dir 0 is the client).
func (t *transcript) feed(dir int, b []byte) {
	if t.done {
		return
	}
	if t.h[0] == nil {
		t.h = [4]hash.Hash{sha256.New(), sha512.New384(), md5.New(), sha1.New()}
	}
	for len(b) > 0 && !t.done {
		if t.hdrN[dir] < 4 {
			k := copy(t.hdr[dir][t.hdrN[dir]:], b)
			t.write(b[:k])
			t.hdrN[dir] += k
			b = b[k:]
			if t.hdrN[dir] < 4 {
				return
			}
			h := t.hdr[dir]
			t.typ[dir] = h[0]
			t.left[dir] = int(h[1])<<16 | int(h[2])<<8 | int(h[3])
		}
		k := min(t.left[dir], len(b))
		t.write(b[:k])
		t.left[dir] -= k
		b = b[k:]
		if t.left[dir] == 0 {
			t.hdrN[dir] = 0
			if dir == 0 && t.typ[dir] == hsClientKeyExchange {
				t.done = true
				for i, h := range t.h {
					t.sums[i] = h.Sum(nil)
				}
				t.h = [4]hash.Hash{}
			}
		}
	}
}

func (t *transcript) write(b []byte) {
	for _, h := range t.h {
		h.Write(b)
	}
}

// sessionHash is the extended master secret's session hash for the
// negotiated version and suite, nil before the ClientKeyExchange.
func (t *transcript) sessionHash(version uint16, s *suite) []byte {
	if !t.done {
		return nil
	}
	if version < 0x0303 {
		return append(append([]byte(nil), t.sums[2]...), t.sums[3]...)
	}
	if s.prf.Size() == 48 {
		return t.sums[1]
	}
	return t.sums[0]
}

// rsaKeyExchange reports whether a suite uses plain RSA key transport
// (TLS_RSA_WITH_*), whose ClientKeyExchange is the encrypted premaster.
func rsaKeyExchange(s *suite) bool {
	return s != nil && strings.HasPrefix(s.name, "TLS_RSA_WITH_")
}

// clientKeyExchange keeps the encrypted premaster secret of an RSA
// handshake and tries the keys again: an RSA key log line can be used
// only now.
func (h *handler) clientKeyExchange(body []byte) {
	if !rsaKeyExchange(h.suite) || h.version > 0x0303 {
		return
	}
	enc := body
	if h.version >= 0x0301 && len(body) >= 2 && int(body[0])<<8|int(body[1]) == len(body)-2 {
		enc = body[2:] // TLS: a length-prefixed vector (SSL 3.0 has none)
	}
	if len(enc) < 8 {
		return
	}
	h.encPMS = append([]byte(nil), enc...)
	if h.keys == keysWaiting {
		h.tryKeys()
	}
}

// rsaMaster derives the master secret from a logged RSA premaster
// secret, nil when the key log has none for this handshake.
func (h *handler) rsaMaster(store *keylog.KeyLog) []byte {
	if h.encPMS == nil || h.ch == nil || h.sh == nil {
		return nil
	}
	pms, ok := store.LookupRSA(h.encPMS)
	if !ok {
		return nil
	}
	label, seed := "master secret", append(append([]byte(nil), h.ch.random...), h.sh.random...)
	if h.sh.extMaster {
		label, seed = "extended master secret", h.tr.sessionHash(h.version, h.suite)
		if seed == nil {
			return nil
		}
	}
	if h.version < 0x0303 {
		return prf10(pms, label, seed, 48)
	}
	return prf12(h.suite.prf, pms, label, seed, 48)
}

// transcriptBytes feeds plaintext handshake bytes of a TLS 1.0-1.2
// handshake to the transcript until the ClientKeyExchange.
func (h *handler) transcriptBytes(s *side, b []byte) {
	if h.tr.done || (h.sh != nil && h.version >= 0x0304) {
		return
	}
	dir := 0
	if s.dir == decode.ServerToClient {
		dir = 1
	}
	h.tr.feed(dir, b)
}
