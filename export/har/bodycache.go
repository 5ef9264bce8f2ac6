package har

import (
	"bytes"
	"hash/maphash"
	"slices"
)

// bodyCache remembers decoded bodies by content from entry to entry, so
// a body served again (the same JSON document to many clients, a health
// check's answer, a static asset) is inflated once per Encoder. A slot
// is keyed by a copy of the bytes as transferred, the codings and the
// size cap, compared in full, so a hit returns exactly what decoding
// would; failed decodes are not kept. Transferred bodies up to
// bodyCacheIn and decoded ones up to bodyCacheOut bytes are kept, in 128
// slots taken in pairs (two-way associative): at most 6 MiB per Encoder.
type bodyCache struct {
	seed  maphash.Seed
	init  bool
	slots [bodyCacheSlots]cachedBody
}

const (
	bodyCacheSlots = 128
	bodyCacheIn    = 16 << 10
	bodyCacheOut   = 32 << 10
)

type cachedBody struct {
	sum     uint64
	codings []string
	max     int64
	data    []byte
	out     []byte // never written after it is stored; shared by entries
}

// index returns the pair of slots and the hash for a body, or -1 for
// one too large to keep.
func (c *bodyCache) index(data []byte) (int, uint64) {
	if len(data) == 0 || len(data) > bodyCacheIn {
		return -1, 0
	}
	if !c.init {
		c.seed, c.init = maphash.MakeSeed(), true
	}
	h := maphash.Bytes(c.seed, data)
	return int(h%(bodyCacheSlots/2)) * 2, h
}

func (c *bodyCache) get(i int, h uint64, codings []string, data []byte, max int64) ([]byte, bool) {
	for k := i; k < i+2; k++ {
		if s := &c.slots[k]; s.data != nil && s.sum == h && s.max == max && slices.Equal(s.codings, codings) && bytes.Equal(s.data, data) {
			return s.out, true
		}
	}
	return nil, false
}

// put keeps a decoded body in the first slot of its pair, moving what
// was there to the second (whose key buffers the new body reuses).
func (c *bodyCache) put(i int, h uint64, codings []string, data []byte, max int64, out []byte) {
	if len(out) > bodyCacheOut {
		return
	}
	c.slots[i], c.slots[i+1] = c.slots[i+1], c.slots[i]
	s := &c.slots[i]
	s.sum, s.max = h, max
	s.codings = append(s.codings[:0], codings...)
	s.data = append(s.data[:0], data...)
	s.out = out
}
