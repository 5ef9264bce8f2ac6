// Package cleanmemo remembers byte strings a masker left unchanged, so
// that a masked export scans the header lines and texts that repeat
// from one exchange to the next (a client's request lines, a server's
// Content-Type and Server, its Date within a second) once instead of
// every time.
//
// A Memo is a direct-mapped table of fixed slots that hold the bytes
// they stand for: a lookup is one hash and one slot, and a hit is
// checked against the bytes, never trusted to the hash, so a memo can
// only save work, not change what is found. A newer string takes the
// slot of an older one with the same index; strings longer than a slot
// are not remembered. The table holds no pointers and is allocated at
// the first lookup. (A map from the strings took a string per new line
// and a cache miss or two per lookup, since its keys live apart from
// its slots.)
package cleanmemo

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
)

// slotHead is a slot's header: the hash (8 bytes), the length (2) and
// the kind (1).
const slotHead = 11

// Memo is the table; the zero Memo remembers nothing (use New).
type Memo struct {
	seed   maphash.Seed
	slots  int
	stride int
	table  []byte
}

// New returns a memo of slots slots (a power of two) of stride bytes
// each, header included: it remembers strings of up to MaxLen bytes and
// takes slots*stride bytes once used.
func New(slots, stride int) Memo {
	if slots&(slots-1) != 0 || stride <= slotHead || stride-slotHead > 0xffff {
		panic("cleanmemo: slots must be a power of two and a slot hold its header and at most 64 KiB")
	}
	return Memo{slots: slots, stride: stride}
}

// MaxLen is the longest string the memo remembers.
func (m *Memo) MaxLen() int { return max(0, m.stride-slotHead) }

func (m *Memo) slot(kind byte, b []byte) ([]byte, uint64) {
	if m.table == nil {
		m.seed = maphash.MakeSeed()
		m.table = make([]byte, m.slots*m.stride)
	}
	h := maphash.Bytes(m.seed, b) ^ uint64(kind)
	i := int(h&uint64(m.slots-1)) * m.stride
	return m.table[i : i+m.stride], h
}

// Has reports whether b was remembered as clean for kind: callers that
// check strings in different ways (say, as bytes and as text) keep them
// apart by kind.
func (m *Memo) Has(kind byte, b []byte) bool {
	if m.slots == 0 || len(b) > m.MaxLen() {
		return false
	}
	s, h := m.slot(kind, b)
	return binary.LittleEndian.Uint64(s) == h && s[10] == kind &&
		int(binary.LittleEndian.Uint16(s[8:])) == len(b) && bytes.Equal(s[slotHead:slotHead+len(b)], b)
}

// Add remembers b as clean for kind.
func (m *Memo) Add(kind byte, b []byte) {
	if m.slots == 0 || len(b) > m.MaxLen() {
		return
	}
	s, h := m.slot(kind, b)
	binary.LittleEndian.PutUint64(s, h)
	binary.LittleEndian.PutUint16(s[8:], uint16(len(b)))
	s[10] = kind
	copy(s[slotHead:], b)
}
