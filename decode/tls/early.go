package tls

// TLS 1.3 0-RTT (RFC 8446 section 2.3): a client resuming a session may
// send application data right after its ClientHello, protected with the
// client_early_traffic_secret (CLIENT_EARLY_TRAFFIC_SECRET in a key log),
// then EndOfEarlyData under the same key, then switch to its handshake
// traffic secret. The early records carry the first request, so without
// them the request is lost and its response shows as an orphan.

// enterEarly starts the client direction under the early traffic secret
// when the ClientHello offered early data and the key log has the
// secret. It reports whether it did.
func (h *handler) enterEarly(s *side) bool {
	if s.dir != 0 || h.version != 0x0304 || h.ch == nil || !h.ch.earlyData || h.secrets.ClientEarly == nil ||
		s.phase != phaseHandshake || s.earlyTried {
		return false
	}
	s.earlyTried = true
	h.setSecret13(s, h.secrets.ClientEarly)
	if s.cipher == nil {
		return false
	}
	s.phase = phaseEarly
	return true
}

// leaveEarly moves the client direction from its early to its handshake
// traffic secret (after EndOfEarlyData, or when a record does not open
// with the early key: the server refused 0-RTT and the client moved on).
func (h *handler) leaveEarly(s *side) {
	s.phase = phaseHandshake
	secret := h.secrets.ClientHandshake
	if secret == nil {
		s.cipher, s.secret = nil, nil
		s.appOnly = true
		return
	}
	h.setSecret13(s, secret)
}
