package mask

import "hash/maphash"

// cleanCache remembers header fields (and request targets) that needed
// no masking, so a field seen again (User-Agent, Accept, Host, Server,
// this second's Date, a popular ETag or path) skips the name lookup, the
// byte census and the scanners:
// on an API capture nearly every field repeats, and checking each one
// was most of what masking a JSON line cost. The answer is a pure
// function of the name, the value and the Masker's fixed rules, so a
// remembered "clean" is exactly what a new check would say. Fields that
// changed are not remembered (they are rare and must be rendered), nor
// are long ones. A slot holds copies of the bytes it compares, never a
// string into a header block, so the cache pins no capture memory. It
// lives in a scratch, which one goroutine uses at a time.
type cleanCache struct {
	seed  maphash.Seed
	init  bool
	slots [cleanSlots]cleanSlot
}

const (
	cleanSlots    = 256 // pairs of slots: two-way associative
	cleanMaxName  = 30
	cleanMaxValue = 96
)

// Kinds of remembered values: a header field, or a display text (the
// request target) with no name. The kind is part of the key, because
// targets and header values are checked by different rules.
const (
	cleanHeader uint8 = iota + 1
	cleanText
)

type cleanSlot struct {
	kind       uint8 // 0: empty
	nlen, vlen uint8
	name       [cleanMaxName]byte
	value      [cleanMaxValue]byte
}

// index picks the pair of slots for a value of a kind.
func (c *cleanCache) index(kind uint8, name, value string) int {
	if !c.init {
		c.seed, c.init = maphash.MakeSeed(), true
	}
	h := maphash.String(c.seed, value)
	h ^= uint64(kind)<<24 | uint64(len(name))<<56
	if len(name) > 0 {
		h ^= uint64(name[0])<<48 | uint64(name[len(name)-1])<<40 | uint64(name[len(name)/2])<<32
	}
	h *= 0x9e3779b97f4a7c15
	return int(h>>56) &^ 1
}

// cacheable reports whether a header field fits a slot.
func cacheable(name, value string) bool {
	return len(name) > 0 && len(name) <= cleanMaxName && len(value) <= cleanMaxValue
}

func (s *cleanSlot) holds(kind uint8, name, value string) bool {
	return s.kind == kind && int(s.nlen) == len(name) && int(s.vlen) == len(value) &&
		string(s.name[:s.nlen]) == name && string(s.value[:s.vlen]) == value
}

// hit reports whether the value, whose pair of slots is i, is
// remembered as needing no change.
func (c *cleanCache) hit(i int, kind uint8, name, value string) bool {
	return c.slots[i].holds(kind, name, value) || c.slots[i+1].holds(kind, name, value)
}

// remember notes that the value needed no change, in the first slot of
// its pair i, moving what was there to the second.
func (c *cleanCache) remember(i int, kind uint8, name, value string) {
	c.slots[i+1] = c.slots[i]
	s := &c.slots[i]
	s.kind, s.nlen, s.vlen = kind, uint8(len(name)), uint8(len(value))
	copy(s.name[:], name)
	copy(s.value[:], value)
}
