package tls

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha512"
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/tapview/tapview/decode"
)

// This file builds synthetic TLS sessions for tests, fuzz seeds and
// benchmarks: real record protection (sealed with the same key schedule
// the RFC 8448 test checks) around handshake messages whose signatures
// and Finished MACs are dummies, since the decoder never verifies them.

// sealer protects the records of one direction.
type sealer struct {
	suite  *suite
	v13    bool
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
	secret []byte
}

func newAEAD(s *suite, key []byte) cipher.AEAD {
	var a cipher.AEAD
	var err error
	if s.bulk == bulkChaCha {
		a, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			a, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		panic(err)
	}
	return a
}

func newSealer13(s *suite, secret []byte) *sealer {
	w := &sealer{suite: s, v13: true}
	w.rekey(secret)
	return w
}

func (w *sealer) rekey(secret []byte) {
	k, err := trafficKeys13(w.suite, secret)
	if err != nil {
		panic(err)
	}
	w.aead, w.iv, w.seq, w.secret = newAEAD(w.suite, k.key), k.iv, 0, secret
}

// update moves to the next TLS 1.3 traffic secret.
func (w *sealer) update() {
	next, err := nextSecret13(w.suite, w.secret)
	if err != nil {
		panic(err)
	}
	w.rekey(next)
}

// seal returns one protected record carrying content of type typ.
func (w *sealer) seal(typ uint8, content []byte) []byte {
	nonce := make([]byte, 12)
	if w.v13 {
		inner := append(append([]byte(nil), content...), typ)
		hdr := []byte{ctApplicationData, 3, 3, 0, 0}
		binary.BigEndian.PutUint16(hdr[3:], uint16(len(inner)+tagLen))
		xorNonce(nonce, w.iv, w.seq)
		w.seq++
		return w.aead.Seal(hdr, nonce, inner, hdr)
	}
	aad := make([]byte, 13)
	binary.BigEndian.PutUint64(aad, w.seq)
	aad[8] = typ
	binary.BigEndian.PutUint16(aad[9:], 0x0303)
	binary.BigEndian.PutUint16(aad[11:], uint16(len(content)))
	var out []byte
	if w.suite.bulk == bulkGCM {
		copy(nonce, w.iv)
		binary.BigEndian.PutUint64(nonce[4:], w.seq)
		out = append([]byte{typ, 3, 3, 0, 0}, nonce[4:]...)
	} else {
		xorNonce(nonce, w.iv, w.seq)
		out = []byte{typ, 3, 3, 0, 0}
	}
	w.seq++
	out = w.aead.Seal(out, nonce, content, aad)
	binary.BigEndian.PutUint16(out[3:], uint16(len(out)-recordHeaderLen))
	return out
}

// plainRecord frames content as an unprotected record.
func plainRecord(typ uint8, version uint16, content []byte) []byte {
	r := []byte{typ, byte(version >> 8), byte(version), byte(len(content) >> 8), byte(len(content))}
	return append(r, content...)
}

// hsMsg frames a handshake message.
func hsMsg(typ uint8, body []byte) []byte {
	n := len(body)
	return append([]byte{typ, byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

// u16 and vec helpers build TLS vectors.
func u16(v int) []byte { return []byte{byte(v >> 8), byte(v)} }
func vec8(b []byte) []byte {
	return append([]byte{byte(len(b))}, b...)
}
func vec16(b []byte) []byte { return append(u16(len(b)), b...) }
func ext(typ int, data []byte) []byte {
	return append(u16(typ), vec16(data)...)
}

// buildClientHello returns a ClientHello body offering suites, with SNI,
// ALPN and, for TLS 1.3, supported_versions and an x25519 key share.
func buildClientHello(random []byte, sni string, alpn []string, v13 bool, suites ...uint16) []byte {
	b := append(u16(0x0303), random...)
	b = append(b, vec8(make([]byte, 32))...)
	var cs []byte
	for _, s := range suites {
		cs = append(cs, u16(int(s))...)
	}
	b = append(b, vec16(cs)...)
	b = append(b, 1, 0)
	var exts []byte
	if sni != "" {
		exts = append(exts, ext(0, vec16(append([]byte{0}, vec16([]byte(sni))...)))...)
	}
	if len(alpn) > 0 {
		var l []byte
		for _, p := range alpn {
			l = append(l, vec8([]byte(p))...)
		}
		exts = append(exts, ext(16, vec16(l))...)
	}
	if v13 {
		exts = append(exts, ext(43, vec8(append(u16(0x0304), u16(0x0303)...)))...)
		exts = append(exts, ext(51, vec16(append(append(u16(29), u16(32)...), make([]byte, 32)...)))...)
	}
	return append(b, vec16(exts)...)
}

// buildServerHello returns a ServerHello body.
func buildServerHello(random []byte, suite uint16, v13 bool, alpn string) []byte {
	b := append(u16(0x0303), random...)
	b = append(b, vec8(make([]byte, 32))...)
	b = append(b, u16(int(suite))...)
	b = append(b, 0)
	var exts []byte
	if v13 {
		exts = append(exts, ext(43, u16(0x0304))...)
		exts = append(exts, ext(51, append(append(u16(29), u16(32)...), make([]byte, 32)...))...)
	}
	if alpn != "" {
		exts = append(exts, ext(16, vec16(vec8([]byte(alpn))))...)
	}
	return append(b, vec16(exts)...)
}

// session is a synthetic TLS session: its events and its key log.
type session struct {
	suite  *suite
	random []byte
	events []event
	keyLog []byte
	w      [2]*sealer
}

// detBytes returns n deterministic bytes derived from label.
func detBytes(label string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		h := sha512.Sum512([]byte(fmt.Sprintf("%s/%d", label, i)))
		out = append(out, h[:]...)
	}
	return out[:n]
}

// newSession13 builds a TLS 1.3 handshake with suite and the ALPN the
// server selects in EncryptedExtensions ("" for none).
func newSession13(suiteID uint16, alpn string) *session {
	s := &session{suite: suiteByID(suiteID), random: detBytes("client random", 32)}
	hl := s.suite.prf.Size()
	chs, shs := detBytes("c hs", hl), detBytes("s hs", hl)
	cap0, sap0 := detBytes("c ap", hl), detBytes("s ap", hl)
	r := hexs(s.random)
	s.keyLog = []byte(fmt.Sprintf("CLIENT_HANDSHAKE_TRAFFIC_SECRET %s %x\nSERVER_HANDSHAKE_TRAFFIC_SECRET %s %x\nCLIENT_TRAFFIC_SECRET_0 %s %x\nSERVER_TRAFFIC_SECRET_0 %s %x\n", r, chs, r, shs, r, cap0, r, sap0))
	var offer []string
	if alpn != "" {
		offer = []string{alpn, "http/1.1"}
	}
	c2s, s2c := decode.ClientToServer, decode.ServerToClient
	s.add(c2s, plainRecord(ctHandshake, 0x0301, hsMsg(hsClientHello, buildClientHello(s.random, "synth.test", offer, true, suiteID))))
	s.add(s2c, plainRecord(ctHandshake, 0x0303, hsMsg(hsServerHello, buildServerHello(detBytes("server random", 32), suiteID, true, ""))))
	s.add(s2c, plainRecord(ctChangeCipherSpec, 0x0303, []byte{1}))
	sw := newSealer13(s.suite, shs)
	var ee []byte
	if alpn != "" {
		ee = ext(16, vec16(vec8([]byte(alpn))))
	}
	flight := hsMsg(hsEncryptedExtensions, vec16(ee))
	flight = append(flight, hsMsg(11, make([]byte, 300))...) // Certificate (dummy)
	flight = append(flight, hsMsg(15, make([]byte, 72))...)  // CertificateVerify (dummy)
	flight = append(flight, hsMsg(hsFinished, make([]byte, hl))...)
	s.add(s2c, sw.seal(ctHandshake, flight))
	sw.rekey(sap0)
	cw := newSealer13(s.suite, chs)
	s.add(c2s, plainRecord(ctChangeCipherSpec, 0x0303, []byte{1}))
	s.add(c2s, cw.seal(ctHandshake, hsMsg(hsFinished, make([]byte, hl))))
	cw.rekey(cap0)
	s.add(s2c, sw.seal(ctHandshake, hsMsg(hsNewSessionTicket, make([]byte, 40))))
	s.w = [2]*sealer{cw, sw}
	return s
}

// newSession12 builds a TLS 1.2 handshake with an AEAD suite.
func newSession12(suiteID uint16, alpn string) *session {
	s := &session{suite: suiteByID(suiteID), random: detBytes("client random 12", 32)}
	master := detBytes("master", 48)
	s.keyLog = []byte(fmt.Sprintf("CLIENT_RANDOM %s %x\n", hexs(s.random), master))
	srvRandom := detBytes("server random 12", 32)
	c2s, s2c := decode.ClientToServer, decode.ServerToClient
	s.add(c2s, plainRecord(ctHandshake, 0x0301, hsMsg(hsClientHello, buildClientHello(s.random, "synth.test", []string{"h2", "http/1.1"}, false, suiteID))))
	flight := hsMsg(hsServerHello, buildServerHello(srvRandom, suiteID, false, alpn))
	flight = append(flight, hsMsg(11, make([]byte, 900))...) // Certificate (dummy)
	flight = append(flight, hsMsg(14, nil)...)               // ServerHelloDone
	s.add(s2c, plainRecord(ctHandshake, 0x0303, flight))
	ck, sk := keyBlock12(0x0303, s.suite, master, s.random, srvRandom)
	cw := &sealer{suite: s.suite, aead: newAEAD(s.suite, ck.key), iv: ck.iv}
	sw := &sealer{suite: s.suite, aead: newAEAD(s.suite, sk.key), iv: sk.iv}
	s.add(c2s, plainRecord(ctHandshake, 0x0303, hsMsg(16, make([]byte, 33))))
	s.add(c2s, plainRecord(ctChangeCipherSpec, 0x0303, []byte{1}))
	s.add(c2s, cw.seal(ctHandshake, hsMsg(hsFinished, make([]byte, 12))))
	s.add(s2c, plainRecord(ctChangeCipherSpec, 0x0303, []byte{1}))
	s.add(s2c, sw.seal(ctHandshake, hsMsg(hsFinished, make([]byte, 12))))
	s.w = [2]*sealer{cw, sw}
	return s
}

func (s *session) add(dir decode.Direction, rec []byte) {
	s.events = append(s.events, event{dir, rec})
}

// app sends application data from dir in records of at most 16 KiB.
func (s *session) app(dir decode.Direction, data []byte) {
	for len(data) > 0 {
		n := min(len(data), maxPlaintext)
		s.add(dir, s.w[dir].seal(ctApplicationData, data[:n]))
		data = data[n:]
	}
}

// keyUpdate sends a TLS 1.3 KeyUpdate from dir and moves its keys on.
func (s *session) keyUpdate(dir decode.Direction, requested bool) {
	req := byte(0)
	if requested {
		req = 1
	}
	s.add(dir, s.w[dir].seal(ctHandshake, hsMsg(hsKeyUpdate, []byte{req})))
	s.w[dir].update()
}

// alert sends close_notify from dir.
func (s *session) alert(dir decode.Direction) {
	s.add(dir, s.w[dir].seal(ctAlert, []byte{1, 0}))
}
