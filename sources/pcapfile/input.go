package pcapfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
)

const (
	// bufSize is the read buffer. Large reads keep syscalls rare so a big
	// capture streams at disk speed; it is shrunk for small inputs.
	bufSize = 1 << 20
	// slabSize is the arena slab packets are carved from: one allocation
	// per megabyte of capture instead of one per packet.
	slabSize = 1 << 20
	// chunk is how much of an oversized record is read at a time, so a
	// bogus length costs memory only for bytes that really exist.
	chunk = 1 << 20
)

// input counts the bytes consumed from a buffered reader so every record
// and every kind of damage can be reported with its byte offset, even when
// the underlying reader (stdin) cannot seek.
type input struct {
	br  *bufio.Reader
	off int64
}

func newInput(r io.Reader, sizeHint int64) *input {
	n := bufSize
	if sizeHint > 0 && sizeHint < int64(n) {
		n = max(int(sizeHint), 4096)
	}
	return &input{br: bufio.NewReaderSize(r, n)}
}

// peek returns the next n bytes without consuming them (n must not exceed
// the buffer size; callers peek headers only). The slice is valid until
// the next read. A short result comes with the reader's error.
func (in *input) peek(n int) ([]byte, error) {
	b, err := in.br.Peek(n)
	if err != nil && len(b) < n {
		return b, err
	}
	return b, nil
}

// skip consumes n bytes, which may be more than the buffer holds.
func (in *input) skip(n int64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		got, err := in.br.Discard(step)
		in.off += int64(got)
		n -= int64(got)
		if err != nil {
			return err
		}
	}
	return nil
}

// readFull fills dst completely or reports why it could not.
func (in *input) readFull(dst []byte) error {
	got, err := io.ReadFull(in.br, dst)
	in.off += int64(got)
	return err
}

// readGrowing reads n bytes into a fresh slice that grows with the data
// actually present, so a lying length field in a short file does not
// allocate what it claims.
func (in *input) readGrowing(n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		k := min(n-len(buf), chunk)
		buf = slices.Grow(buf, k)
		if err := in.readFull(buf[len(buf) : len(buf)+k]); err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+k]
	}
	return buf, nil
}

// arena hands out packet buffers carved from large slabs. Each returned
// slice has its capacity clipped to its length, so a consumer appending
// to one packet can never overwrite the next; slabs are never reused, so
// packets stay valid for as long as anyone holds them.
type arena struct {
	slab []byte
	size int
	// With a pool (Source.SetSlabs), slabs come from it and go back to
	// it with the number of packets carved from each.
	pool   SlabPool
	cur    []byte // the slab being carved
	carved int
}

// SlabPool lends the slabs packets are carved from, so a reader that is
// done with packets once it has written them (an export's second pass)
// can have their memory reused instead of allocating a gigabyte for a
// gigabyte of capture. Slab returns a slab of size bytes, whose contents
// do not matter (every packet carved from it is overwritten whole);
// Carved says that no more packets will be carved from slab and how many
// were. The pool then knows a slab is free again once that many packets
// from it were given back (by the pool's own means). Slab is called from
// the goroutine that runs the Source, Carved too.
type SlabPool interface {
	Slab(size int) []byte
	Carved(slab []byte, n int)
}

// done hands the slab being carved back to the pool.
func (a *arena) done() {
	if a.pool != nil && a.cur != nil {
		a.pool.Carved(a.cur, a.carved)
		a.cur, a.slab, a.carved = nil, nil, 0
	}
}

func newArena(sizeHint int64) *arena {
	n := slabSize
	if sizeHint > 0 && sizeHint < int64(n) {
		n = max(int(sizeHint), 4096)
	}
	return &arena{size: n}
}

// alloc returns n bytes owned by the caller from now on.
func (a *arena) alloc(n int) []byte {
	if n > a.size/4 {
		return make([]byte, n)
	}
	if len(a.slab) < n {
		if a.pool != nil {
			a.done()
			a.cur = a.pool.Slab(a.size)
			a.slab = a.cur
		} else {
			a.slab = make([]byte, a.size)
		}
	}
	a.carved++
	p := a.slab[:n:n]
	a.slab = a.slab[n:]
	return p
}

// readPacket reads n captured bytes into a buffer owned by the packet.
// Large records go through readGrowing so the allocation follows the data.
func (in *input) readPacket(a *arena, n int) ([]byte, error) {
	if n > chunk {
		return in.readGrowing(n)
	}
	p := a.alloc(n)
	if in.br.Buffered() >= n {
		// The common case: the record is in the buffer already. Copying
		// it out directly skips io.ReadFull's loop and interface calls.
		b, _ := in.br.Peek(n)
		copy(p, b)
		_, _ = in.br.Discard(n)
		in.off += int64(n)
		return p, nil
	}
	if err := in.readFull(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Damage kinds, used as sources.Status.Kind.
const (
	kindTruncated = "truncated"
	kindCorrupt   = "corrupt"
)

// damageError stops reading at a damaged spot. Run turns it into a
// warning Status and a nil return: everything before it was good data.
type damageError struct {
	kind string
	msg  string
}

func (e *damageError) Error() string { return e.msg }

func truncatedAt(what string, off int64) error {
	return &damageError{kind: kindTruncated,
		msg: fmt.Sprintf("file cut short in the middle of %s at byte %d", what, off)}
}

func corruptAt(off int64, format string, args ...any) error {
	return &damageError{kind: kindCorrupt,
		msg: fmt.Sprintf("file damaged at byte %d: %s", off, fmt.Sprintf(format, args...))}
}

// shortRead maps an end of input inside a record to a truncation report at
// the record's start; other read errors pass through wrapped.
func shortRead(err error, what string, start int64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return truncatedAt(what, start)
	}
	return fmt.Errorf("reading %s at byte %d: %w", what, start, err)
}
