package mysql

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxPayload is the largest physical packet; a logical packet of this
// length continues in the next one.
const maxPayload = 0xffffff

// packet is one logical packet (continuations joined).
type packet struct {
	seq         byte
	data        []byte // payload, at most the framer's keep bytes
	size        int64  // whole payload size
	first, last time.Time
}

// truncated reports a payload longer than what was kept.
func (p *packet) truncated() bool { return int64(len(p.data)) < p.size }

// framer cuts one direction's bytes into logical packets.
type framer struct {
	keep int
	hdr  [4]byte
	nhdr int
	left int  // payload bytes left of the current physical packet
	cont bool // the current logical packet continues after this physical one
	full bool // the current physical packet is maxPayload long
	cur  *packet
}

// feed consumes b until one logical packet is complete (returned) or b
// ends; it returns how many bytes it took.
func (f *framer) feed(b []byte, ts time.Time) (int, *packet) {
	n := 0
	for n < len(b) {
		if f.nhdr < 4 {
			k := copy(f.hdr[f.nhdr:], b[n:])
			f.nhdr += k
			n += k
			if f.nhdr < 4 {
				return n, nil
			}
			f.left = int(f.hdr[0]) | int(f.hdr[1])<<8 | int(f.hdr[2])<<16
			f.full = f.left == maxPayload
			if !f.cont {
				f.cur = &packet{seq: f.hdr[3], first: ts}
			}
			if f.left == 0 {
				if p := f.endPhysical(ts); p != nil {
					return n, p
				}
				continue
			}
		}
		k := min(f.left, len(b)-n)
		if room := f.keep - len(f.cur.data); room > 0 {
			f.cur.data = append(f.cur.data, b[n:n+min(k, room)]...)
		}
		f.cur.size += int64(k)
		f.left -= k
		n += k
		if f.left == 0 {
			if p := f.endPhysical(ts); p != nil {
				return n, p
			}
		}
	}
	return n, nil
}

func (f *framer) endPhysical(ts time.Time) *packet {
	f.nhdr = 0
	f.cur.last = ts
	if f.full {
		f.cont = true
		return nil
	}
	f.cont = false
	p := f.cur
	f.cur = nil
	return p
}

// pending reports bytes of an unfinished packet.
func (f *framer) pending() bool { return f.nhdr > 0 || f.cur != nil }

// reset forgets the packet in progress (after a gap).
func (f *framer) reset() { *f = framer{keep: f.keep} }

// Compressed protocol bounds: a compressed packet is held whole to be
// inflated, so one longer than maxCompressed stops decoding.
const maxCompressed = 4 << 20

var errCompressedTooBig = errors.New("compressed packet larger than the decoder holds")

// inflater undoes the compressed protocol's framing (7-byte header:
// compressed length, sequence, uncompressed length; zlib payload unless
// the uncompressed length is 0) for one direction.
type inflater struct {
	maxOut int64
	hdr    [7]byte
	nhdr   int
	buf    []byte
	left   int
}

// feed consumes b until one compressed packet is complete, returning its
// inflated payload, or b ends.
func (z *inflater) feed(b []byte) (int, []byte, error) {
	n := 0
	for n < len(b) {
		if z.nhdr < 7 {
			k := copy(z.hdr[z.nhdr:], b[n:])
			z.nhdr += k
			n += k
			if z.nhdr < 7 {
				return n, nil, nil
			}
			z.left = int(z.hdr[0]) | int(z.hdr[1])<<8 | int(z.hdr[2])<<16
			if z.left > maxCompressed {
				return n, nil, errCompressedTooBig
			}
			z.buf = z.buf[:0]
		}
		k := min(z.left, len(b)-n)
		z.buf = append(z.buf, b[n:n+k]...)
		z.left -= k
		n += k
		if z.left == 0 {
			z.nhdr = 0
			out, err := z.inflate()
			return n, out, err
		}
	}
	return n, nil, nil
}

func (z *inflater) inflate() ([]byte, error) {
	ulen := int64(z.hdr[4]) | int64(z.hdr[5])<<8 | int64(z.hdr[6])<<16
	if ulen == 0 {
		return append([]byte(nil), z.buf...), nil
	}
	if ulen > z.maxOut {
		return nil, fmt.Errorf("compressed packet inflates to %d bytes, over the %d-byte limit", ulen, z.maxOut)
	}
	zr, err := zlib.NewReader(bytes.NewReader(z.buf))
	if err != nil {
		return nil, fmt.Errorf("compressed packet: %w", err)
	}
	// The header's length is only a claim: grow as the data comes.
	w := bytes.NewBuffer(make([]byte, 0, min(ulen, 64<<10)))
	if _, err := io.Copy(w, io.LimitReader(zr, ulen+1)); err != nil {
		return nil, fmt.Errorf("compressed packet: %w", err)
	}
	if int64(w.Len()) != ulen {
		return nil, fmt.Errorf("compressed packet inflated to %d bytes, header said %d", w.Len(), ulen)
	}
	return w.Bytes(), nil
}
