package mesh

import (
	"encoding/binary"
	"math/bits"
)

// synTable is the Wire's SYNs waiting for their SYN-ACK: a map from
// synKey to synEntry with a fixed capacity (the SYN cap), open addressing
// with linear probing in one array of pointer-free slots. Under a SYN
// flood every SYN costs a lookup, an insert and the removal of the
// oldest, and a Go map spent a fifth of a second per 200k half-open flows
// hashing 28-byte keys and probing; here a key hashes in a few
// multiplications and a probe is usually the slot itself.
type synTable struct {
	slots []synSlot
	mask  uint64
	n     int
}

type synSlot struct {
	key  synKey
	e    synEntry
	used bool
}

// init sizes the table for at most max entries (at most half full).
func (t *synTable) init(max int) {
	size := 8
	if max > 2 {
		size = 1 << bits.Len(uint(2*max-1))
	}
	t.slots = make([]synSlot, size)
	t.mask = uint64(size - 1)
	t.n = 0
}

func (k *synKey) hash() uint64 {
	a := binary.LittleEndian.Uint64(k.client[:8])
	b := binary.LittleEndian.Uint64(k.client[8:])
	c := uint64(k.isn) | uint64(k.port)<<32 | uint64(k.source)<<48
	h := mix64(a ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ b)
	return mix64(h ^ c)
}

// mix64 is splitmix64's finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// find returns the slot of k, or the empty slot where it would go.
func (t *synTable) find(k *synKey) int {
	i := k.hash() & t.mask
	for {
		s := &t.slots[i]
		if !s.used || s.key == *k {
			return int(i)
		}
		i = (i + 1) & t.mask
	}
}

func (t *synTable) get(k synKey) (synEntry, bool) {
	if t.n == 0 {
		return synEntry{}, false
	}
	s := &t.slots[t.find(&k)]
	return s.e, s.used
}

// put sets k's entry; the caller keeps the entries within the size
// given to init.
func (t *synTable) put(k synKey, e synEntry) {
	s := &t.slots[t.find(&k)]
	if !s.used {
		s.used, s.key = true, k
		t.n++
	}
	s.e = e
}

// del removes k, shifting later slots of its probe run back so that
// lookups never need tombstones.
func (t *synTable) del(k synKey) {
	if t.n == 0 {
		return
	}
	i := uint64(t.find(&k))
	if !t.slots[i].used {
		return
	}
	t.n--
	for {
		t.slots[i] = synSlot{}
		j := i
		for {
			j = (j + 1) & t.mask
			if !t.slots[j].used {
				return
			}
			// The entry at j may fill i unless its home lies
			// cyclically in (i, j].
			home := t.slots[j].key.hash() & t.mask
			if (j-home)&t.mask >= (j-i)&t.mask {
				break
			}
		}
		t.slots[i] = t.slots[j]
		i = j
	}
}

func (t *synTable) len() int { return t.n }
