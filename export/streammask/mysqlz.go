package streammask

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"io"
)

// mysqlZ walks a direction of the compressed protocol (7-byte headers:
// compressed length, sequence, uncompressed length). Every byte is also
// scanned raw; each zlib-compressed packet is inflated and checked as a
// unit, and one that holds a secret is overwritten with a zlib stream of
// the same length inflating to as many '*'.
//
// On the client's side the packets inside (inflated, or sent as they
// are when the uncompressed length is 0) are framed too, to find a
// COM_CHANGE_USER and the auth-switch responses after it (see
// mysqlInner). Their auth data is overwritten with '*' in a packet sent
// uncompressed; a compressed packet that carries any of it is replaced
// by a zlib stream of the same length that inflates to its bytes up to
// the auth data and '*' from there on, so the packet inside keeps its
// header, command byte and user name and the framing stays intact.
type mysqlZ struct {
	sd   *side
	raw  raw
	hdr  [7]byte
	nhdr int
	left int
	at   int64 // stream offset of the current payload
	u    *unit
	lost bool
	// inner frames the client's packets; nil on the server's side or
	// once its framing is lost.
	inner *mysqlInner
}

func newMySQLZ(sd *side) *mysqlZ { return &mysqlZ{sd: sd, raw: raw{sd: sd}} }

// newMySQLZClient walks the client's side; caps are the capability
// flags of its handshake response.
func newMySQLZClient(sd *side, caps uint32) *mysqlZ {
	z := newMySQLZ(sd)
	z.inner = &mysqlInner{caps: caps}
	return z
}

func (z *mysqlZ) data(off int64, b []byte) {
	z.raw.data(off, b)
	n := 0
	for n < len(b) && !z.lost {
		if z.nhdr < 7 {
			k := copy(z.hdr[z.nhdr:], b[n:])
			z.nhdr += k
			n += k
			if z.nhdr < 7 {
				return
			}
			z.left = int(z.hdr[0]) | int(z.hdr[1])<<8 | int(z.hdr[2])<<16
			z.at = off + int64(n)
			if z.hdr[4]|z.hdr[5]|z.hdr[6] != 0 && z.left > 0 {
				ulen := int64(z.hdr[4]) | int64(z.hdr[5])<<8 | int64(z.hdr[6])<<16
				z.u = z.sd.newUnit(unitCompressed, "MySQL compressed packet")
				z.u.decode = func(c []byte) ([]byte, error) { return inflateMySQL(c, ulen) }
				z.u.filler = func(orig []byte, n int) []byte {
					if out, ok := zlibStars(len(orig), n); ok && isZlib(orig) {
						return out
					}
					return nil
				}
			}
			if z.left == 0 {
				z.nhdr = 0
			}
			continue
		}
		k := min(z.left, len(b)-n)
		if z.u != nil {
			z.u.add(off+int64(n), b[n:n+k], nil)
		} else if z.inner != nil {
			z.plain(off+int64(n), b[n:n+k])
		}
		z.left -= k
		n += k
		if z.left == 0 {
			z.packetDone()
			z.nhdr = 0
		}
	}
}

// plain frames bytes sent uncompressed (at stream offset off) and
// overwrites the auth data among them.
func (z *mysqlZ) plain(off int64, b []byte) {
	for _, r := range z.inner.feed(b, nil) {
		z.sd.emit(Patch{Off: off + int64(r[0]), Len: int64(r[1] - r[0]), Kind: KindFill, Byte: '*'})
	}
}

// packetDone ends a compressed packet: on the client's side its content
// is framed first, and one that carries auth data is replaced.
func (z *mysqlZ) packetDone() {
	u := z.u
	z.u = nil
	if u == nil {
		return
	}
	if z.inner == nil {
		u.finish()
		return
	}
	if u.wiping || u.at != 0 || int64(len(u.buf)) != u.size {
		// Overwritten whole already (too large to hold): what it held
		// cannot be framed, nor anything after it.
		z.inner = nil
		u.finish()
		return
	}
	plain, err := u.decode(u.buf)
	if err != nil {
		z.inner = nil
		u.finish() // overwritten as undecodable
		return
	}
	var ranges [][2]int
	ranges = z.inner.feed(plain, ranges)
	if len(ranges) == 0 {
		u.decode = func([]byte) ([]byte, error) { return plain, nil }
		u.finish() // the masker's patterns still check it
		return
	}
	x := ranges[0][0]
	if x > mysqlMaxKeep {
		u.wipe(WhyCompressedSecret)
		u.release()
		return
	}
	keep := bytes.Clone(plain[:x]) // the filler must not hold on to plain
	filler := func(orig []byte, n int) []byte {
		out, _ := zlibPrefixStars(keep, len(orig), n)
		return out
	}
	m := len(u.buf)
	if f := filler(u.buf, len(plain)); len(f) != m {
		u.wipe(WhyCompressedSecret)
		u.release()
		return
	}
	// The payload is one stretch of the stream: one patch, whose note
	// says what became of it.
	r := &fillRecipe{filler: filler, m: m, n: len(plain)}
	copy(r.head[:], u.buf)
	z.sd.c.t.wiped(WhyCompressedSecret)
	z.sd.emit(Patch{Off: z.at, Len: int64(m), Kind: KindReplace, fill: r,
		Note: z.sd.c.t.intern("tapview: MySQL compressed packet with COM_CHANGE_USER auth data recompressed: it decompresses to its bytes up to the auth data and '*' from there")})
	u.release()
}

func (z *mysqlZ) gap() {
	z.raw.gap()
	if z.u != nil {
		z.u.wipe(WhyUndecodable)
		z.u.release()
		z.u = nil
	}
	z.lost = true
}

func (z *mysqlZ) end() {
	z.raw.end()
	if z.u != nil {
		z.u.finish()
		z.u = nil
	}
}

// zlibPrefixStars returns an m-byte zlib stream that inflates to keep
// followed by n-len(keep) '*': keep in a stored block, the stars as
// starDeflate makes them.
func zlibPrefixStars(keep []byte, m, n int) ([]byte, bool) {
	if len(keep) == 0 {
		return zlibStars(m, n)
	}
	const overhead = 2 + 5 + 4 // zlib header, stored block header, Adler-32
	rest := m - overhead - len(keep)
	if len(keep) > 0xffff || n < len(keep) || rest < 1 {
		return nil, false
	}
	d, ok := starDeflate(rest, n-len(keep), true)
	if !ok {
		return nil, false
	}
	out := make([]byte, 0, m)
	out = append(out, 0x78, 0x9c, 0) // not final, stored
	out = binary.LittleEndian.AppendUint16(out, uint16(len(keep)))
	out = binary.LittleEndian.AppendUint16(out, ^uint16(len(keep)))
	out = append(out, keep...)
	out = append(out, d...)
	sum := adler32.New()
	sum.Write(keep)
	sum.Write(stars(n - len(keep)))
	return binary.BigEndian.AppendUint32(out, sum.Sum32()), true
}

// inflateMySQL inflates one compressed packet's payload, which the
// header says is ulen bytes.
func inflateMySQL(c []byte, ulen int64) ([]byte, error) {
	if ulen > maxDecoded {
		return nil, errTooLarge
	}
	r, err := zlib.NewReader(bytes.NewReader(c))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, ulen+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) != ulen {
		return nil, errTooLarge
	}
	return out, nil
}

var errTooLarge = errors.New("compressed packet does not inflate to its announced size")

// mysqlMaxKeep bounds the plain bytes a recompressed packet keeps ahead
// of the auth data (held until pass two); past it the packet inflates to
// '*' whole.
const mysqlMaxKeep = 4 << 10

// mysqlInner frames the client's packets inside the compressed protocol
// (a byte stream of its own, cut anywhere by the compressed packets) to
// find the auth data of COM_CHANGE_USER (after the command byte and the
// NUL-terminated user: a length byte and the data with
// CLIENT_SECURE_CONNECTION, else NUL-terminated data) and the packets
// of its authentication (sequence other than 0 until the next command),
// which are secret whole. It holds no bytes, so any packet size is fine.
type mysqlInner struct {
	caps     uint32
	hdr      [4]byte
	nhdr     int
	left     int // payload bytes of the current packet still to come
	state    int
	authLeft int
	changing bool // a COM_CHANGE_USER's authentication is running
}

// mysqlInner states within a packet's payload.
const (
	innerSkip   = iota // nothing secret in the rest of the packet
	innerCmd           // the next byte is the command byte
	innerUser          // COM_CHANGE_USER's user name, up to its NUL
	innerAuthN         // the auth data's length byte
	innerAuth          // authLeft bytes of auth data
	innerAuthZ         // NUL-terminated auth data
	innerSecret        // an auth-switch response: all of it
)

// feed frames b and appends to out the ranges [i, j) of b that are
// secret.
func (c *mysqlInner) feed(b []byte, out [][2]int) [][2]int {
	add := func(i, j int) {
		if n := len(out); n > 0 && out[n-1][1] == i {
			out[n-1][1] = j
			return
		}
		out = append(out, [2]int{i, j})
	}
	for i := 0; i < len(b); {
		if c.nhdr < 4 {
			k := copy(c.hdr[c.nhdr:], b[i:])
			c.nhdr += k
			i += k
			if c.nhdr < 4 {
				break
			}
			c.left = int(c.hdr[0]) | int(c.hdr[1])<<8 | int(c.hdr[2])<<16
			switch {
			case c.hdr[3] == 0:
				c.changing, c.state = false, innerCmd
			case c.changing:
				c.state = innerSecret
			default:
				c.state = innerSkip
			}
			if c.left == 0 {
				c.nhdr = 0
			}
			continue
		}
		k := min(c.left, len(b)-i)
		switch c.state {
		case innerSecret:
			add(i, i+k)
		case innerSkip:
		default:
			// The command's first bytes, one at a time.
			k = 1
			c.step(b[i], func() { add(i, i+1) })
		}
		c.left -= k
		i += k
		if c.left == 0 {
			c.nhdr = 0
		}
	}
	return out
}

// step moves a COM_CHANGE_USER's parse on by one payload byte; secret is
// called when that byte is auth data.
func (c *mysqlInner) step(x byte, secret func()) {
	switch c.state {
	case innerCmd:
		c.state = innerSkip
		if x == mysqlChangeUser {
			c.state, c.changing = innerUser, true
		}
	case innerUser:
		if x != 0 {
			return
		}
		c.state = innerAuthZ
		if c.caps&(1<<15) != 0 || c.caps == 0 {
			c.state = innerAuthN
		}
	case innerAuthN:
		c.state, c.authLeft = innerAuth, int(x)
		if x == 0 {
			c.state = innerSkip
		}
	case innerAuth:
		secret()
		if c.authLeft--; c.authLeft == 0 {
			c.state = innerSkip
		}
	case innerAuthZ:
		if x == 0 {
			c.state = innerSkip
			return
		}
		secret()
	}
}
