package tls

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Resynchronisation bounds: how many candidate record headers are tried
// after a gap, and how many sequence numbers each.
const (
	maxResyncCandidates = 16
	maxResyncSeqs       = 256
	resyncBuffer        = 2 * (recordHeaderLen + maxCiphertext)
	// resyncGapBudget and resyncConnBudget bound the bytes trial
	// decryption may process per gap and per connection, so hostile
	// gaps cannot turn the decoder into an AEAD benchmark.
	resyncGapBudget  = 4 << 20
	resyncConnBudget = 32 << 20
)

// gap handles n missing bytes (n < 0: unknown) of side s. When the gap
// falls inside the record being read, the record is lost but the next
// record's position is known; otherwise record boundaries must be found
// again, which only decryption can confirm.
func (h *handler) gap(s *side, n int) {
	if s.resync {
		if n > 0 && s.gapBytes >= 0 {
			s.gapBytes += n
		} else {
			s.gapBytes = -1
		}
		s.rec = s.rec[:0]
		return
	}
	if s.skip > 0 && n >= 0 && n <= s.skip {
		s.skip -= n
		return
	}
	if s.skip > 0 {
		n -= s.skip
		s.skip = 0
	} else if len(s.rec) >= recordHeaderLen && n >= 0 {
		need := recordHeaderLen + int(binary.BigEndian.Uint16(s.rec[3:])) - len(s.rec)
		typ := s.rec[0]
		s.rec = s.rec[:0]
		h.recordLost(s, typ)
		if n < need {
			s.skip = need - n
			return
		}
		n -= need
		if n == 0 {
			return
		}
	}
	s.rec = s.rec[:0]
	if !h.canResync(s) {
		h.lose(s, "")
		return
	}
	s.resync, s.gapBytes, s.tries = true, n, 0
	s.budget = min(resyncGapBudget, h.resyncBudget)
}

// recordLost accounts for a record cut by a gap: its sequence number is
// used up, and a handshake message it carried is gone.
func (h *handler) recordLost(s *side, typ uint8) {
	protected := s.encrypted || (h.version == 0x0304 && typ == ctApplicationData)
	if !protected {
		if typ == ctHandshake {
			s.hs = hsReader{}
			s.hsBroken = true
		}
		return
	}
	switch {
	case h.keys == keysWaiting || h.keys == keysUnknown:
		h.hold(s, typ, 0, nil, h.lastTS)
	case s.cipher != nil:
		s.seq++
		if h.version == 0x0304 && s.phase == phaseHandshake {
			// The lost record may have held the Finished: find the
			// first application record by trial from now on.
			s.appOnly = true
			s.cipher, s.secret = nil, nil
		}
	}
}

// canResync reports whether records of s can be found again after a
// gap: only with keys, by decrypting candidates.
func (h *handler) canResync(s *side) bool {
	if h.keys != keysReady || s.cipher == nil || s.failed || s.appOnly {
		return false
	}
	// TLS 1.0 CBC chains the IV through the lost record.
	return !(s.cipher.block != nil && s.cipher.version <= 0x0301)
}

// resync scans data for a record header whose record decrypts with one
// of the next sequence numbers. It returns the bytes left to frame
// normally (nil while still searching).
func (h *handler) resync(s *side, data []byte, ts time.Time) []byte {
	k := min(len(data), resyncBuffer-len(s.rec))
	s.rec = append(s.rec, data[:k]...)
	data = data[k:]
	buf := s.rec
	for i := 0; i+recordHeaderLen <= len(buf); i++ {
		n, ok := h.plausible(s, buf[i:])
		if !ok {
			continue
		}
		if i+recordHeaderLen+n > len(buf) {
			// The candidate is not complete yet: keep it and wait.
			s.rec = append(s.rec[:0], buf[i:]...)
			if len(data) > 0 && len(s.rec) < resyncBuffer {
				return data
			}
			return nil
		}
		typ, ver := buf[i], binary.BigEndian.Uint16(buf[i+1:])
		if h.tryResync(s, typ, ver, buf[i+recordHeaderLen:i+recordHeaderLen+n], ts) {
			rest := append(append([]byte(nil), buf[i+recordHeaderLen+n:]...), data...)
			s.rec = s.rec[:0]
			s.resync = false
			h.p.stats.resyncs.Add(1)
			return rest
		}
		s.tries++
		if s.tries >= maxResyncCandidates || s.budget < recordHeaderLen+maxCiphertext/16 {
			h.lose(s, fmt.Sprintf("tls: record boundaries lost after a capture gap (%s)", s.dir))
			return nil
		}
	}
	// No candidate: keep only a possible partial header.
	if len(buf) > recordHeaderLen-1 {
		s.rec = append(s.rec[:0], buf[len(buf)-(recordHeaderLen-1):]...)
	}
	if len(data) > 0 {
		return data
	}
	return nil
}

// plausible checks a candidate record header after a gap.
func (h *handler) plausible(s *side, b []byte) (int, bool) {
	typ := b[0]
	if h.version == 0x0304 {
		if typ != ctApplicationData {
			return 0, false
		}
	} else if typ < ctAlert || typ > ctApplicationData {
		return 0, false
	}
	if s.version != 0 && binary.BigEndian.Uint16(b[1:]) != s.version {
		return 0, false
	}
	n := int(binary.BigEndian.Uint16(b[3:]))
	return n, n >= s.cipher.overhead() && n <= maxCiphertext
}

// tryResync tries the sequence numbers the gap may have used up.
func (h *handler) tryResync(s *side, typ uint8, ver uint16, payload []byte, ts time.Time) bool {
	span := maxResyncSeqs
	if s.gapBytes >= 0 {
		span = min(span, s.gapBytes/(recordHeaderLen+s.cipher.overhead())+2)
	}
	try := func(seq uint64) bool {
		if s.budget < len(payload) {
			return false
		}
		s.budget -= len(payload)
		h.resyncBudget -= len(payload)
		plain, inner, err := s.cipher.open(h.buf, seq, typ, ver, payload)
		if err != nil {
			return false
		}
		h.buf = plain[:0]
		s.seq = seq + 1
		h.plaintext(s, inner, plain, ts)
		return true
	}
	if !s.cipher.tls13 && s.cipher.bulk == bulkGCM && len(payload) >= gcmExplicitNonce {
		// Most stacks use the sequence number as the explicit nonce.
		if e := binary.BigEndian.Uint64(payload); e >= s.seq && e-s.seq <= uint64(4*span) && try(e) {
			return true
		}
	}
	for k := 0; k <= span; k++ {
		if try(s.seq + uint64(k)) {
			return true
		}
	}
	return false
}
