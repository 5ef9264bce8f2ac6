package ui

import (
	tea "charm.land/bubbletea/v2"
)

// shown is how many rows a pane lists: everything, or the filter's
// matches.
func (m *Model) shown(p paneID) int {
	if o := m.sortedOrder(p); o != nil {
		return len(o)
	}
	if ix := &m.idx[p]; ix.active() {
		return len(ix.matches)
	}
	return max(m.total[p]-m.base[p], 0)
}

// sortedOrder is the sorted permutation of what pane p shows, or nil when
// the list is in capture order (or its sort is for an older filter).
func (m *Model) sortedOrder(p paneID) []int {
	s := &m.sorts[p]
	if !s.active() || s.filterGen != m.idx[p].gen {
		return nil
	}
	return s.order
}

// positions lists the store positions of what pane p shows, in the order
// shown, or nil when that is simply base, base+1, ...
func (m *Model) positions(p paneID) []int {
	if o := m.sortedOrder(p); o != nil {
		return o
	}
	if ix := &m.idx[p]; ix.active() {
		return ix.matches
	}
	return nil
}

// storePos maps a shown row to its position in the store.
func (m *Model) storePos(p paneID, i int) int {
	if o := m.sortedOrder(p); o != nil {
		return o[i]
	}
	if ix := &m.idx[p]; ix.active() {
		return ix.matches[i]
	}
	return m.base[p] + i
}

// fixLists clamps both cursors after anything that changes counts or
// geometry, then fetches the visible rows of the current pane.
func (m *Model) fixLists() {
	rows := m.listRows()
	for p := range m.lists {
		m.lists[p].clampTo(m.shown(paneID(p)), rows)
	}
	m.refreshRows()
}

func (m *Model) refreshRows() {
	l := m.lists[m.pane]
	from := l.offset
	to := min(from+m.listRows(), m.shown(m.pane))
	switch m.pane {
	case paneExchanges:
		m.exRows = m.exchangeRows(from, to)
	case paneFlows:
		m.flRows = m.flowRows(from, to)
	}
}

// listTop is the screen line of the first list row (after the header and
// the column titles).
const listTop = 2

func (m *Model) onWheel(ms tea.Mouse) tea.Cmd {
	if m.prompt != nil {
		return nil
	}
	if m.over != nil {
		// The overlays scroll with the wheel as with j/k.
		k := "j"
		if ms.Button == tea.MouseWheelUp {
			k = "k"
		}
		for range 3 {
			m.over.key(m, tea.KeyPressMsg{Code: rune(k[0]), Text: k})
		}
		return nil
	}
	delta := 0
	switch ms.Button {
	case tea.MouseWheelUp:
		delta = -3
	case tea.MouseWheelDown:
		delta = 3
	default:
		return nil
	}
	if m.detail.open && (!m.split() || ms.Y >= listTop+m.listRows()) {
		m.detail.scrollBy(m, delta)
		return nil
	}
	return m.moveCursor(delta)
}

func (m *Model) onClick(ms tea.Mouse) tea.Cmd {
	if m.over != nil || m.prompt != nil || ms.Button != tea.MouseLeft {
		return nil
	}
	if m.detail.open && !m.split() {
		return nil
	}
	row := ms.Y - listTop
	if row < 0 || row >= m.listRows() {
		return nil
	}
	l := &m.lists[m.pane]
	target := l.offset + row
	if target >= m.shown(m.pane) {
		return nil
	}
	if target == l.cursor && !m.detail.open {
		return m.openDetail()
	}
	return m.moveCursor(target - l.cursor)
}
