package idmap

// Slots keeps a value per ID in pages like Map, for values too large to
// pass around or not comparable (a decode.Flow): the value lives in its
// page and is reached through a pointer, so keeping one is a copy into
// memory that is already there, not an allocation. Its zero value is
// empty and ready to use.
type Slots[V any] struct {
	pages pager[slotPage[V]]
	n     int
}

type slotPage[V any] struct {
	v   [1 << pageBits]V
	has [1 << pageBits / 64]uint64
	n   int
}

func slotBit(id uint64) (word int, bit uint64) {
	i := id & (1<<pageBits - 1)
	return int(i / 64), 1 << (i % 64)
}

// Get returns the place of id's value, nil when it has none. It stays
// valid until id is deleted.
func (s *Slots[V]) Get(id uint64) *V {
	p := s.pages.of(id, false)
	if p == nil {
		return nil
	}
	if w, b := slotBit(id); p.has[w]&b == 0 {
		return nil
	}
	return &p.v[id&(1<<pageBits-1)]
}

// Put returns the place of id's value, giving id a zero value first
// when it has none.
func (s *Slots[V]) Put(id uint64) *V {
	p := s.pages.of(id, true)
	if w, b := slotBit(id); p.has[w]&b == 0 {
		p.has[w] |= b
		p.n++
		s.n++
	}
	return &p.v[id&(1<<pageBits-1)]
}

// Delete forgets id's value (zeroed, so it keeps nothing alive), and its
// page once empty.
func (s *Slots[V]) Delete(id uint64) {
	p := s.pages.of(id, false)
	if p == nil {
		return
	}
	w, b := slotBit(id)
	if p.has[w]&b == 0 {
		return
	}
	p.has[w] &^= b
	var zero V
	p.v[id&(1<<pageBits-1)] = zero
	p.n--
	s.n--
	if p.n == 0 {
		s.pages.drop(id)
	}
}

// Len is how many IDs have a value.
func (s *Slots[V]) Len() int { return s.n }

// Sorted returns the places of every value in ID order. They stay valid
// until the values are deleted, or for good once the Slots itself is
// dropped (FlowHold.Drain drops it and prints them).
func (s *Slots[V]) Sorted() []*V {
	out := make([]*V, 0, s.n)
	for _, base := range s.pages.sorted() {
		p := s.pages.pages[base]
		for i := range p.v {
			if p.has[i/64]&(1<<(i%64)) != 0 {
				out = append(out, &p.v[i])
			}
		}
	}
	return out
}
