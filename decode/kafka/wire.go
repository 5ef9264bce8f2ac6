package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// errShort means a message ended before a field it promised.
var errShort = errors.New("message ends inside a field")

// maxArray bounds an array count taken seriously: a larger one is a
// corrupt or hostile message, not something to allocate for.
const maxArray = 1 << 20

// reader walks one Kafka message. The first error sticks: later reads
// return zero values, so a parser reads straight through and checks err
// once, keeping whatever it had read before the damage.
type reader struct {
	b    []byte
	off  int
	flex bool // flexible version: compact strings and arrays, tagged fields
	err  error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.left() {
		r.fail(errShort)
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) int8() int8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return int8(b[0])
}

func (r *reader) int16() int16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(b))
}

func (r *reader) int32() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (r *reader) int64() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// uvarint reads an unsigned varint (at most 5 bytes for 32-bit fields).
func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(varintErr(n, "unsigned varint"))
		return 0
	}
	r.off += n
	return v
}

// varintErr: encoding/binary returns 0 when the bytes end inside the
// varint (errShort, so a prefix read at detection can still pass) and a
// negative count when it overflows 64 bits.
func varintErr(n int, what string) error {
	if n == 0 {
		return errShort
	}
	return errors.New("bad " + what)
}

// varint reads a zig-zag signed varint (record fields).
func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail(varintErr(n, "varint"))
		return 0
	}
	r.off += n
	return v
}

// length reads a string/bytes/array length: int16 or int32 classic, or
// the compact form (unsigned varint of length+1, 0 meaning null). -1 is
// null.
func (r *reader) length(wide bool) int {
	if r.flex {
		v := r.uvarint()
		if v > math.MaxInt32 {
			r.fail(fmt.Errorf("length %d too large", v))
			return -1
		}
		return int(v) - 1
	}
	if wide {
		return int(r.int32())
	}
	return int(r.int16())
}

// str reads a (nullable, possibly compact) string; null reads as "".
func (r *reader) str() string {
	n := r.length(false)
	if n < 0 {
		if n < -1 {
			r.fail(fmt.Errorf("string length %d", n))
		}
		return ""
	}
	return string(r.take(n))
}

// bytes reads a (nullable, possibly compact) byte string.
func (r *reader) bytes() []byte {
	n := r.length(true)
	if n < 0 {
		if n < -1 {
			r.fail(fmt.Errorf("bytes length %d", n))
		}
		return nil
	}
	return r.take(n)
}

// array reads an array count; every element needs at least min bytes,
// so a count the message cannot hold is an error, not an allocation.
func (r *reader) array(min int) int {
	n := r.length(true)
	if r.err != nil {
		return 0
	}
	if n < 0 {
		if n < -1 {
			r.fail(fmt.Errorf("array length %d", n))
		}
		return 0
	}
	if n > maxArray || n*max(min, 1) > r.left() {
		r.fail(fmt.Errorf("array of %d elements in %d bytes", n, r.left()))
		return 0
	}
	return n
}

// uuid reads a 16-byte topic id.
func (r *reader) uuid() [16]byte {
	var u [16]byte
	copy(u[:], r.take(16))
	return u
}

// tags skips a tagged-field section (flexible versions only).
func (r *reader) tags() {
	if !r.flex {
		return
	}
	n := r.uvarint()
	if n > maxArray {
		r.fail(fmt.Errorf("%d tagged fields", n))
		return
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		r.uvarint() // tag
		size := r.uvarint()
		if size > uint64(r.left()) {
			r.fail(errShort)
			return
		}
		r.take(int(size))
	}
}
