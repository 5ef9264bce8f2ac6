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
		peer.setIfUndecided(newMySQLServer(peer))
		return newMySQLClient(sd), false
	}
	switch mysqlGreeting(p) {
	case 1:
		peer := sd.peerOrNew()
		sd.c.client = peer.idx
		peer.setIfUndecided(newMySQLClient(peer))
		return newMySQLServer(sd), false
	case 0:
		return nil, !final && len(p) < probeLen
	}
	return nil, false
}

// mysqlServer is a MySQL server's direction: scanned raw, and a type of
// its own so the client direction can tell whom it talks to. When the
// client asked for compression, the server's packets are framed through
// the login and its OK hands the rest to compressed walking.
type mysqlServer struct {
	raw
	compress bool // set by the client direction's handshake response
	done     bool
	hdr      [4]byte
	nhdr     int
	hdrAt    int64
	left     int
	kind     int // first payload byte of the current packet, -1 before it
}

func newMySQLServer(sd *side) *mysqlServer { return &mysqlServer{raw: raw{sd: sd}, kind: -1} }

func (s *mysqlServer) data(off int64, b []byte) {
	n := 0
	for n < len(b) && !s.done {
		if s.nhdr < 4 {
			if s.nhdr == 0 {
				s.hdrAt = off + int64(n)
			}
			k := copy(s.hdr[s.nhdr:], b[n:])
			s.nhdr += k
			n += k
			if s.nhdr == 4 {
				s.left, s.kind = int(s.hdr[0])|int(s.hdr[1])<<8|int(s.hdr[2])<<16, -1
				if s.left == 0 {
					s.nhdr = 0
				}
			}
			continue
		}
		if s.kind < 0 {
			s.kind = int(b[n])
		}
		k := min(s.left, len(b)-n)
		s.left -= k
		n += k
		if s.left > 0 {
			continue
		}
		s.nhdr = 0
		switch {
		case s.hdr[3] == 0: // the greeting
		case s.kind == 0xff:
			s.done = true // refused: nothing more to frame
		case s.kind == 0x00:
			s.done = true // the login's OK
			if s.compress {
				s.raw.data(off, b[:n])
				s.raw.end()
				s.sd.switchTo(newMySQLZ(s.sd), off+int64(n), b[n:])
				return
			}
		}
	}
	s.raw.data(off, b)
}

func (s *mysqlServer) gap() {
	s.raw.gap()
	s.done = true
}

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
	// compress is set when the handshake response asked for
	// CLIENT_COMPRESS: commands then come in compressed packets.
	compress bool
	hdrAt    int64 // stream offset of hdr[0]
	// caps are the capability flags of the handshake response, which
	// say how COM_CHANGE_USER carries its auth data.
	caps uint32
	// cmd frames the commands after the login on plain connections, to
	// find COM_CHANGE_USER: it carries a new login's secrets (mysqlZ
	// does the same inside the compressed protocol).
	cmd mysqlCommands
}

// mysqlCommands frames client packets after the login. Only a
// COM_CHANGE_USER packet is kept (up to mysqlMaxAuthPacket) and read;
// while its authentication runs (client packets with a sequence number
// other than 0), each client packet is an auth-switch response or a
// full-auth password and is overwritten whole.
type mysqlCommands struct {
	on       bool // framing: the login ended on a plain connection
	lost     bool // a gap: the framing is lost for good
	hdr      [4]byte
	nhdr     int
	left     int
	at       int64 // stream offset of the current payload
	seq      byte
	body     []byte
	keep     bool // the current packet may be COM_CHANGE_USER
	changing bool // a COM_CHANGE_USER's authentication is running
}

func newMySQLClient(sd *side) *mysqlClient {
	return &mysqlClient{sd: sd, raw: raw{sd: sd}, first: true}
}

func (m *mysqlClient) data(off int64, b []byte) {
	if m.done {
		m.commands(off, b)
	} else {
		// The login's own bytes are walked first, so an SSL request can
		// stop the raw scan of what follows.
		n := m.walk(off, b)
		switch {
		case m.done && m.tls:
			m.raw.data(off, b[:n])
			m.raw.end()
			m.sd.switchTo(opaque{}, off+int64(n), nil)
			return
		case m.done && m.compress && m.nhdr == 4:
			// The first command's header starts the compressed framing.
			m.raw.data(off, b[:n])
			m.raw.end()
			m.sd.switchTo(newMySQLZClient(m.sd, m.caps), m.hdrAt, append(m.hdr[:4:4], b[n:]...))
			return
		case m.done:
			m.commands(off+int64(n), b[n:])
		}
	}
	m.raw.data(off, b)
}

// commands feeds the post-login framer, on plain connections whose
// framing is intact.
func (m *mysqlClient) commands(off int64, b []byte) {
	c := &m.cmd
	if !c.on || c.lost || m.tls || m.compress {
		return
	}
	for n := 0; n < len(b); {
		if c.nhdr < 4 {
			k := copy(c.hdr[c.nhdr:], b[n:])
			c.nhdr += k
			n += k
			if c.nhdr == 4 {
				c.start(c.hdr, off+int64(n))
				m.commandStarted()
			}
			continue
		}
		k := min(c.left, len(b)-n)
		if c.keep && len(c.body) == 0 && k > 0 && b[n] != mysqlChangeUser {
			c.keep = false
		}
		if c.keep && len(c.body) < mysqlMaxAuthPacket {
			c.body = append(c.body, b[n:n+min(k, mysqlMaxAuthPacket-len(c.body))]...)
		}
		c.left -= k
		n += k
		if c.left == 0 {
			m.commandDone()
		}
	}
}

// mysqlChangeUser is COM_CHANGE_USER's command byte.
const mysqlChangeUser = 0x11

// start begins a packet whose header is h and payload starts at at.
func (c *mysqlCommands) start(h [4]byte, at int64) {
	c.hdr, c.nhdr = h, 4
	c.left = int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	c.at, c.seq = at, h[3]
	c.body = c.body[:0]
	c.keep = c.seq == 0
}

// commandStarted handles a packet whose header was just read.
func (m *mysqlClient) commandStarted() {
	c := &m.cmd
	if c.seq == 0 {
		c.changing = false
	} else if c.changing && c.left > 0 {
		// Part of COM_CHANGE_USER's authentication: all secret.
		m.sd.emit(Patch{Off: c.at, Len: int64(c.left), Kind: KindFill, Byte: '*'})
	}
	if c.left == 0 {
		m.commandDone()
	}
}

// commandDone overwrites the auth data of a complete COM_CHANGE_USER.
func (m *mysqlClient) commandDone() {
	c := &m.cmd
	c.nhdr = 0
	size := int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
	if !c.keep || len(c.body) == 0 || c.body[0] != mysqlChangeUser {
		return
	}
	c.changing = true
	if len(c.body) < size {
		m.sd.emit(Patch{Off: c.at + 1, Len: int64(size - 1), Kind: KindFill, Byte: '*', Note: "tapview: MySQL COM_CHANGE_USER too long to read; overwritten"})
		return
	}
	if at, n, ok := mysqlChangeUserAuth(c.body, m.caps); ok {
		m.sd.emit(Patch{Off: c.at + int64(at), Len: int64(n), Kind: KindFill, Byte: '*'})
		return
	}
	m.sd.emit(Patch{Off: c.at + 1, Len: int64(size - 1), Kind: KindFill, Byte: '*'})
}

// mysqlChangeUserAuth finds the auth data in a COM_CHANGE_USER payload:
// after the command byte and the NUL-terminated user, a length byte and
// the data with CLIENT_SECURE_CONNECTION (or capabilities not seen), else
// NUL-terminated data.
func mysqlChangeUserAuth(b []byte, caps uint32) (at, n int, ok bool) {
	return mysqlUserAuth(b, 1, false, caps&(1<<15) != 0 || caps == 0)
}

// walk frames login packets and returns how many bytes of b belong to
// the login.
func (m *mysqlClient) walk(off int64, b []byte) int {
	n := 0
	for n < len(b) && !m.done {
		if m.nhdr < 4 {
			if m.nhdr == 0 {
				m.hdrAt = off + int64(n)
			}
			k := copy(m.hdr[m.nhdr:], b[n:])
			m.nhdr += k
			n += k
			if m.nhdr < 4 {
				break
			}
			if m.hdr[3] == 0 && !m.first {
				m.done = true // a command: the login is over
				m.cmd.on = true
				m.cmd.start(m.hdr, off+int64(n))
				m.commandStarted()
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
	if len(m.body) >= 4 {
		m.caps = uint32(m.body[0]) | uint32(m.body[1])<<8 | uint32(m.body[2])<<16 | uint32(m.body[3])<<24
	}
	m.compress = len(m.body) >= 4 && m.body[0]&0x20 != 0 // CLIENT_COMPRESS
	if peer := m.sd.peer(); peer != nil {
		if srv, ok := peer.lay.(*mysqlServer); ok {
			srv.compress = m.compress
		}
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
	return mysqlUserAuth(b, fixed, caps&(1<<21) != 0, caps&(1<<15) != 0)
}

// mysqlUserAuth finds the auth data that follows the NUL-terminated user
// name starting at b[i], the one layout a login and a COM_CHANGE_USER
// share: length-encoded (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA), after
// one length byte (CLIENT_SECURE_CONNECTION), or NUL-terminated.
func mysqlUserAuth(b []byte, i int, lenenc, secure bool) (at, n int, ok bool) {
	for i < len(b) && b[i] != 0 {
		i++ // user name
	}
	i++
	if i >= len(b) {
		return 0, 0, false
	}
	switch {
	case lenenc:
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
	case secure: // one length byte
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
	m.cmd.lost = true
}

func (m *mysqlClient) end() { m.raw.end() }
