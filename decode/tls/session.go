package tls

import (
	"fmt"
	"time"

	"github.com/tapview/tapview/decode/tls/keylog"
)

// maxEarlySkip bounds how many TLS 1.3 client records that fail with the
// handshake key are taken for 0-RTT early data (which needs other keys)
// before the failure counts as wrong keys.
const maxEarlySkip = 64

// checkKeys retries a connection waiting for its keys when the key log
// changed since the last look.
func (h *handler) checkKeys() {
	if h.keys == keysWaiting && h.p.cfg.Keys.Generation() != h.keyGen {
		h.tryKeys()
	}
}

// tryKeys looks the connection's secrets up once the ClientHello and
// ServerHello are known, installs the ciphers and replays what waited.
func (h *handler) tryKeys() {
	if h.keys == keysReady || h.keys == keysNever || h.sh == nil {
		return
	}
	store := h.p.cfg.Keys
	if store == nil || h.ch == nil || h.suite == nil || h.suite.bulk == bulkNone ||
		h.version < 0x0301 || h.version > 0x0304 || h.suite.tls13 != (h.version == 0x0304) {
		if store != nil && h.ch != nil {
			h.p.stats.unsupported.Add(1)
			if _, ok := store.Lookup(h.ch.random); ok {
				// The user gave keys: say why they are not used.
				h.c.Note(fmt.Sprintf("tls: %s with %s is not decrypted", h.info.Version, h.info.Cipher))
			}
		}
		h.keys = keysNever
		h.dropPending()
		return
	}
	h.keyGen = store.Generation()
	k, ok := store.Lookup(h.ch.random)
	v13 := h.version == 0x0304
	if !v13 && k.MasterSecret == nil {
		if ms := h.rsaMaster(store); ms != nil {
			k.MasterSecret, ok = ms, true
			// Kept as the CLIENT_RANDOM line it amounts to, so an export
			// embeds this connection's keys like any other's.
			store.AddLine(fmt.Appendf(nil, "%s %x %x", keylog.ClientRandom, h.ch.random, ms))
		}
	}
	switch {
	case !ok,
		!v13 && k.MasterSecret == nil,
		// TLS 1.3 needs both application secrets; the handshake ones
		// only reveal EncryptedExtensions (without them the first
		// application record is found by trial). A live key log read
		// between two of its lines waits for the rest.
		v13 && (k.ClientTraffic0 == nil || k.ServerTraffic0 == nil):
		h.keys = keysWaiting
		return
	}
	h.secrets = k
	h.keys = keysReady
	if v13 {
		for _, s := range h.sides {
			h.installHandshake13(s)
		}
	} else {
		h.c12[0], h.c12[1] = keyBlock12(h.version, h.suite, k.MasterSecret, h.ch.random, h.sh.random)
		for _, s := range h.sides {
			if s.encrypted {
				h.installCipher12(s)
			}
		}
	}
	h.replay()
}

// installCipher12 sets up a TLS 1.0-1.2 direction after its
// ChangeCipherSpec, when the key block is known.
func (h *handler) installCipher12(s *side) {
	if h.keys != keysReady || s.cipher != nil {
		return
	}
	etm := h.sh != nil && h.sh.encThenMAC
	c, err := newRecordCipher(h.suite, h.version, h.c12[s.dir], etm)
	if err != nil {
		h.keys = keysNever
		h.c.Note("tls: " + err.Error())
		return
	}
	s.cipher = c
}

// installHandshake13 sets up a TLS 1.3 direction with its handshake
// traffic secret, or, when the key log has only application secrets,
// prepares to find the first application record by trial.
func (h *handler) installHandshake13(s *side) {
	secret := h.secrets.ClientHandshake
	if s.dir == 1 {
		secret = h.secrets.ServerHandshake
	}
	if s.phase == phaseApp {
		return
	}
	if h.enterEarly(s) {
		return
	}
	if secret == nil {
		s.appOnly = true
		return
	}
	h.setSecret13(s, secret)
}

// enterApp13 switches a TLS 1.3 direction to its application traffic
// secret after its Finished.
func (h *handler) enterApp13(s *side) {
	s.phase = phaseApp
	s.appOnly = false
	secret := h.secrets.ClientTraffic0
	if s.dir == 1 {
		secret = h.secrets.ServerTraffic0
	}
	if h.keys != keysReady || secret == nil {
		s.cipher = nil
		if h.keys == keysReady {
			h.decryptFailed(s, fmt.Errorf("no application traffic secret"))
		}
		return
	}
	h.setSecret13(s, secret)
}

// keyUpdate13 moves a direction to its next traffic secret (RFC 8446,
// section 4.6.3). The update applies to the records after this one.
func (h *handler) keyUpdate13(s *side) {
	if s.secret == nil {
		return
	}
	next, err := nextSecret13(h.suite, s.secret)
	if err != nil {
		h.decryptFailed(s, err)
		return
	}
	h.p.stats.keyUpdates.Add(1)
	h.setSecret13(s, next)
}

func (h *handler) setSecret13(s *side, secret []byte) {
	k, err := trafficKeys13(h.suite, secret)
	if err == nil {
		s.cipher, err = newRecordCipher(h.suite, h.version, k, false)
	}
	if err != nil {
		s.cipher = nil
		h.decryptFailed(s, err)
		return
	}
	s.secret = secret
	s.seq = 0
}

// protected handles a record under record protection: decrypted when the
// keys are there, kept (bounded) while they may still come, skipped
// otherwise.
func (h *handler) protected(s *side, typ uint8, version uint16, payload []byte, ts time.Time) {
	if h.keys == keysUnknown || h.keys == keysWaiting {
		h.hold(s, typ, version, payload, ts)
		return
	}
	if payload == nil { // a record a capture gap cut, kept in order while keys were missing
		if s.cipher != nil {
			s.seq++
		}
		return
	}
	if s.failed {
		return
	}
	if s.appOnly {
		h.trialApp(s, typ, version, payload, ts)
		return
	}
	if s.cipher == nil {
		return
	}
	plain, inner, err := s.cipher.open(h.buf, s.seq, typ, version, payload)
	if err != nil && s.phase == phaseEarly {
		// Not early data: the server refused 0-RTT, or the data ended
		// without an EndOfEarlyData seen. The handshake key follows.
		h.leaveEarly(s)
		h.protected(s, typ, version, payload, ts)
		return
	}
	if err != nil {
		if h.version == 0x0304 && s.dir == 0 && s.phase == phaseHandshake && h.ch.earlyData && s.skipped < maxEarlySkip {
			s.skipped++ // 0-RTT data under the early traffic secret
			h.p.stats.earlySkipped.Add(1)
			return
		}
		h.decryptFailed(s, err)
		return
	}
	h.buf = plain[:0]
	s.seq++
	h.plaintext(s, inner, plain, ts)
}

// trialApp finds the first TLS 1.3 application record of a direction
// whose handshake secret is unknown: handshake records fail to open with
// the application key and are skipped.
func (h *handler) trialApp(s *side, typ uint8, version uint16, payload []byte, ts time.Time) {
	secret := h.secrets.ClientTraffic0
	if s.dir == 1 {
		secret = h.secrets.ServerTraffic0
	}
	if secret == nil {
		return
	}
	if s.cipher == nil || s.secret == nil {
		h.setSecret13(s, secret)
		if s.cipher == nil {
			return
		}
	}
	plain, inner, err := s.cipher.open(h.buf, 0, typ, version, payload)
	if err != nil {
		return
	}
	h.buf = plain[:0]
	s.appOnly = false
	s.phase = phaseApp
	s.seq = 1
	h.plaintext(s, inner, plain, ts)
}

// plaintext dispatches the content of a decrypted record.
func (h *handler) plaintext(s *side, typ uint8, plain []byte, ts time.Time) {
	h.p.stats.records.Add(1)
	if !h.info.Decrypted {
		h.p.stats.decrypted.Add(1)
		h.info.Decrypted = true
		h.publishInfo()
	}
	switch typ {
	case ctApplicationData:
		if len(plain) > 0 {
			h.in.data(s.dir, plain, ts)
		}
	case ctHandshake:
		h.handshakeBytes(s, plain, ts)
	case ctAlert:
		h.alert(s, plain)
	}
}

// decryptFailed stops decrypting a direction: wrong keys or a damaged
// record. Earlier plaintext stays; the inner parser sees a gap.
func (h *handler) decryptFailed(s *side, err error) {
	if s.failed {
		return
	}
	s.failed = true
	s.cipher = nil
	h.p.stats.failures.Add(1)
	h.c.Note(fmt.Sprintf("tls: decryption failed at record %d (%s): %v", s.records, s.dir, err))
	h.in.gap(s.dir, h.lastTS)
}

// hold keeps a protected record until the keys arrive, within the
// connection's budget; past it records are only counted, so that the
// sequence numbers stay right when decryption starts.
func (h *handler) hold(s *side, typ uint8, version uint16, payload []byte, ts time.Time) {
	if h.p.cfg.Keys == nil {
		return
	}
	if s.dropped > 0 || h.pendingBytes+len(payload) > h.p.cfg.MaxPending {
		s.dropped++
		return
	}
	var kept []byte
	if payload != nil {
		kept = append(make([]byte, 0, len(payload)), payload...)
	}
	h.pending = append(h.pending, pendingRec{s: s, typ: typ, version: version, payload: kept, ts: ts})
	h.pendingBytes += len(payload)
}

// pendingGapCost is what a gap marker counts against the pending budget,
// so a stream of gaps cannot grow the queue without limit.
const pendingGapCost = 64

// holdGap queues a gap marker behind the records waiting for keys.
func (h *handler) holdGap(s *side, ts time.Time) {
	if h.p.cfg.Keys == nil || s.dropped > 0 || h.pendingBytes+pendingGapCost > h.p.cfg.MaxPending {
		return // the records after it are dropped too, and replay reports that gap
	}
	h.pending = append(h.pending, pendingRec{s: s, gap: true, ts: ts})
	h.pendingBytes += pendingGapCost
}

// replay decrypts the records that waited for the keys, in arrival
// order, then accounts for the ones that did not fit.
func (h *handler) replay() {
	pending := h.pending
	h.pending, h.pendingBytes = nil, 0
	for _, r := range pending {
		if r.gap {
			h.in.gap(r.s.dir, r.ts)
			continue
		}
		h.protected(r.s, r.typ, r.version, r.payload, r.ts)
	}
	for _, s := range h.sides {
		if s.dropped == 0 {
			continue
		}
		h.c.Note(fmt.Sprintf("tls: %d records (%s) arrived before their keys and were not kept", s.dropped, s.dir))
		s.seq += uint64(s.dropped)
		s.dropped = 0
		h.in.gap(s.dir, h.lastTS)
	}
}

func (h *handler) dropPending() {
	h.pending, h.pendingBytes = nil, 0
	for _, s := range h.sides {
		s.dropped = 0
	}
}
