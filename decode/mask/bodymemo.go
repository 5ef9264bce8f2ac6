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
// bodyMemoMax bytes, so a scratch holds at most 32 x 16 KiB), never the
// caller's slice. A scratch is used by one goroutine at a time.
type bodyMemo struct {
	seed  maphash.Seed
	init  bool
	slots [bodyMemoSlots]bodySlot
}

const (
	bodyMemoSlots = 32
	bodyMemoMax   = 16 << 10
)

type bodySlot struct {
	sum     uint64
	codings []string
	data    []byte
}

// index returns the slot and hash for a body, or -1 when the body is not
// remembered by size.
func (b *bodyMemo) index(data []byte) (int, uint64) {
	if len(data) == 0 || len(data) > bodyMemoMax {
		return -1, 0
	}
	if !b.init {
		b.seed, b.init = maphash.MakeSeed(), true
	}
	h := maphash.Bytes(b.seed, data)
	return int(h % bodyMemoSlots), h
}

func (b *bodyMemo) clean(i int, h uint64, codings []string, data []byte) bool {
	s := &b.slots[i]
	return s.data != nil && s.sum == h && slices.Equal(s.codings, codings) && bytes.Equal(s.data, data)
}

func (b *bodyMemo) remember(i int, h uint64, codings []string, data []byte) {
	s := &b.slots[i]
	s.sum = h
	s.codings = append(s.codings[:0], codings...)
	s.data = append(s.data[:0], data...)
}
