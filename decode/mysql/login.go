package mysql

import (
	"encoding/binary"
	"strconv"

	"github.com/tapview/tapview/decode"
)

// MariaDB announces its extended capabilities in the greeting's reserved
// bytes when it clears the lowest capability bit (CLIENT_MYSQL).
const capLongPassword = 1

// greeting starts the CONNECT exchange from the server's greeting (or the
// ERR packet a server sends instead of one).
func (h *handler) greeting(p *packet) {
	q := h.newCmd(0)
	q.x.Start = p.first
	q.x.Request.Method = "CONNECT"
	resp := q.resp(p)
	if p.data[0] == 0xff {
		h.errPacket(q, p.data)
		h.finish(q, decode.Complete, "")
		h.phase = phStopped
		return
	}
	r := reader{b: p.data[1:]}
	version := r.cstring()
	connID := r.u32()
	r.n(8) // scramble, first part
	r.u8()
	caps := uint32(r.u16())
	r.u8() // character set
	status := r.u16()
	caps |= uint32(r.u16()) << 16
	authLen := int(r.u8())
	reserved := r.n(10) // MariaDB: extended capabilities in the last 4
	if caps&capLongPassword == 0 && len(reserved) == 10 {
		h.srvExt = binary.LittleEndian.Uint32(reserved[6:])
	}
	var plugin []byte
	if caps&capSecureConnection != 0 {
		r.n(max(13, authLen-8))
	}
	if caps&capPluginAuth != 0 && r.err == nil {
		plugin = r.cstring()
	}
	h.srvCaps = caps
	resp.Headers = append(resp.Headers,
		decode.Header{Name: "Server-Version", Value: printable(version)},
		decode.Header{Name: "Connection-Id", Value: strconv.FormatUint(uint64(connID), 10)},
		decode.Header{Name: "Server-Capabilities", Value: "0x" + strconv.FormatUint(uint64(caps), 16)},
		decode.Header{Name: "Server-Status", Value: "0x" + strconv.FormatUint(uint64(status), 16)})
	if len(plugin) > 0 {
		resp.Headers = append(resp.Headers, decode.Header{Name: "Auth-Plugin", Value: printable(plugin)})
	}
	if r.err != nil {
		h.note("greeting", "server greeting cut short")
	}
	h.login = q
	h.phase = phAuth
	h.c.Publish(q.x)
}

// authClient handles what the client sends during the login: the
// handshake response (or SSL request) first, then auth data, all of which
// is secret.
func (h *handler) authClient(p *packet) {
	q := h.login
	if q == nil {
		return
	}
	req := q.x.Request
	if req.First.IsZero() {
		req.First = p.first
		if len(p.data) == 32 && binary.LittleEndian.Uint32(p.data)&capSSL != 0 {
			h.sslRequest(q, p)
			return
		}
		h.handshakeResponse(q, p)
	} else {
		// Auth-switch response, caching_sha2 public key request or full
		// auth (cleartext or RSA-encrypted password): all secret.
		req.Headers = append(req.Headers, decode.Header{Name: "Auth-Password", Value: hexString(p.data)})
		h.appendReqBody(q, "auth data <password>\n")
	}
	req.Last = p.last
	q.x.End = p.last
}

// handshakeResponse reads the client's HandshakeResponse41.
func (h *handler) handshakeResponse(q *cmd, p *packet) {
	req := q.x.Request
	r := reader{b: p.data}
	caps := r.u32()
	r.u32()           // max packet size
	r.u8()            // character set
	filler := r.n(23) // MariaDB: extended capabilities in the last 4
	if caps&capLongPassword == 0 && len(filler) == 23 {
		h.extCaps = binary.LittleEndian.Uint32(filler[19:]) & h.srvExt
	}
	user := r.cstring()
	var auth []byte
	switch {
	case caps&capPluginAuthLenenc != 0:
		auth, _ = r.lenencBytes()
	case caps&capSecureConnection != 0:
		auth = r.n(int(r.u8()))
	default:
		auth = r.cstring()
	}
	var db, plugin []byte
	if caps&capConnectWithDB != 0 {
		db = r.cstring()
	}
	if caps&capPluginAuth != 0 {
		plugin = r.cstring()
	}
	if r.err != nil {
		h.note("handshake", "handshake response cut short")
	}
	h.caps = caps & h.srvCaps
	h.capsKnown = true
	h.user, h.db = printable(user), printable(db)
	q.x.Query.User, q.x.Query.Database = h.user, h.db
	req.Target = h.db
	req.Headers = append(req.Headers,
		decode.Header{Name: "User", Value: h.user},
		decode.Header{Name: "Database", Value: h.db},
		decode.Header{Name: "Client-Capabilities", Value: "0x" + strconv.FormatUint(uint64(caps), 16)})
	if len(plugin) > 0 {
		req.Headers = append(req.Headers, decode.Header{Name: "Auth-Plugin", Value: printable(plugin)})
	}
	req.Headers = append(req.Headers, decode.Header{Name: "Password", Value: hexString(auth)})
	body := "user " + h.user
	if h.db != "" {
		body += " database " + h.db
	}
	if len(plugin) > 0 {
		body += " plugin " + printable(plugin)
	}
	h.appendReqBody(q, body+" auth-response <password>\n")
	if h.caps&capCompress != 0 {
		h.compress = true
		q.resp(p).Headers = append(q.x.Response.Headers, decode.Header{Name: "Compression", Value: "zlib"})
	}
}

// sslRequest ends plaintext decoding: the rest is TLS, given to decode/tls
// when the decoder has it.
func (h *handler) sslRequest(q *cmd, p *packet) {
	req := q.x.Request
	req.Last = p.last
	req.Headers = append(req.Headers, decode.Header{Name: "Ssl", Value: "requested"},
		decode.Header{Name: "Client-Capabilities", Value: "0x" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(p.data)), 16)})
	h.appendReqBody(q, "SSL request: the connection continues in TLS\n")
	h.login = nil
	h.finish(q, decode.Complete, "")
	h.next = h.c.Handoff("tls")
	if h.next == nil {
		h.stop("the client switched to TLS")
	}
}

// authServer handles the server's side of the login: OK ends it, ERR
// refuses it, auth switch and more-data packets continue it.
func (h *handler) authServer(p *packet) {
	q := h.login
	if q == nil || len(p.data) == 0 {
		return
	}
	resp := q.resp(p)
	resp.Last = p.last
	q.x.End = p.last
	switch p.data[0] {
	case 0x00:
		h.okPacket(q, p.data)
		h.login = nil
		h.finish(q, decode.Complete, "")
		h.phase = phCommand
		if h.compress {
			max := h.lim.MaxDecoded
			h.sides[0].z = &inflater{maxOut: max}
			h.sides[1].z = &inflater{maxOut: max}
		}
	case 0xff:
		h.errPacket(q, p.data)
		h.login = nil
		h.finish(q, decode.Complete, "")
		h.phase = phStopped
	case 0xfe:
		r := reader{b: p.data[1:]}
		plugin := printable(r.cstring())
		resp.Headers = append(resp.Headers, decode.Header{Name: "Auth-Switch", Value: plugin})
		h.appendRespBody(q, "auth switch to "+plugin+"\n")
	case 0x01:
		what := "auth more data"
		if len(p.data) == 2 {
			switch p.data[1] {
			case 3:
				what = "fast auth success"
			case 4:
				what = "full auth required"
			}
		} else if len(p.data) > 1 {
			what = "auth data (" + strconv.Itoa(len(p.data)-1) + " bytes)"
		}
		resp.Headers = append(resp.Headers, decode.Header{Name: "Auth-More-Data", Value: what})
		h.appendRespBody(q, what+"\n")
	default:
		h.note("auth", "unexpected packet during the login")
	}
}
