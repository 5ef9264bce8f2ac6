package lanes

// idMap maps the lanes' local IDs to what the merge keeps for them. Local
// IDs are dense within a lane (lane i numbers from i<<tcp.ShardIDShift),
// so values sit in pages of consecutive IDs, found through a small map of
// pages and a cache of the last one: a capture of 200k half-open flows
// made the merge's maps of flows and exchanges cost a cache miss or two
// per event. The zero V means absent (public IDs start at 1).
type idMap[V comparable] struct {
	pages    map[uint64]*idPage[V]
	last     *idPage[V]
	lastBase uint64
	n        int
}

// idPageBits sets a page to 256 consecutive IDs.
const idPageBits = 8

type idPage[V comparable] struct {
	v [1 << idPageBits]V
	n int
}

func (m *idMap[V]) page(id uint64, create bool) *idPage[V] {
	base := id >> idPageBits
	if m.last != nil && m.lastBase == base {
		return m.last
	}
	p := m.pages[base]
	if p == nil {
		if !create {
			return nil
		}
		if m.pages == nil {
			m.pages = make(map[uint64]*idPage[V])
		}
		p = &idPage[V]{}
		m.pages[base] = p
	}
	m.last, m.lastBase = p, base
	return p
}

// get returns the value of id and whether it has one.
func (m *idMap[V]) get(id uint64) (V, bool) {
	var zero V
	p := m.page(id, false)
	if p == nil {
		return zero, false
	}
	v := p.v[id&(1<<idPageBits-1)]
	return v, v != zero
}

// set gives id the value v (not the zero V).
func (m *idMap[V]) set(id uint64, v V) {
	var zero V
	p := m.page(id, true)
	slot := &p.v[id&(1<<idPageBits-1)]
	if *slot == zero {
		p.n++
		m.n++
	}
	*slot = v
}

// del forgets id, and its page once empty.
func (m *idMap[V]) del(id uint64) {
	var zero V
	p := m.page(id, false)
	if p == nil {
		return
	}
	slot := &p.v[id&(1<<idPageBits-1)]
	if *slot == zero {
		return
	}
	*slot = zero
	p.n--
	m.n--
	if p.n == 0 {
		delete(m.pages, id>>idPageBits)
		if m.last == p {
			m.last = nil
		}
	}
}

// len is how many IDs have a value.
func (m *idMap[V]) len() int { return m.n }

// each calls f for every ID with a value, in no particular order; f may
// delete the ID it is given.
func (m *idMap[V]) each(f func(id uint64, v V)) {
	var zero V
	for base, p := range m.pages {
		for i := range p.v {
			if v := p.v[i]; v != zero {
				f(base<<idPageBits|uint64(i), v)
			}
		}
	}
}
