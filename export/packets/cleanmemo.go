package packets

import (
	"bytes"
	"hash/maphash"
)

// cleanMemo remembers byte strings the masker leaves alone. Exchanges
// repeat most of their header lines and targets (a client's request, a
// server's Content-Type, Server and Date within a second), and scanning
// each again was most of what a masked export's collector did. A map
// from the strings did it at a cache miss or two per header (its keys
// live apart from its slots) and a string allocated per new line: 0.9
// of 2.1 CPU-s the collector spent on the 1 GB benchmark capture. This
// is a direct-mapped table of fixed slots that hold the bytes they
// stand for, so a lookup is one hash and one slot, and a hit is checked
// against the bytes, not trusted to the hash. A newer string takes the
// slot of an older one with the same index; strings longer than a slot
// are not remembered. 2 MiB, without pointers.
type cleanMemo struct {
	seed  maphash.Seed
	slots []cleanSlot
}

// What a key was checked with: the masker's Bytes (a header line, a
// target, a body) or its Text (a summary's host and target). The kinds
// are remembered apart.
const (
	memoBytes byte = 1
	memoText  byte = 2
)

const (
	cleanSlots   = 1 << 14
	cleanSlotLen = 118 // a slot is 128 bytes
)

type cleanSlot struct {
	h    uint64
	n    uint8
	kind byte
	b    [cleanSlotLen]byte
}

func (m *cleanMemo) slot(kind byte, b []byte) (*cleanSlot, uint64) {
	if m.slots == nil {
		m.seed = maphash.MakeSeed()
		m.slots = make([]cleanSlot, cleanSlots)
	}
	h := maphash.Bytes(m.seed, b) ^ uint64(kind)
	return &m.slots[h&(cleanSlots-1)], h
}

// has reports whether b was remembered as clean for kind.
func (m *cleanMemo) has(kind byte, b []byte) bool {
	if len(b) > cleanSlotLen {
		return false
	}
	s, h := m.slot(kind, b)
	return s.h == h && s.kind == kind && int(s.n) == len(b) && bytes.Equal(s.b[:s.n], b)
}

// add remembers b as clean for kind.
func (m *cleanMemo) add(kind byte, b []byte) {
	if len(b) > cleanSlotLen {
		return
	}
	s, h := m.slot(kind, b)
	s.h, s.kind, s.n = h, kind, uint8(len(b))
	copy(s.b[:], b)
}
