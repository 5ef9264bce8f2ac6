package tls

import (
	"crypto"
	"fmt"
)

// bulk is how a cipher suite protects records.
type bulk uint8

const (
	bulkNone   bulk = iota // known by name only: not decrypted
	bulkGCM                // AES-GCM
	bulkChaCha             // ChaCha20-Poly1305
	bulkAESCBC             // AES-CBC with HMAC
	bulk3DES               // 3DES-EDE-CBC with HMAC
)

// suite is what the decoder needs to know about one cipher suite: its
// IANA name for display, and for suites it decrypts the record
// protection and the hashes of the key derivation.
type suite struct {
	id     uint16
	name   string
	bulk   bulk
	keyLen int
	mac    crypto.Hash // HMAC hash of CBC suites
	prf    crypto.Hash // TLS 1.2 PRF hash, TLS 1.3 HKDF hash
	tls13  bool
}

// suites (read-only) lists the cipher suites tapview names and, where bulk is set,
// decrypts. Names are the IANA registry's.
var suites = []suite{
	{0x1301, "TLS_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, true},
	{0x1302, "TLS_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, true},
	{0x1303, "TLS_CHACHA20_POLY1305_SHA256", bulkChaCha, 32, 0, crypto.SHA256, true},
	{0x1304, "TLS_AES_128_CCM_SHA256", bulkNone, 16, 0, crypto.SHA256, true},
	{0x1305, "TLS_AES_128_CCM_8_SHA256", bulkNone, 16, 0, crypto.SHA256, true},

	{0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, false},
	{0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, false},
	{0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, false},
	{0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, false},
	{0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, false},
	{0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, false},
	{0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, false},
	{0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, false},
	{0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", bulkChaCha, 32, 0, crypto.SHA256, false},
	{0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", bulkChaCha, 32, 0, crypto.SHA256, false},
	{0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", bulkChaCha, 32, 0, crypto.SHA256, false},

	// Pre-shared key suites (RFC 7905, 5487, 8442): the key log's
	// CLIENT_RANDOM line carries the master secret as for any TLS 1.2
	// suite, so only the record protection matters here.
	{0xccab, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", bulkChaCha, 32, 0, crypto.SHA256, false},
	{0xccac, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", bulkChaCha, 32, 0, crypto.SHA256, false},
	{0xccad, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", bulkChaCha, 32, 0, crypto.SHA256, false},
	{0xccae, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", bulkChaCha, 32, 0, crypto.SHA256, false},
	{0x00a8, "TLS_PSK_WITH_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, false},
	{0x00a9, "TLS_PSK_WITH_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, false},
	{0x00aa, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, false},
	{0x00ab, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, false},
	{0x00ac, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, false},
	{0x00ad, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, false},
	{0xd001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", bulkGCM, 16, 0, crypto.SHA256, false},
	{0xd002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", bulkGCM, 32, 0, crypto.SHA384, false},

	{0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA", bulkAESCBC, 16, crypto.SHA1, crypto.SHA256, false},
	{0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", bulkAESCBC, 32, crypto.SHA1, crypto.SHA256, false},
	{0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256", bulkAESCBC, 16, crypto.SHA256, crypto.SHA256, false},
	{0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256", bulkAESCBC, 32, crypto.SHA256, crypto.SHA256, false},
	{0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", bulkAESCBC, 16, crypto.SHA1, crypto.SHA256, false},
	{0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", bulkAESCBC, 32, crypto.SHA1, crypto.SHA256, false},
	{0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", bulkAESCBC, 16, crypto.SHA256, crypto.SHA256, false},
	{0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", bulkAESCBC, 32, crypto.SHA256, crypto.SHA256, false},
	{0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", bulkAESCBC, 16, crypto.SHA1, crypto.SHA256, false},
	{0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", bulkAESCBC, 32, crypto.SHA1, crypto.SHA256, false},
	{0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", bulkAESCBC, 16, crypto.SHA1, crypto.SHA256, false},
	{0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", bulkAESCBC, 32, crypto.SHA1, crypto.SHA256, false},
	{0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", bulkAESCBC, 16, crypto.SHA256, crypto.SHA256, false},
	{0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", bulkAESCBC, 32, crypto.SHA384, crypto.SHA384, false},
	{0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", bulkAESCBC, 16, crypto.SHA256, crypto.SHA256, false},
	{0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", bulkAESCBC, 32, crypto.SHA384, crypto.SHA384, false},
	{0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", bulk3DES, 24, crypto.SHA1, crypto.SHA256, false},
	{0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", bulk3DES, 24, crypto.SHA1, crypto.SHA256, false},

	{0x0004, "TLS_RSA_WITH_RC4_128_MD5", bulkNone, 16, crypto.MD5, crypto.SHA256, false},
	{0x0005, "TLS_RSA_WITH_RC4_128_SHA", bulkNone, 16, crypto.SHA1, crypto.SHA256, false},
	{0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", bulkNone, 16, crypto.SHA1, crypto.SHA256, false},
	{0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", bulkNone, 16, crypto.SHA1, crypto.SHA256, false},
	{0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", bulkNone, 16, 0, crypto.SHA256, false},
	{0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", bulkNone, 32, 0, crypto.SHA256, false},
	{0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV", bulkNone, 0, 0, 0, false},
	{0x5600, "TLS_FALLBACK_SCSV", bulkNone, 0, 0, 0, false},
}

// suiteByID returns the table entry of a suite, or nil when it is not
// in the table.
func suiteByID(id uint16) *suite {
	for i := range suites {
		if suites[i].id == id {
			return &suites[i]
		}
	}
	return nil
}

// SuiteName returns the IANA name of a cipher suite, or its number in hex
// ("0x00C4") when tapview does not know it, so every handshake has
// something to show.
func SuiteName(id uint16) string {
	if s := suiteByID(id); s != nil {
		return s.name
	}
	return fmt.Sprintf("0x%04X", id)
}

// VersionName names a protocol version as users know it ("TLS 1.3").
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return fmt.Sprintf("0x%04X", v)
}
