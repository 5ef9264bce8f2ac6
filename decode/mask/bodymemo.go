package mask

import (
	"bytes"
	"hash/maphash"
	"slices"
)

// bodyMemo remembers bodies that held nothing to mask, by their bytes as
// transferred and their content codings, so a body seen again (the same
// JSON document served to many clients, a health check's answer, a
// static asset) is neither inflated nor scanned again. Whether a body
// needs masking is a pure function of those bytes, the codings and the
// Masker's fixed rules, so a remembered "clean" is what a new check
// would say; bodies that changed or could not be decoded are not
// remembered. Slots hold copies of what they compare (bodies up to
// bodyMemoMax bytes, so a scratch holds at most 128 x 16 KiB), never the
// caller's slice. 128 slots in pairs (two-way associative): an API
// serving a few dozen documents, each plain and gzip, fits. A scratch is
// used by one goroutine at a time.
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
	return b.slots[i].holds(h, codings, data) || b.slots[i+1].holds(h, codings, data)
}

func (s *bodySlot) holds(h uint64, codings []string, data []byte) bool {
	return s.data != nil && s.sum == h && slices.Equal(s.codings, codings) && bytes.Equal(s.data, data)
}

// remember keeps a body in the first slot of its pair, moving what was
// there to the second (whose buffers the new body reuses).
func (b *bodyMemo) remember(i int, h uint64, codings []string, data []byte) {
	b.slots[i], b.slots[i+1] = b.slots[i+1], b.slots[i]
	s := &b.slots[i]
	s.sum = h
	s.codings = append(s.codings[:0], codings...)
	s.data = append(s.data[:0], data...)
}
