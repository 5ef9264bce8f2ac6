package mask

import (
	"bytes"
	"hash/maphash"
	"slices"
)

// bodyMemo remembers bodies by their bytes as transferred and their
// content codings, with what masking made of them: nothing (clean), or
// the masked body. A body seen again (the same JSON document served to
// many clients, a health check's answer, a static asset, a user list
// that holds e-mail addresses) is neither inflated nor scanned again.
// What masking makes of a body is a pure function of those bytes, the
// codings and the Masker's fixed rules, so a remembered answer is what
// a new check would say; bodies that could not be decoded are not
// remembered. Slots hold copies of what they compare and of the masked
// body (bodies up to bodyMemoMax bytes, masked ones up to twice that, so
// a scratch holds at most 128 x 48 KiB), never the caller's slice, and a
// hit hands out a copy of the masked body. 128 slots in pairs (two-way
// associative): an API serving a few dozen documents, each plain and
// gzip, fits. A scratch is used by one goroutine at a time.
type bodyMemo struct {
	seed  maphash.Seed
	init  bool
	slots [bodyMemoSlots]bodySlot
}

const (
	bodyMemoSlots = 128
	bodyMemoMax   = 16 << 10
)

type bodySlot struct {
	sum     uint64
	codings []string
	data    []byte
	dirty   bool   // masking changed the body
	masked  []byte // what it changed it to, when dirty
}

// index returns the pair of slots and the hash for a body, or -1 when
// the body is not remembered by size.
func (b *bodyMemo) index(data []byte) (int, uint64) {
	if len(data) == 0 || len(data) > bodyMemoMax {
		return -1, 0
	}
	if !b.init {
		b.seed, b.init = maphash.MakeSeed(), true
	}
	h := maphash.Bytes(b.seed, data)
	return int(h%(bodyMemoSlots/2)) * 2, h
}

func (b *bodyMemo) clean(i int, h uint64, codings []string, data []byte) bool {
	s := b.lookup(i, h, codings, data)
	return s != nil && !s.dirty
}

// lookup returns the slot that remembers a body, or nil.
func (b *bodyMemo) lookup(i int, h uint64, codings []string, data []byte) *bodySlot {
	for k := i; k < i+2; k++ {
		if s := &b.slots[k]; s.holds(h, codings, data) {
			return s
		}
	}
	return nil
}

func (s *bodySlot) holds(h uint64, codings []string, data []byte) bool {
	return s.data != nil && s.sum == h && slices.Equal(s.codings, codings) && bytes.Equal(s.data, data)
}

// remember keeps a body and what masking made of it (masked, nil when
// nothing) in the first slot of its pair, moving what was there to the
// second (whose buffers the new body reuses). A masked body over twice
// bodyMemoMax is not kept.
func (b *bodyMemo) remember(i int, h uint64, codings []string, data, masked []byte) {
	if len(masked) > 2*bodyMemoMax {
		return
	}
	b.slots[i], b.slots[i+1] = b.slots[i+1], b.slots[i]
	s := &b.slots[i]
	s.sum = h
	s.codings = append(s.codings[:0], codings...)
	s.data = append(s.data[:0], data...)
	s.dirty = masked != nil
	s.masked = append(s.masked[:0], masked...)
}
