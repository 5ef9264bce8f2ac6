package streammask

// MySQL login walking bounds.
const (
	// mysqlMaxAuthPacket bounds a login packet held to find its
	// auth-response; a longer one is overwritten whole.
	mysqlMaxAuthPacket = 64 << 10
)

// mysqlGreeting reports a server greeting's start: sequence 0, protocol
// 10 and a version starting with a digit (decode/mysql accepts the same).
func mysqlGreeting(p []byte) int {
	if len(p) < 6 {
		if len(p) >= 4 && p[3] != 0 || len(p) >= 5 && p[4] != 10 {
			return -1
		}
		return 0
	}
	l := int(p[0]) | int(p[1])<<8 | int(p[2])<<16
	if p[3] != 0 || p[4] != 10 || p[5] < '0' || p[5] > '9' || l < 30 || l > 1024 {
		return -1
	}
	return 1
}

// mysqlHandshakeResponse reports a client's HandshakeResponse41 start:
// sequence 1, CLIENT_PROTOCOL_41 and the zero filler after the character
// set (its last 4 bytes, MariaDB's extended capabilities, are not in
// the probe).
func mysqlHandshakeResponse(p []byte) bool {
	if len(p) < probeLen || p[3] != 1 || p[5]&0x02 == 0 {
		return false
	}
	l := int(p[0]) | int(p[1])<<8 | int(p[2])<<16
	if l < 33 || l > mysqlMaxAuthPacket {
		return false
	}
	for _, c := range p[13:probeLen] {
		if c != 0 {
			return false
		}
	}
	return true
}

// decideMySQL is detection's hook: a direction that starts with a server
// greeting is scanned raw, and its peer, the client, is walked by
// mysqlClient; a client direction whose peer already was found follows
// it.
func decideMySQL(sd *side, p []byte, final bool) (l layer, wait bool) {
	if peer := sd.peer(); peer != nil {
		if _, ok := peer.lay.(*mysqlServer); ok {
			return newMySQLClient(sd), false
		}
	}
	if mysqlHandshakeResponse(p) {
		// The client's login seen before the greeting (capture order).
		sd.c.client = sd.idx
		peer := sd.peerOrNew()
		peer.setIfUndecided(&mysqlServer{raw{sd: peer}})
		return newMySQLClient(sd), false
	}
	switch mysqlGreeting(p) {
	case 1:
		peer := sd.peerOrNew()
		sd.c.client = peer.idx
		peer.setIfUndecided(newMySQLClient(peer))
		return &mysqlServer{raw{sd: sd}}, false
	case 0:
		return nil, !final && len(p) < probeLen
	}
	return nil, false
}

// mysqlServer is a MySQL server's direction: scanned raw, and a type of
// its own so the client direction can tell whom it talks to.
type mysqlServer struct{ raw }

// mysqlClient walks a MySQL client's direction through the login: the
// auth-response of the handshake response, and every later login packet
// (auth-switch responses, caching_sha2 full-auth passwords, cleartext
// or RSA-encrypted), are overwritten with '*'. The first command
// (sequence 0) ends the login; from there, and after a gap, the stream
// is only scanned raw with the masker's patterns (which find SQL password
// literals). An SSL request leaves the rest alone: it is TLS.
type mysqlClient struct {
	sd    *side
	raw   raw
	done  bool
	hdr   [4]byte
	nhdr  int
	left  int   // payload bytes of the current packet still to come
	at    int64 // stream offset of the current payload
	body  []byte
	first bool // the next packet is the handshake response
	tls   bool // the client asked for TLS
}

func newMySQLClient(sd *side) *mysqlClient {
	return &mysqlClient{sd: sd, raw: raw{sd: sd}, first: true}
}

func (m *mysqlClient) data(off int64, b []byte) {
	if !m.done {
		// The login's own bytes are walked first, so an SSL request can
		// stop the raw scan of what follows.
		n := m.walk(off, b)
		if m.done && m.tls {
			m.raw.data(off, b[:n])
			m.raw.end()
			m.sd.switchTo(opaque{}, off+int64(n), nil)
			return
		}
	}
	m.raw.data(off, b)
}

// walk frames login packets and returns how many bytes of b belong to
// the login.
func (m *mysqlClient) walk(off int64, b []byte) int {
	n := 0
	for n < len(b) && !m.done {
		if m.nhdr < 4 {
			k := copy(m.hdr[m.nhdr:], b[n:])
			m.nhdr += k
			n += k
			if m.nhdr < 4 {
				break
			}
			if m.hdr[3] == 0 && !m.first {
				m.done = true // a command: the login is over
				break
			}
			m.left = int(m.hdr[0]) | int(m.hdr[1])<<8 | int(m.hdr[2])<<16
			m.at = off + int64(n)
			m.body = m.body[:0]
			if m.left == 0 {
				m.packetDone()
			}
			continue
		}
		k := min(m.left, len(b)-n)
		if len(m.body)+k <= mysqlMaxAuthPacket {
			m.body = append(m.body, b[n:n+k]...)
		}
		m.left -= k
		n += k
		if m.left == 0 {
			m.packetDone()
		}
	}
	return n
}

// packetDone overwrites the secret of a complete login packet.
func (m *mysqlClient) packetDone() {
	size := int64(int(m.hdr[0]) | int(m.hdr[1])<<8 | int(m.hdr[2])<<16)
	m.nhdr = 0
	first := m.first
	m.first = false
	if size == 0 {
		return
	}
	if int64(len(m.body)) < size {
		// Too long to hold: overwrite all of it.
		m.sd.emit(Patch{Off: m.at, Len: size, Kind: KindFill, Byte: '*', Note: "tapview: MySQL login packet too long to read; overwritten"})
		return
	}
	if !first {
		// Auth-switch response or full-auth password: all secret.
		m.sd.emit(Patch{Off: m.at, Len: size, Kind: KindFill, Byte: '*'})
		return
	}
	if size == 32 && m.body[1]&0x08 != 0 {
		// SSL request (CLIENT_SSL): the rest is TLS.
		m.done, m.tls = true, true
		return
	}
	if i, n, ok := mysqlAuthResponse(m.body); ok {
		m.sd.emit(Patch{Off: m.at + int64(i), Len: int64(n), Kind: KindFill, Byte: '*'})
	} else {
		// Unreadable: everything after the fixed part may hold it.
		m.sd.emit(Patch{Off: m.at + min(32, size), Len: max(size-32, 0), Kind: KindFill, Byte: '*'})
	}
}

// mysqlAuthResponse finds the auth-response in a HandshakeResponse41:
// its offset in the payload and length.
func mysqlAuthResponse(b []byte) (at, n int, ok bool) {
	const fixed = 4 + 4 + 1 + 23
	if len(b) < fixed+1 {
		return 0, 0, false
	}
	caps := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	i := fixed
	for i < len(b) && b[i] != 0 {
		i++ // user name
	}
	i++
	if i >= len(b) {
		return 0, 0, false
	}
	switch {
	case caps&(1<<21) != 0: // length-encoded
		c := b[i]
		var l, hdr int
		switch {
		case c < 0xfb:
			l, hdr = int(c), 1
		case c == 0xfc && i+3 <= len(b):
			l, hdr = int(b[i+1])|int(b[i+2])<<8, 3
		case c == 0xfd && i+4 <= len(b):
			l, hdr = int(b[i+1])|int(b[i+2])<<8|int(b[i+3])<<16, 4
		default:
			return 0, 0, false
		}
		at, n = i+hdr, l
	case caps&(1<<15) != 0: // one length byte
		at, n = i+1, int(b[i])
	default: // NUL-terminated
		j := i
		for j < len(b) && b[j] != 0 {
			j++
		}
		at, n = i, j-i
	}
	if at+n > len(b) {
		return 0, 0, false
	}
	return at, n, true
}

func (m *mysqlClient) gap() {
	m.raw.gap()
	m.done = true
}

func (m *mysqlClient) end() { m.raw.end() }
