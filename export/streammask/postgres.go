package streammask

import (
	"encoding/binary"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/postgres"
)

// pgMaxStartup is the longest untyped startup-phase message (the
// server's own limit).
const pgMaxStartup = 10000

// pgWalk walks one direction of a PostgreSQL connection by its message
// framing. On the client side the payload of every 'p' message
// (PasswordMessage, SASLInitialResponse, SASLResponse) is overwritten
// with '*' whole; on the server side the data of the SCRAM messages
// (AuthenticationSASLContinue and SASLFinal) after their code. The
// framing (type bytes and lengths) stays, so Wireshark still dissects
// the export. Everything is also scanned raw with the masker's patterns
// (SQL password literals, tokens in queries). After an SSLRequest or
// GSSENCRequest answered 'S' or 'G' the rest is encrypted and left
// alone; a framing error leaves the rest to the raw scan.
type pgWalk struct {
	sd      *side
	raw     raw
	client  bool
	untyped bool // client: the next message has no type byte
	start   bool // server: the first byte may answer an encryption request
	hdr     [5]byte
	nhdr    int
	left    int64 // payload bytes of the current message still to come
	code    int   // server 'R': length of the code being read (4), 0 otherwise
	ncode   int
	codeBuf [4]byte
	lost    bool
	opaque  bool
}

func newPGWalk(sd *side, client bool) *pgWalk {
	return &pgWalk{sd: sd, raw: raw{sd: sd}, client: client, untyped: client, start: !client}
}

func (w *pgWalk) data(off int64, b []byte) {
	for len(b) > 0 && !w.opaque {
		if w.lost {
			w.raw.data(off, b)
			return
		}
		n := w.step(off, b)
		if w.opaque {
			return // b[:n] was the start of TLS: not scanned
		}
		w.raw.data(off, b[:n])
		off += int64(n)
		b = b[n:]
	}
}

// step consumes a prefix of b (at stream offset off), or sets opaque
// without consuming when b starts encrypted bytes.
func (w *pgWalk) step(off int64, b []byte) int {
	if w.code > 0 {
		return w.authCode(off, b)
	}
	if w.left > 0 {
		n := int(min(w.left, int64(len(b))))
		w.left -= int64(n)
		return n
	}
	if w.nhdr == 0 && w.start {
		w.start = false
		if c := b[0]; c == 'S' || c == 'N' || c == 'G' {
			// The answer to an encryption request is one byte; a notice
			// ('N') message would continue with a length below 2^30.
			if len(b) < 2 || b[1] >= 0x40 || b[1] == 0x16 {
				if c != 'N' {
					w.opaque = true
					return 0
				}
				return 1
			}
		}
	}
	if w.nhdr == 0 && w.client && w.untyped && b[0] != 0 {
		// An untyped message's length is below 2^24; a TLS record
		// header starts with 0x16.
		if b[0] == 0x16 {
			w.opaque = true
			return 0
		}
		w.lost = true
		return 0
	}
	hlen := 5
	if w.untyped {
		hlen = 4
	}
	k := copy(w.hdr[w.nhdr:hlen], b)
	w.nhdr += k
	if w.nhdr < hlen {
		return k
	}
	w.nhdr = 0
	l := int64(binary.BigEndian.Uint32(w.hdr[hlen-4 : hlen]))
	if l < 4 || l > 1<<30 || w.untyped && l > pgMaxStartup {
		w.lost = true
		return k
	}
	w.left = l - 4
	switch {
	case w.untyped:
		// The code decides: a StartupMessage ends the untyped phase;
		// after an SSLRequest, GSSENCRequest or CancelRequest another
		// untyped message (or TLS) follows.
		if len(b) >= k+4 {
			w.untyped = binary.BigEndian.Uint32(b[k:])>>16 != 3
		} else {
			w.untyped = l == 8 || l == 16 // the code is cut: go by the lengths of the requests
		}
	case w.client && w.hdr[0] == 'p':
		w.sd.emit(Patch{Off: off + int64(k), Len: w.left, Kind: KindFill, Byte: '*'})
	case !w.client && w.hdr[0] == 'R' && w.left > 4:
		w.code, w.ncode = 4, 0
	}
	return k
}

// authCode reads an Authentication message's code: only SASL continue
// (11) and final (12) carry SCRAM data, overwritten after the code.
func (w *pgWalk) authCode(off int64, b []byte) int {
	n := min(w.code-w.ncode, len(b))
	copy(w.codeBuf[w.ncode:], b[:n])
	w.ncode += n
	w.left -= int64(n)
	if w.ncode == w.code {
		w.code = 0
		if c := binary.BigEndian.Uint32(w.codeBuf[:]); c == 11 || c == 12 {
			w.sd.emit(Patch{Off: off + int64(n), Len: w.left, Kind: KindFill, Byte: '*'})
		}
	}
	return n
}

func (w *pgWalk) gap() {
	w.raw.gap()
	w.lost = true
}

func (w *pgWalk) end() { w.raw.end() }

// decidePostgres is detection's hook: when a direction starts with a
// PostgreSQL startup-phase message (StartupMessage, SSLRequest,
// GSSENCRequest, CancelRequest), it and its peer are walked as
// PostgreSQL; wait is set while the probe cannot tell yet.
func decidePostgres(sd *side, p []byte, final bool) (l layer, wait bool) {
	if len(p) == 0 || p[0] != 0 {
		return nil, false
	}
	switch postgres.New().Detect(nil, decode.ClientToServer, p) {
	case decode.Yes:
		sd.c.client = sd.idx
		peer := sd.peerOrNew()
		peer.setIfUndecided(newPGWalk(peer, false))
		return newPGWalk(sd, true), false
	case decode.NeedMore:
		return nil, !final && len(p) < pgMaxStartup
	}
	return nil, false
}
