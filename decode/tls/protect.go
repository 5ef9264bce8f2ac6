package tls

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// Record content types (RFC 8446, section 5.1).
const (
	ctChangeCipherSpec uint8 = 20
	ctAlert            uint8 = 21
	ctHandshake        uint8 = 22
	ctApplicationData  uint8 = 23
)

// Record size bounds: a record's plaintext is at most 2^14 bytes, its
// ciphertext at most 2^14+2048 (RFC 5246, section 6.2.3).
const (
	recordHeaderLen  = 5
	maxPlaintext     = 1 << 14
	maxCiphertext    = maxPlaintext + 2048
	tagLen           = 16 // GCM and Poly1305 tags
	gcmExplicitNonce = 8
)

var (
	errShort   = errors.New("record too short for its cipher")
	errAuth    = errors.New("record authentication failed")
	errPadding = errors.New("bad CBC padding")
)

// recordCipher removes the protection of one direction's records. It is
// stateless between records except for TLS 1.0's chained CBC IV; the
// caller owns the sequence number so it can try several after a capture
// gap.
type recordCipher struct {
	bulk    bulk
	tls13   bool
	version uint16
	aead    cipher.AEAD
	iv      []byte // GCM salt, ChaCha20/TLS 1.3 nonce mask, TLS 1.0 CBC IV
	block   cipher.Block
	mac     hash.Hash
	macLen  int
	etm     bool // RFC 7366 encrypt-then-MAC
	nonce   [12]byte
	aad     [13]byte
}

// newRecordCipher builds the cipher of one direction. etm is only
// meaningful for CBC suites.
func newRecordCipher(s *suite, version uint16, k dirKeys, etm bool) (*recordCipher, error) {
	c := &recordCipher{bulk: s.bulk, tls13: s.tls13, version: version, iv: k.iv, etm: etm}
	var err error
	switch s.bulk {
	case bulkGCM:
		var b cipher.Block
		if b, err = aes.NewCipher(k.key); err == nil {
			c.aead, err = cipher.NewGCM(b)
		}
	case bulkChaCha:
		c.aead, err = chacha20poly1305.New(k.key)
	case bulkAESCBC:
		c.block, err = aes.NewCipher(k.key)
	case bulk3DES:
		c.block, err = des.NewTripleDESCipher(k.key)
	default:
		return nil, fmt.Errorf("cipher suite %s is not decrypted", s.name)
	}
	if err != nil {
		return nil, fmt.Errorf("keys for %s: %w", s.name, err)
	}
	if c.block != nil {
		if version < 0x0301 {
			return nil, fmt.Errorf("%s records are not decrypted", VersionName(version))
		}
		c.mac = hmac.New(newHash(s.mac), k.macKey)
		c.macLen = c.mac.Size()
		if version == 0x0301 {
			c.iv = append([]byte(nil), k.iv...) // chained, so owned
		}
	}
	if (s.bulk == bulkGCM && !s.tls13 && len(k.iv) != 4) || ((s.bulk == bulkChaCha || s.tls13) && len(k.iv) != 12) {
		return nil, fmt.Errorf("keys for %s: bad IV length %d", s.name, len(k.iv))
	}
	return c, nil
}

// open authenticates and decrypts one record payload with sequence
// number seq, appending the plaintext to dst[:0]. For TLS 1.3 the inner
// content type is returned and the padding removed; earlier versions
// return typ. The payload is never modified.
func (c *recordCipher) open(dst []byte, seq uint64, typ uint8, version uint16, payload []byte) ([]byte, uint8, error) {
	if c.aead != nil {
		return c.openAEAD(dst, seq, typ, version, payload)
	}
	return c.openCBC(dst, seq, typ, version, payload)
}

func (c *recordCipher) openAEAD(dst []byte, seq uint64, typ uint8, version uint16, payload []byte) ([]byte, uint8, error) {
	nonce := c.nonce[:]
	var aad []byte
	switch {
	case c.tls13:
		if len(payload) < tagLen+1 {
			return nil, 0, errShort
		}
		xorNonce(nonce, c.iv, seq)
		aad = c.aad[:5]
		aad[0] = typ
		binary.BigEndian.PutUint16(aad[1:], version)
		binary.BigEndian.PutUint16(aad[3:], uint16(len(payload)))
	case c.bulk == bulkGCM:
		if len(payload) < gcmExplicitNonce+tagLen {
			return nil, 0, errShort
		}
		copy(nonce, c.iv)
		copy(nonce[4:], payload[:gcmExplicitNonce])
		payload = payload[gcmExplicitNonce:]
		aad = c.additionalData(seq, typ, version, len(payload)-tagLen)
	default: // ChaCha20-Poly1305, RFC 7905
		if len(payload) < tagLen {
			return nil, 0, errShort
		}
		xorNonce(nonce, c.iv, seq)
		aad = c.additionalData(seq, typ, version, len(payload)-tagLen)
	}
	out, err := c.aead.Open(dst[:0], nonce, payload, aad)
	if err != nil {
		return nil, 0, errAuth
	}
	if !c.tls13 {
		return out, typ, nil
	}
	// TLSInnerPlaintext: content, content type, zero padding.
	i := len(out) - 1
	for i >= 0 && out[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, errors.New("TLS 1.3 record without content type")
	}
	return out[:i], out[i], nil
}

// xorNonce builds the per-record nonce of TLS 1.3 and ChaCha20 suites:
// the IV XOR the sequence number, right-aligned.
func xorNonce(nonce, iv []byte, seq uint64) {
	copy(nonce, iv)
	for i := 0; i < 8; i++ {
		nonce[len(nonce)-1-i] ^= byte(seq >> (8 * i))
	}
}

// additionalData is the TLS 1.2 AEAD and MAC input prefix: sequence
// number, type, version and plaintext length.
func (c *recordCipher) additionalData(seq uint64, typ uint8, version uint16, n int) []byte {
	a := c.aad[:]
	binary.BigEndian.PutUint64(a, seq)
	a[8] = typ
	binary.BigEndian.PutUint16(a[9:], version)
	binary.BigEndian.PutUint16(a[11:], uint16(n))
	return a
}

func (c *recordCipher) openCBC(dst []byte, seq uint64, typ uint8, version uint16, payload []byte) ([]byte, uint8, error) {
	bs := c.block.BlockSize()
	explicit := c.version >= 0x0302
	macd := payload
	if c.etm {
		if len(payload) < c.macLen {
			return nil, 0, errShort
		}
		macd = payload[:len(payload)-c.macLen]
		if !c.checkMAC(seq, typ, version, macd, payload[len(macd):]) {
			return nil, 0, errAuth
		}
		payload = macd
	}
	iv := c.iv
	if explicit {
		if len(payload) < bs {
			return nil, 0, errShort
		}
		iv, payload = payload[:bs], payload[bs:]
	}
	if len(payload) == 0 || len(payload)%bs != 0 {
		return nil, 0, errShort
	}
	out := append(dst[:0], payload...)
	cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(out, out)
	pad := int(out[len(out)-1])
	if pad+1 > len(out) {
		return nil, 0, errPadding
	}
	for _, b := range out[len(out)-1-pad:] {
		if int(b) != pad {
			return nil, 0, errPadding
		}
	}
	out = out[:len(out)-1-pad]
	if !c.etm {
		if len(out) < c.macLen {
			return nil, 0, errShort
		}
		mac := out[len(out)-c.macLen:]
		out = out[:len(out)-c.macLen]
		if !c.checkMAC(seq, typ, version, out, mac) {
			return nil, 0, errAuth
		}
	}
	if !explicit {
		// TLS 1.0: the next record's IV is this record's last block.
		copy(c.iv, payload[len(payload)-bs:])
	}
	return out, typ, nil
}

// checkMAC verifies HMAC(seq, type, version, length, data).
func (c *recordCipher) checkMAC(seq uint64, typ uint8, version uint16, data, mac []byte) bool {
	c.mac.Reset()
	c.mac.Write(c.additionalData(seq, typ, version, len(data)))
	c.mac.Write(data)
	var sum [64]byte
	return hmac.Equal(c.mac.Sum(sum[:0]), mac)
}

// overhead is the least number of payload bytes a record of this cipher
// carries beyond its plaintext, for resynchronisation sanity checks.
func (c *recordCipher) overhead() int {
	switch {
	case c.tls13:
		return tagLen + 1
	case c.bulk == bulkGCM:
		return gcmExplicitNonce + tagLen
	case c.aead != nil:
		return tagLen
	}
	return c.macLen + 1
}
