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

// updateDays looks at the first and last kept exchange and flow, and at
// the external lens's destinations: when they fall on different days (in
// the UI's time zone) every time is shown with its date. Cached rows were
// formatted the other way, so they are dropped when that changes.
func (m *Model) updateDays() {
	var lo, hi time.Time
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	ex, fl := m.total[paneExchanges], m.total[paneFlows]
	for _, e := range m.cfg.Store.ExchangeRange(m.base[paneExchanges], m.base[paneExchanges]+1) {
		if e != nil {
			see(e.Start)
		}
	}
	for _, e := range m.cfg.Store.ExchangeRange(ex-1, ex) {
		if e != nil {
			see(e.Start)
		}
	}
	for _, f := range flowRange(m.cfg.Store, m.base[paneFlows], m.base[paneFlows]+1) {
		if f != nil {
			see(f.First)
		}
	}
	for _, f := range flowRange(m.cfg.Store, fl-1, fl) {
		if f != nil {
			see(f.Last)
		}
	}
	for _, g := range m.ext.groups {
		see(g.First)
		see(g.Last)
	}
	days := !lo.IsZero() && !sameDay(lo.In(m.loc), hi.In(m.loc))
	if days != m.days {
		m.days = days
		clear(m.rowCache)
	}
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}
