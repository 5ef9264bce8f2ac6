package tls

import (
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
)

// newHash returns the constructor of h for the hashes cipher suites use.
func newHash(h crypto.Hash) func() hash.Hash {
	switch h {
	case crypto.MD5:
		return md5.New
	case crypto.SHA1:
		return sha1.New
	case crypto.SHA384:
		return sha512.New384
	default:
		return sha256.New
	}
}

// pHash is P_hash of RFC 5246, section 5: HMAC iterated over A(i) until
// out is full.
func pHash(out []byte, h func() hash.Hash, secret, seed []byte) {
	mac := hmac.New(h, secret)
	mac.Write(seed)
	a := mac.Sum(nil)
	for len(out) > 0 {
		mac.Reset()
		mac.Write(a)
		mac.Write(seed)
		out = out[copy(out, mac.Sum(nil)):]
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
}

// prf12 is the TLS 1.2 PRF with the suite's hash.
func prf12(h crypto.Hash, secret []byte, label string, seed []byte, n int) []byte {
	out := make([]byte, n)
	pHash(out, newHash(h), secret, append([]byte(label), seed...))
	return out
}

// prf10 is the TLS 1.0 and 1.1 PRF: P_MD5 over the first half of the
// secret XOR P_SHA1 over the second half (RFC 2246, section 5).
func prf10(secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	half := (len(secret) + 1) / 2
	out := make([]byte, n)
	pHash(out, md5.New, secret[:half], ls)
	tmp := make([]byte, n)
	pHash(tmp, sha1.New, secret[len(secret)-half:], ls)
	for i := range out {
		out[i] ^= tmp[i]
	}
	return out
}

// keyBlock12 expands a TLS 1.0-1.2 master secret into the key block
// (RFC 5246, section 6.3): client MAC key, server MAC key, client key,
// server key, client IV, server IV.
func keyBlock12(version uint16, s *suite, master, clientRandom, serverRandom []byte) (client, server dirKeys) {
	macLen := 0
	if s.mac != 0 {
		macLen = s.mac.Size()
	}
	ivLen := fixedIVLen(s, version)
	n := 2*macLen + 2*s.keyLen + 2*ivLen
	seed := append(append([]byte(nil), serverRandom...), clientRandom...)
	var kb []byte
	if version >= 0x0303 {
		kb = prf12(s.prf, master, "key expansion", seed, n)
	} else {
		kb = prf10(master, "key expansion", seed, n)
	}
	take := func(k int) []byte {
		b := kb[:k:k]
		kb = kb[k:]
		return b
	}
	client.macKey, server.macKey = take(macLen), take(macLen)
	client.key, server.key = take(s.keyLen), take(s.keyLen)
	client.iv, server.iv = take(ivLen), take(ivLen)
	return client, server
}

// fixedIVLen is how many IV bytes the key block holds per side: the GCM
// salt, the ChaCha20 nonce mask, or TLS 1.0's first CBC IV.
func fixedIVLen(s *suite, version uint16) int {
	switch s.bulk {
	case bulkGCM:
		return 4
	case bulkChaCha:
		return 12
	case bulkAESCBC:
		if version <= 0x0301 {
			return 16
		}
	case bulk3DES:
		if version <= 0x0301 {
			return 8
		}
	}
	return 0
}

// dirKeys are the keys protecting one direction.
type dirKeys struct {
	key, iv, macKey []byte
}

// expandLabel is HKDF-Expand-Label of RFC 8446, section 7.1.
func expandLabel(h crypto.Hash, secret []byte, label string, context []byte, n int) ([]byte, error) {
	full := "tls13 " + label
	if len(full) > 255 || len(context) > 255 || n > 0xffff {
		return nil, errors.New("hkdf label too long")
	}
	info := make([]byte, 0, 4+len(full)+len(context))
	info = append(info, byte(n>>8), byte(n), byte(len(full)))
	info = append(info, full...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	return hkdf.Expand(newHash(h), secret, string(info), n)
}

// trafficKeys13 derives the record key and IV from a TLS 1.3 traffic
// secret (RFC 8446, section 7.3).
func trafficKeys13(s *suite, secret []byte) (dirKeys, error) {
	key, err := expandLabel(s.prf, secret, "key", nil, s.keyLen)
	if err != nil {
		return dirKeys{}, err
	}
	iv, err := expandLabel(s.prf, secret, "iv", nil, 12)
	if err != nil {
		return dirKeys{}, err
	}
	return dirKeys{key: key, iv: iv}, nil
}

// nextSecret13 is the traffic secret after a KeyUpdate (RFC 8446,
// section 7.2).
func nextSecret13(s *suite, secret []byte) ([]byte, error) {
	return expandLabel(s.prf, secret, "traffic upd", nil, s.prf.Size())
}
