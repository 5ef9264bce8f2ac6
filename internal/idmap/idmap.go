// Package idmap maps dense uint64 IDs (flows and exchanges, numbered
// from 1 as the decoder creates them) to values: pages of 256
// consecutive IDs, found through a small map of pages and a cache of the
// last one. Decoders number IDs densely and release them in about the
// order they gave them, so few pages are live and most lookups hit the
// last page; a Go map keyed by ID cost a cache miss or two per lookup
// with 200k half-open flows. The zero V means absent.
package idmap

import (
	"maps"
	"slices"
)

// Map maps IDs to values; its zero value is empty and ready to use.
type Map[V comparable] struct {
	pages    map[uint64]*page[V]
	last     *page[V]
	lastBase uint64
	n        int
}

// pageBits sets a page to 256 consecutive IDs.
const pageBits = 8

type page[V comparable] struct {
	v [1 << pageBits]V
	n int
}

func (m *Map[V]) pageOf(id uint64, create bool) *page[V] {
	base := id >> pageBits
	if m.last != nil && m.lastBase == base {
		return m.last
	}
	p := m.pages[base]
	if p == nil {
		if !create {
			return nil
		}
		if m.pages == nil {
			m.pages = make(map[uint64]*page[V])
		}
		p = &page[V]{}
		m.pages[base] = p
	}
	m.last, m.lastBase = p, base
	return p
}

// Get returns the value of id and whether it has one.
func (m *Map[V]) Get(id uint64) (V, bool) {
	var zero V
	p := m.pageOf(id, false)
	if p == nil {
		return zero, false
	}
	v := p.v[id&(1<<pageBits-1)]
	return v, v != zero
}

// Set gives id the value v (not the zero V).
func (m *Map[V]) Set(id uint64, v V) {
	var zero V
	p := m.pageOf(id, true)
	slot := &p.v[id&(1<<pageBits-1)]
	if *slot == zero {
		p.n++
		m.n++
	}
	*slot = v
}

// Delete forgets id, and its page once empty.
func (m *Map[V]) Delete(id uint64) {
	var zero V
	p := m.pageOf(id, false)
	if p == nil {
		return
	}
	slot := &p.v[id&(1<<pageBits-1)]
	if *slot == zero {
		return
	}
	*slot = zero
	p.n--
	m.n--
	if p.n == 0 {
		delete(m.pages, id>>pageBits)
		if m.last == p {
			m.last = nil
		}
	}
}

// Len is how many IDs have a value.
func (m *Map[V]) Len() int { return m.n }

// Each calls f for every ID with a value, in no particular order; f may
// delete the ID it is given.
func (m *Map[V]) Each(f func(id uint64, v V)) {
	var zero V
	for base, p := range m.pages {
		for i := range p.v {
			if v := p.v[i]; v != zero {
				f(base<<pageBits|uint64(i), v)
			}
		}
	}
}

// Sorted returns every value in ID order.
func (m *Map[V]) Sorted() []V {
	var zero V
	out := make([]V, 0, m.n)
	for _, base := range slices.Sorted(maps.Keys(m.pages)) {
		for _, v := range m.pages[base].v {
			if v != zero {
				out = append(out, v)
			}
		}
	}
	return out
}
