package tls

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/tls/keylog"
)

// keyState says whether a connection's records can be decrypted.
type keyState uint8

const (
	keysUnknown keyState = iota // handshake not far enough to know
	keysWaiting                 // decryptable once the key log has the secrets
	keysReady                   // ciphers installed
	keysNever                   // no key store, unsupported suite or version
)

// phase is where a TLS 1.3 direction is in its key schedule.
type phase uint8

const (
	phaseHandshake phase = iota
	phaseApp
	// phaseEarly is a TLS 1.3 client sending 0-RTT data under its early
	// traffic secret, until EndOfEarlyData (early.go).
	phaseEarly
)

// side is the state of one direction of the connection.
type side struct {
	dir decode.Direction
	rec []byte // unfinished record: header and the payload so far

	hs       hsReader // handshake messages of this direction
	hsBroken bool     // a gap cut a handshake message: ignore the rest

	encrypted bool          // TLS 1.2: ChangeCipherSpec seen, records are protected
	cipher    *recordCipher // nil while keys are missing
	seq       uint64
	phase     phase  // TLS 1.3
	secret    []byte // current TLS 1.3 traffic secret
	appOnly   bool   // TLS 1.3 without handshake secrets: find the first application record by trial

	lost     bool // record boundaries are gone: nothing more is read
	resync   bool // looking for the next record after a gap
	skip     int  // bytes of a record cut by a gap still to discard
	gapBytes int  // size of the gap being resynchronised (-1 unknown)
	tries    int  // resynchronisation candidates tried
	budget   int  // trial decryption bytes left for this gap
	version  uint16
	dropped  int // protected records not kept while waiting for keys
	failed   bool
	records  int64
	skipped  int // TLS 1.3 client records skipped as 0-RTT data
	// earlyTried is set once the early traffic secret was installed, so
	// a direction never goes back to it.
	earlyTried bool
}

// pendingRec is a protected record kept until the keys arrive, a record
// a gap cut (payload nil: its sequence number is used up), or a gap
// marker for the inner parser.
type pendingRec struct {
	s       *side
	typ     uint8
	version uint16
	payload []byte
	gap     bool
	ts      time.Time
}

// handler is the TLS state of one connection.
type handler struct {
	p     *Parser
	c     decode.Conn
	sides [2]*side // indexed by decode.Direction

	oriented bool
	ch       *clientHello
	sh       *serverHello
	version  uint16 // negotiated
	suite    *suite
	info     decode.TLSInfo
	shown    decode.TLSInfo // last info given to SetTLS

	keys    keyState
	keyGen  uint64
	secrets keylog.Keys
	c12     [2]dirKeys // TLS 1.2 key block halves, by direction

	tr     transcript // TLS 1.0-1.2 handshake hash, for RSA key log lines (rsa.go)
	encPMS []byte     // RSA-encrypted premaster secret from the ClientKeyExchange

	pending      []pendingRec
	pendingBytes int

	resyncBudget int // trial decryption bytes left for this connection

	in     inner
	buf    []byte    // plaintext scratch, reused
	lastTS time.Time // capture time of the latest data

	missing  bool // keys were looked for and never found
	ended    bool
	endState decode.FlowState
	endTS    time.Time
}

func newHandler(p *Parser, c decode.Conn) *handler {
	h := &handler{p: p, c: c, resyncBudget: resyncConnBudget}
	h.sides[0] = &side{dir: decode.ClientToServer}
	h.sides[1] = &side{dir: decode.ServerToClient}
	h.in.h = h
	return h
}

// Data implements decode.StreamHandler.
func (h *handler) Data(dir decode.Direction, data []byte, ts time.Time) {
	h.lastTS = ts
	h.p.retryLingering(ts)
	h.checkKeys()
	h.feed(h.sides[dir], data, ts)
}

// Gap implements decode.StreamHandler: a gap inside a record costs that
// record; a gap across record boundaries is resynchronised by trial
// decryption when keys are there, and ends parsing of the direction
// otherwise.
func (h *handler) Gap(dir decode.Direction, n int, ts time.Time) {
	s := h.sides[dir]
	if s.lost {
		return
	}
	if h.keys == keysUnknown || h.keys == keysWaiting {
		// The plaintext before the gap is still waiting for its keys:
		// the inner parser learns of the gap in order, on replay.
		h.holdGap(s, ts)
	} else {
		h.in.gap(dir, ts)
	}
	h.gap(s, n)
}

// End implements decode.StreamHandler. A connection still waiting for
// its keys lingers (bounded) while a key log file is watched, so a
// lagging live key log can decrypt it later.
func (h *handler) End(state decode.FlowState, ts time.Time) {
	h.p.retryLingering(ts)
	h.checkKeys()
	h.endState, h.endTS = state, ts
	h.ended = true
	if h.keys == keysWaiting && len(h.pending) > 0 && h.p.cfg.Keys.Watching() {
		h.p.linger.add(h, ts)
		h.publishInfo()
		return
	}
	h.finish()
}

// finish ends the inner parser and publishes the last handshake facts.
func (h *handler) finish() {
	if h.keys == keysWaiting || (h.keys == keysNever && h.missing) {
		h.p.stats.missingKeys.Add(1)
	}
	h.in.end(h.endState, h.endTS)
	h.pending, h.pendingBytes = nil, 0
	h.publishInfo()
}

// giveUpKeys ends a lingering connection whose keys never came: its
// TLSInfo keeps Decrypted false, the visible "missing keys" state.
func (h *handler) giveUpKeys() {
	h.p.stats.lingerExpired.Add(1)
	h.keys = keysNever
	h.missing = true
	h.finish()
}

// feed frames records out of a direction's bytes. Whole records in data
// are handled in place; only a record split across calls is copied.
func (h *handler) feed(s *side, data []byte, ts time.Time) {
	for len(data) > 0 && !s.lost {
		if s.skip > 0 {
			n := min(s.skip, len(data))
			s.skip -= n
			data = data[n:]
			continue
		}
		if s.resync {
			data = h.resync(s, data, ts)
			continue
		}
		if len(s.rec) == 0 && len(data) >= recordHeaderLen {
			n, ok := h.header(s, data)
			if !ok {
				return
			}
			if len(data) >= recordHeaderLen+n {
				h.record(s, data[0], binary.BigEndian.Uint16(data[1:]), data[recordHeaderLen:recordHeaderLen+n], ts)
				data = data[recordHeaderLen+n:]
				continue
			}
		}
		// Accumulate a record split across calls.
		if len(s.rec) < recordHeaderLen {
			k := min(recordHeaderLen-len(s.rec), len(data))
			s.rec = append(s.rec, data[:k]...)
			data = data[k:]
			if len(s.rec) < recordHeaderLen {
				return
			}
		}
		n, ok := h.header(s, s.rec)
		if !ok {
			return
		}
		k := min(recordHeaderLen+n-len(s.rec), len(data))
		s.rec = append(s.rec, data[:k]...)
		data = data[k:]
		if len(s.rec) == recordHeaderLen+n {
			r := s.rec
			s.rec = s.rec[:0]
			h.record(s, r[0], binary.BigEndian.Uint16(r[1:]), r[recordHeaderLen:], ts)
		}
	}
}

// header checks a record header and returns its payload length. A header
// that cannot be TLS means the stream is not (or no longer) TLS: the
// direction is given up with a note.
func (h *handler) header(s *side, b []byte) (int, bool) {
	typ, major, minor := b[0], b[1], b[2]
	n := int(binary.BigEndian.Uint16(b[3:]))
	if typ < ctChangeCipherSpec || typ > 24 || major != 3 || minor > 4 || n > maxCiphertext {
		h.lose(s, fmt.Sprintf("tls: invalid record header %x (%s)", b[:recordHeaderLen], s.dir))
		return 0, false
	}
	return n, true
}

// lose stops parsing a direction.
func (h *handler) lose(s *side, note string) {
	if s.lost {
		return
	}
	s.lost = true
	s.rec = nil
	if note != "" {
		h.c.Note(note)
	}
}

// record handles one complete record of side s. payload is valid only
// during the call.
func (h *handler) record(s *side, typ uint8, version uint16, payload []byte, ts time.Time) {
	s.records++
	if !h.oriented && typ == ctHandshake && len(payload) > 0 {
		s = h.orient(s, payload[0])
	}
	s.version = version
	if s.encrypted || (h.version == 0x0304 && typ == ctApplicationData) {
		h.protected(s, typ, version, payload, ts)
		return
	}
	switch typ {
	case ctHandshake:
		h.handshakeBytes(s, payload, ts)
	case ctChangeCipherSpec:
		if h.version != 0 && h.version < 0x0304 {
			s.encrypted = true
			s.seq = 0
			h.installCipher12(s)
		}
	case ctAlert:
		h.alert(s, payload)
	case ctApplicationData:
		// Before a ServerHello: TLS 1.3 early data (client), kept until
		// the keys are known (early.go), or a flow joined mid-stream,
		// which cannot be decrypted.
		if s.dir == decode.ClientToServer && h.ch != nil && h.ch.earlyData && h.sh == nil {
			h.protected(s, typ, version, payload, ts)
		}
	}
}

// orient makes sure the side sending a ClientHello is the client: the
// transport may have guessed wrong when it missed the TCP handshake.
func (h *handler) orient(s *side, hsType uint8) *side {
	if hsType != hsClientHello && hsType != hsServerHello {
		return s
	}
	h.oriented = true
	wrong := (hsType == hsClientHello) != (s.dir == decode.ClientToServer)
	if !wrong {
		return s
	}
	h.c.SwapDirections()
	h.sides[0], h.sides[1] = h.sides[1], h.sides[0]
	h.sides[0].dir, h.sides[1].dir = decode.ClientToServer, decode.ServerToClient
	return s
}

// handshakeBytes feeds handshake-protocol bytes (plaintext or decrypted)
// to the direction's message reassembly.
func (h *handler) handshakeBytes(s *side, b []byte, ts time.Time) {
	if s.hsBroken {
		return
	}
	if !s.encrypted && s.phase == phaseHandshake && s.cipher == nil {
		h.transcriptBytes(s, b)
	}
	if err := s.hs.feed(b, func(typ uint8, body []byte) { h.handshake(s, typ, body, ts) }); err != nil {
		h.lose(s, fmt.Sprintf("tls: %v (%s)", err, s.dir))
	}
}

// handshake acts on one complete handshake message.
func (h *handler) handshake(s *side, typ uint8, body []byte, ts time.Time) {
	switch {
	case typ == hsClientHello && s.dir == decode.ClientToServer:
		h.clientHello(body)
	case typ == hsServerHello && s.dir == decode.ServerToClient:
		h.serverHello(body)
	case typ == hsEncryptedExtensions && s.dir == decode.ServerToClient && h.version == 0x0304:
		alpn, err := parseEncryptedExtensions(body)
		if err != nil {
			h.c.Note("tls: malformed EncryptedExtensions")
			return
		}
		if alpn != "" {
			h.info.ALPNChosen = alpn
			h.publishInfo()
		}
	case typ == hsEndOfEarlyData && s.dir == decode.ClientToServer && s.phase == phaseEarly:
		h.leaveEarly(s)
	case typ == hsClientKeyExchange && s.dir == decode.ClientToServer:
		h.clientKeyExchange(body)
	case typ == hsFinished && h.version == 0x0304 && s.phase == phaseHandshake:
		h.enterApp13(s)
	case typ == hsKeyUpdate && h.version == 0x0304 && s.phase == phaseApp:
		h.keyUpdate13(s)
	}
}

func (h *handler) clientHello(body []byte) {
	if h.ch != nil {
		return // the second ClientHello after a HelloRetryRequest keeps its random
	}
	ch, err := parseClientHello(body)
	if err != nil {
		h.c.Note("tls: malformed ClientHello")
		return
	}
	h.ch = ch
	h.info.SNI = ch.sni
	h.info.ALPN = ch.alpn
	h.info.ClientRandom = ch.random
	h.publishInfo()
}

func (h *handler) serverHello(body []byte) {
	sh, err := parseServerHello(body)
	if err != nil {
		h.c.Note("tls: malformed ServerHello")
		return
	}
	if sh.retry {
		return // HelloRetryRequest: the real ServerHello follows
	}
	if h.sh != nil {
		return // renegotiation inside the encrypted stream is not followed
	}
	h.sh = sh
	h.p.stats.handshakes.Add(1)
	h.version = sh.negotiated()
	h.suite = suiteByID(sh.suite)
	h.info.Version = VersionName(h.version)
	h.info.Cipher = SuiteName(sh.suite)
	if sh.alpn != "" {
		h.info.ALPNChosen = sh.alpn
	}
	h.publishInfo()
	h.tryKeys()
}

// alert notes fatal alerts; close_notify and warnings are normal life.
func (h *handler) alert(s *side, b []byte) {
	if len(b) < 2 || b[0] != 2 {
		return
	}
	h.c.Note(fmt.Sprintf("tls: fatal alert %s (%s)", alertName(b[1]), s.dir))
}

// publishInfo gives the flow the handshake facts when they changed.
func (h *handler) publishInfo() {
	if infoEqual(&h.info, &h.shown) {
		return
	}
	h.shown = h.info
	h.shown.ALPN = append([]string(nil), h.info.ALPN...)
	info := h.shown
	h.c.SetTLS(&info)
}

func infoEqual(a, b *decode.TLSInfo) bool {
	if a.Version != b.Version || a.SNI != b.SNI || a.ALPNChosen != b.ALPNChosen ||
		a.Cipher != b.Cipher || a.Decrypted != b.Decrypted || len(a.ALPN) != len(b.ALPN) ||
		!bytes.Equal(a.ClientRandom, b.ClientRandom) {
		return false
	}
	for i := range a.ALPN {
		if a.ALPN[i] != b.ALPN[i] {
			return false
		}
	}
	return true
}

// alertName names the alert descriptions users meet (RFC 8446, 6).
func alertName(d uint8) string {
	switch d {
	case 0:
		return "close_notify"
	case 10:
		return "unexpected_message"
	case 20:
		return "bad_record_mac"
	case 22:
		return "record_overflow"
	case 40:
		return "handshake_failure"
	case 42:
		return "bad_certificate"
	case 43:
		return "unsupported_certificate"
	case 44:
		return "certificate_revoked"
	case 45:
		return "certificate_expired"
	case 46:
		return "certificate_unknown"
	case 47:
		return "illegal_parameter"
	case 48:
		return "unknown_ca"
	case 49:
		return "access_denied"
	case 50:
		return "decode_error"
	case 51:
		return "decrypt_error"
	case 70:
		return "protocol_version"
	case 71:
		return "insufficient_security"
	case 80:
		return "internal_error"
	case 86:
		return "inappropriate_fallback"
	case 90:
		return "user_canceled"
	case 109:
		return "missing_extension"
	case 110:
		return "unsupported_extension"
	case 112:
		return "unrecognized_name"
	case 116:
		return "certificate_required"
	case 120:
		return "no_application_protocol"
	}
	return fmt.Sprintf("%d", d)
}
