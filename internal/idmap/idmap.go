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
	pages pager[page[V]]
	n     int
}

// pageBits sets a page to 256 consecutive IDs.
const pageBits = 8

type page[V comparable] struct {
	v [1 << pageBits]V
	n int
}

// pager finds the page of an ID (of type P): Map's and Slots'. It keeps
// a few emptied pages for the next IDs: IDs come and go in about
// increasing order, so a page empties and a new one is needed all the
// time (with flow copies in Slots, 100 KB every 256 flows).
type pager[P any] struct {
	pages    map[uint64]*P
	last     *P
	lastBase uint64
	free     []*P
}

// freePages bounds the emptied pages a pager keeps.
const freePages = 4

func (g *pager[P]) of(id uint64, create bool) *P {
	base := id >> pageBits
	if g.last != nil && g.lastBase == base {
		return g.last
	}
	p := g.pages[base]
	if p == nil {
		if !create {
			return nil
		}
		if g.pages == nil {
			g.pages = make(map[uint64]*P)
		}
		if n := len(g.free); n > 0 {
			p = g.free[n-1]
			g.free[n-1] = nil
			g.free = g.free[:n-1]
		} else {
			p = new(P)
		}
		g.pages[base] = p
	}
	g.last, g.lastBase = p, base
	return p
}

// drop forgets the page of id, which must be empty (as a new page is:
// every value zero).
func (g *pager[P]) drop(id uint64) {
	base := id >> pageBits
	if g.last != nil && g.lastBase == base {
		g.last = nil
	}
	if p := g.pages[base]; p != nil && len(g.free) < freePages {
		g.free = append(g.free, p)
	}
	delete(g.pages, base)
}

// sorted returns the pages' bases in order.
func (g *pager[P]) sorted() []uint64 { return slices.Sorted(maps.Keys(g.pages)) }

func (m *Map[V]) pageOf(id uint64, create bool) *page[V] { return m.pages.of(id, create) }

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
		m.pages.drop(id)
	}
}

// Len is how many IDs have a value.
func (m *Map[V]) Len() int { return m.n }

// Each calls f for every ID with a value, in no particular order; f may
// delete the ID it is given.
func (m *Map[V]) Each(f func(id uint64, v V)) {
	var zero V
	for base, p := range m.pages.pages {
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
	for _, base := range m.pages.sorted() {
		for _, v := range m.pages.pages[base].v {
			if v != zero {
				out = append(out, v)
			}
		}
	}
	return out
}
