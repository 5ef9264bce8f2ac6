package ui

import "time"

// clock formats a capture time for a column or a note: the time of day
// with milliseconds, or, when the session spans several calendar days,
// the date and the time to the second ("03-14 09:26:53"), so rows from
// different days cannot be mistaken for one another. Both are 12 or 14
// cells, see clockWidth.
func clock(t time.Time, days bool) string {
	if days {
		return t.Format("01-02 15:04:05")
	}
	return t.Format("15:04:05.000")
}

// clockWidth is the width of a time column.
func (m *Model) clockWidth() int {
	if m.days {
		return 14
	}
	return 12
}

// spansDays is whether times need their date.
func (m *Model) spansDays() bool { return m.days }

// updateDays widens the session's time span by the first and last kept
// exchange and flow and the external lens's destinations; the rows drawn
// widen it too (see widen), since several files read at once interleave.
// When the span covers different days (in the UI's time zone) every time
// is shown with its date. Cached rows were formatted the other way, so
// they are dropped when that changes; it reports whether it did.
func (m *Model) updateDays() bool {
	ex, fl := m.total[paneExchanges], m.total[paneFlows]
	for _, e := range m.cfg.Store.ExchangeRange(m.base[paneExchanges], m.base[paneExchanges]+1) {
		if e != nil {
			m.widen(e.Start)
		}
	}
	for _, e := range m.cfg.Store.ExchangeRange(ex-1, ex) {
		if e != nil {
			m.widen(e.Start)
		}
	}
	for _, f := range flowRange(m.cfg.Store, m.base[paneFlows], m.base[paneFlows]+1) {
		if f != nil {
			m.widen(f.First)
		}
	}
	for _, f := range flowRange(m.cfg.Store, fl-1, fl) {
		if f != nil {
			m.widen(f.Last)
		}
	}
	for _, g := range m.extLast {
		m.widen(g.First)
		m.widen(g.Last)
	}
	days := !m.spanLo.IsZero() && !sameDay(m.spanLo.In(m.loc), m.spanHi.In(m.loc))
	if days == m.days {
		return false
	}
	m.days = days
	clear(m.rowCache)
	return true
}

// widen adds t to the session's time span.
func (m *Model) widen(t time.Time) {
	if t.IsZero() {
		return
	}
	if m.spanLo.IsZero() || t.Before(m.spanLo) {
		m.spanLo = t
	}
	if t.After(m.spanHi) {
		m.spanHi = t
	}
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
