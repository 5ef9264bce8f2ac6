package store

import "encoding/binary"

// chunkSize is the largest arena allocation unit (New uses a thousandth
// of the budget below it): small enough that a chunk kept alive by a
// string some view still holds costs little, large enough that chunk
// bookkeeping is noise.
const chunkSize = 256 << 10

// sref locates a record in the arena: chunk sequence number (from 1) in
// the high half, byte offset in the low half. Zero means none.
type sref uint64

// arena is an append-only byte store in chunks. Records are never
// overwritten, so strings decoded from them may alias their bytes; a
// chunk is dropped (left to the garbage collector) when none of its
// records is live any more.
type arena struct {
	size   int      // bytes per chunk; 0 means chunkSize
	chunks []*chunk // chunks[i] has sequence first+i; nil once dropped
	first  uint64
	bytes  int64 // capacity of the chunks still held
}

type chunk struct {
	b    []byte
	live int
}

// add stores rec and returns its reference.
func (a *arena) add(rec []byte) sref {
	need := binary.MaxVarintLen32 + len(rec)
	var c *chunk
	if n := len(a.chunks); n > 0 {
		c = a.chunks[n-1]
	}
	if c == nil || cap(c.b)-len(c.b) < need {
		if a.first == 0 {
			a.first = 1 // sequence numbers start at 1, so no sref is 0
		}
		if c != nil && c.live == 0 {
			// The full tail had every record released already.
			a.bytes -= int64(cap(c.b))
			a.chunks[len(a.chunks)-1] = nil
		}
		size := a.size
		if size <= 0 {
			size = chunkSize
		}
		c = &chunk{b: make([]byte, 0, max(size, need))}
		a.chunks = append(a.chunks, c)
		a.trim()
		a.bytes += int64(cap(c.b))
	}
	seq := a.first + uint64(len(a.chunks)) - 1
	off := len(c.b)
	c.b = binary.AppendUvarint(c.b, uint64(len(rec)))
	c.b = append(c.b, rec...)
	c.live++
	return sref(seq<<32 | uint64(off))
}

func (a *arena) chunk(r sref) *chunk {
	seq := uint64(r) >> 32
	if seq < a.first || seq-a.first >= uint64(len(a.chunks)) {
		return nil
	}
	return a.chunks[seq-a.first]
}

// get returns the record's bytes, or nil when it was released.
func (a *arena) get(r sref) []byte {
	c := a.chunk(r)
	if c == nil {
		return nil
	}
	off := int(uint32(r))
	n, k := binary.Uvarint(c.b[off:])
	if k <= 0 {
		return nil
	}
	return c.b[off+k : off+k+int(n) : off+k+int(n)]
}

// release marks a record dead; a chunk without live records (other than
// the one being filled) is dropped, and dropped chunks at the front are
// trimmed so the slice does not grow with the session.
func (a *arena) release(r sref) {
	c := a.chunk(r)
	if c == nil {
		return
	}
	c.live--
	seq := uint64(r) >> 32
	last := a.first + uint64(len(a.chunks)) - 1
	if c.live > 0 || seq == last {
		return
	}
	a.bytes -= int64(cap(c.b))
	a.chunks[seq-a.first] = nil
	a.trim()
}

// trim drops released chunks from the front, keeping the tail.
func (a *arena) trim() {
	for len(a.chunks) > 1 && a.chunks[0] == nil {
		a.chunks = a.chunks[1:]
		a.first++
	}
}
