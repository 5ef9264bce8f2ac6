package tls

import (
	"errors"

	"golang.org/x/crypto/cryptobyte"
)

// Handshake message types (RFC 8446, section 4) the decoder acts on.
const (
	hsClientHello         uint8 = 1
	hsServerHello         uint8 = 2
	hsNewSessionTicket    uint8 = 4
	hsEndOfEarlyData      uint8 = 5
	hsEncryptedExtensions uint8 = 8
	hsFinished            uint8 = 20
	hsKeyUpdate           uint8 = 24
)

// Extension numbers (IANA "TLS ExtensionType Values").
const (
	extServerName        uint16 = 0
	extALPN              uint16 = 16
	extEncryptThenMAC    uint16 = 22
	extExtendedMasterSec uint16 = 23
	extEarlyData         uint16 = 42
	extSupportedVersions uint16 = 43
	extKeyShare          uint16 = 51
)

// Bounds on what a hello may make the decoder keep.
const (
	maxALPN    = 16  // protocols kept from a client's ALPN list
	maxALPNLen = 255 // one protocol name (its length is one byte anyway)
	maxGroups  = 16  // key share groups kept
)

// helloRetryRandom is the ServerHello.random of a HelloRetryRequest:
// SHA-256 of "HelloRetryRequest" (RFC 8446, section 4.1.3).
const helloRetryRandom = "\xcf\x21\xad\x74\xe5\x9a\x61\x11\xbe\x1d\x8c\x02\x1e\x65\xb8\x91" +
	"\xc2\xa2\x11\x16\x7a\xbb\x8c\x5e\x07\x9e\x09\xe2\xc8\xa8\x33\x9c"

var errMalformed = errors.New("malformed handshake message")

// clientHello is what the decoder keeps of a ClientHello.
type clientHello struct {
	legacyVersion uint16
	random        []byte // 32 bytes
	sessionID     []byte
	suites        []uint16
	sni           string
	alpn          []string
	versions      []uint16 // supported_versions, in client order
	groups        []uint16 // key_share groups
	earlyData     bool
}

// serverHello is what the decoder keeps of a ServerHello.
type serverHello struct {
	legacyVersion uint16
	random        []byte
	sessionID     []byte
	suite         uint16
	version       uint16 // supported_versions, 0 when absent
	alpn          string
	encThenMAC    bool
	extMaster     bool
	retry         bool // a HelloRetryRequest
}

// negotiated returns the version the connection uses.
func (s *serverHello) negotiated() uint16 {
	if s.version != 0 {
		return s.version
	}
	return s.legacyVersion
}

// parseClientHello parses a ClientHello body (after the 4-byte handshake
// header). Unknown extensions are skipped; malformed known ones fail the
// whole message, since a half-parsed hello could name the wrong server.
func parseClientHello(body []byte) (*clientHello, error) {
	s := cryptobyte.String(body)
	ch := &clientHello{}
	var random, sid, suites, comp cryptobyte.String
	if !s.ReadUint16(&ch.legacyVersion) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16LengthPrefixed(&suites) || len(suites)%2 != 0 ||
		!s.ReadUint8LengthPrefixed(&comp) {
		return nil, errMalformed
	}
	ch.random = append([]byte(nil), random...)
	ch.sessionID = append([]byte(nil), sid...)
	ch.suites = make([]uint16, 0, len(suites)/2)
	for !suites.Empty() {
		var id uint16
		suites.ReadUint16(&id)
		ch.suites = append(ch.suites, id)
	}
	if s.Empty() {
		return ch, nil // SSL 3.0 / early TLS hellos may have no extensions
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return nil, errMalformed
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, errMalformed
		}
		if err := ch.extension(typ, data); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

func (ch *clientHello) extension(typ uint16, data cryptobyte.String) error {
	switch typ {
	case extServerName:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) {
			return errMalformed
		}
		for !list.Empty() {
			var nameType uint8
			var name cryptobyte.String
			if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) {
				return errMalformed
			}
			if nameType == 0 && ch.sni == "" {
				ch.sni = string(name)
			}
		}
	case extALPN:
		list, err := readALPN(data)
		if err != nil {
			return err
		}
		ch.alpn = list
	case extSupportedVersions:
		var list cryptobyte.String
		if !data.ReadUint8LengthPrefixed(&list) || len(list)%2 != 0 {
			return errMalformed
		}
		for !list.Empty() {
			var v uint16
			list.ReadUint16(&v)
			ch.versions = append(ch.versions, v)
		}
	case extKeyShare:
		var list cryptobyte.String
		if !data.ReadUint16LengthPrefixed(&list) {
			return errMalformed
		}
		for !list.Empty() {
			var group uint16
			var key cryptobyte.String
			if !list.ReadUint16(&group) || !list.ReadUint16LengthPrefixed(&key) {
				return errMalformed
			}
			if len(ch.groups) < maxGroups {
				ch.groups = append(ch.groups, group)
			}
		}
	case extEarlyData:
		ch.earlyData = true
	}
	return nil
}

// readALPN parses a ProtocolNameList.
func readALPN(data cryptobyte.String) ([]string, error) {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) {
		return nil, errMalformed
	}
	var out []string
	for !list.Empty() {
		var p cryptobyte.String
		if !list.ReadUint8LengthPrefixed(&p) || len(p) == 0 {
			return nil, errMalformed
		}
		if len(out) < maxALPN {
			out = append(out, string(p))
		}
	}
	return out, nil
}

// parseServerHello parses a ServerHello body, which may be a
// HelloRetryRequest (RFC 8446, section 4.1.3).
func parseServerHello(body []byte) (*serverHello, error) {
	s := cryptobyte.String(body)
	sh := &serverHello{}
	var random, sid cryptobyte.String
	var comp uint8
	if !s.ReadUint16(&sh.legacyVersion) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16(&sh.suite) || !s.ReadUint8(&comp) {
		return nil, errMalformed
	}
	sh.random = append([]byte(nil), random...)
	sh.sessionID = append([]byte(nil), sid...)
	sh.retry = string(random) == helloRetryRandom
	if s.Empty() {
		return sh, nil
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return nil, errMalformed
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, errMalformed
		}
		switch typ {
		case extSupportedVersions:
			if !data.ReadUint16(&sh.version) {
				return nil, errMalformed
			}
		case extALPN:
			list, err := readALPN(data)
			if err != nil || len(list) != 1 {
				return nil, errMalformed
			}
			sh.alpn = list[0]
		case extEncryptThenMAC:
			sh.encThenMAC = true
		case extExtendedMasterSec:
			sh.extMaster = true
		}
	}
	return sh, nil
}

// parseEncryptedExtensions returns the ALPN protocol a TLS 1.3 server
// selected ("" when none), from its EncryptedExtensions body.
func parseEncryptedExtensions(body []byte) (string, error) {
	s := cryptobyte.String(body)
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return "", errMalformed
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return "", errMalformed
		}
		if typ == extALPN {
			list, err := readALPN(data)
			if err != nil || len(list) != 1 {
				return "", errMalformed
			}
			return list[0], nil
		}
	}
	return "", nil
}
