package keylog

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// RSA key exchange (TLS 1.0-1.2 without forward secrecy) has no client
// random in its key log line: "RSA <first 8 bytes of the encrypted
// premaster secret> <48-byte premaster secret>", as NSS and Wireshark
// write it. The decoder finds the encrypted premaster in the
// ClientKeyExchange and derives the master secret itself.

// rsaPremasterLen is the length of an RSA premaster secret (RFC 5246,
// 7.4.7.1: client version and 46 random bytes).
const rsaPremasterLen = 48

// parseRSA checks the fields of an RSA line; the 8-byte key travels in
// the first bytes of the random.
func parseRSA(key, premaster []byte) (Label, [32]byte, []byte, lineResult) {
	var r [32]byte
	if len(key) != 16 || !isHex(key) || len(premaster) != 2*rsaPremasterLen || !isHex(premaster) {
		return 0, r, nil, lineBad
	}
	if _, err := hex.Decode(r[:8], key); err != nil {
		return 0, r, nil, lineBad
	}
	pms := make([]byte, rsaPremasterLen)
	if _, err := hex.Decode(pms, premaster); err != nil {
		return 0, r, nil, lineBad
	}
	return 0, r, pms, lineRSA
}

// addRSA stores a premaster secret; the caller holds the lock.
func (k *KeyLog) addRSA(key [8]byte, pms []byte) bool {
	if _, ok := k.rsa[key]; ok {
		return false
	}
	if len(k.rsa)+len(k.entries) >= MaxEntries {
		k.stats.Dropped++
		return false
	}
	k.rsa[key] = pms
	k.stats.Secrets++
	k.stats.RSA++
	k.gen.Add(1)
	return true
}

// LookupRSA returns the premaster secret logged for an RSA-encrypted
// premaster secret (the ClientKeyExchange's encrypted_pre_master_secret;
// its first 8 bytes are the key).
func (k *KeyLog) LookupRSA(encrypted []byte) ([]byte, bool) {
	if k == nil || len(encrypted) < 8 {
		return nil, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	pms, ok := k.rsa[[8]byte(encrypted[:8])]
	return pms, ok
}

// Summary says what the key log held, per label in label order and RSA
// last, e.g. "CLIENT_RANDOM 3, RSA 1"; "" when no secret was stored.
func (s Stats) Summary() string {
	var parts []string
	for l, n := range s.Used {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", Label(l), n))
		}
	}
	if s.RSA > 0 {
		parts = append(parts, fmt.Sprintf("RSA %d", s.RSA))
	}
	return strings.Join(parts, ", ")
}
