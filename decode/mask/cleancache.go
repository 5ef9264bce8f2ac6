package mask

import "hash/maphash"

// cleanCache remembers header fields that needed no masking, so a field
// seen again (User-Agent, Accept, Host, Server, this second's Date, a
// popular ETag) skips the name lookup, the byte census and the scanners:
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

type cleanSlot struct {
	nlen, vlen uint8 // 0 nlen: empty
	name       [cleanMaxName]byte
	value      [cleanMaxValue]byte
}

// index picks the pair of slots for a field.
func (c *cleanCache) index(name, value string) int {
	if !c.init {
		c.seed, c.init = maphash.MakeSeed(), true
	}
	h := maphash.String(c.seed, value)
	h ^= uint64(len(name))<<56 | uint64(name[0])<<48 | uint64(name[len(name)-1])<<40 | uint64(name[len(name)/2])<<32
	h *= 0x9e3779b97f4a7c15
	return int(h>>56) &^ 1
}

func cacheable(name, value string) bool {
	return len(name) > 0 && len(name) <= cleanMaxName && len(value) <= cleanMaxValue
}

func (s *cleanSlot) holds(name, value string) bool {
	return int(s.nlen) == len(name) && int(s.vlen) == len(value) &&
		string(s.name[:s.nlen]) == name && string(s.value[:s.vlen]) == value
}

// hit reports whether the field, whose pair of slots is i, is
// remembered as needing no change.
func (c *cleanCache) hit(i int, name, value string) bool {
	return c.slots[i].holds(name, value) || c.slots[i+1].holds(name, value)
}

// remember notes that the field needed no change, in the first slot of
// its pair i, moving what was there to the second.
func (c *cleanCache) remember(i int, name, value string) {
	c.slots[i+1] = c.slots[i]
	s := &c.slots[i]
	s.nlen, s.vlen = uint8(len(name)), uint8(len(value))
	copy(s.name[:], name)
	copy(s.value[:], value)
}
