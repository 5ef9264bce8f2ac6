package ui

import (
	"sort"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/sources"
)

// refreshEvery is the shortest time between two reads of the store: the UI
// wakes at most ten times a second however fast traffic arrives.
const refreshEvery = 100 * time.Millisecond

// spinEvery paces the loading spinner.
const spinEvery = 120 * time.Millisecond

type (
	// storeChangedMsg carries the process's memory, read by the waiting
	// command (MemoryUsed may read /proc, and Update does no I/O); 0 when
	// not read.
	storeChangedMsg struct{ mem int64 }
	rearmMsg        struct{}
	spinMsg         struct{}
)

// waitCmd blocks until the store signals a change (or the UI ends).
func (m *Model) waitCmd() tea.Cmd {
	ch := m.wake
	ctx := m.ctx
	mem := m.cfg.MemoryUsed
	return func() tea.Msg {
		select {
		case <-ch:
			msg := storeChangedMsg{}
			if mem != nil {
				msg.mem = mem()
			}
			return msg
		case <-ctx.Done():
			return nil
		}
	}
}

// onStoreChanged pulls the store, then waits refreshEvery before listening
// again; changes in between coalesce in the store's one-slot channel.
func (m *Model) onStoreChanged(msg storeChangedMsg) tea.Cmd {
	if msg.mem > 0 {
		m.memUsed = msg.mem
	}
	rearm := tea.Tick(refreshEvery, func(time.Time) tea.Msg { return rearmMsg{} })
	return tea.Batch(m.pull(), rearm)
}

// pull reads counts, source statistics and notes, advances filters and
// the follow cursor, and reloads an open detail whose exchange changed.
func (m *Model) pull() tea.Cmd {
	if !m.paused {
		ex, fl := m.cfg.Store.Len()
		m.total = [2]int{ex, fl}
		if w, ok := m.cfg.Store.(windowed); ok {
			bex, bfl := w.Base()
			m.moveBase(paneExchanges, bex)
			m.moveBase(paneFlows, bfl)
		}
	}
	m.stats = m.cfg.Store.Stats()
	m.note, m.noteLv, m.noteKd = "", 0, ""
	notes := m.cfg.Store.Notes()
	m.srcNotes = notes
	m.updateDays()
	for i := len(notes) - 1; i >= 0; i-- {
		if n := notes[i]; n.Level >= sources.Warning {
			m.note = view.Sanitize(n.Message)
			if len(m.stats) > 1 {
				m.note = view.Sanitize(n.Source) + ": " + m.note
			}
			m.noteLv = int(n.Level)
			m.noteKd = view.Sanitize(n.Kind)
			if m.noteKd == "" {
				m.noteKd = n.Level.String()
			}
			break
		}
	}
	m.fixLists()
	return tea.Batch(m.stepFilters(true), m.syncDetail(), m.startSpin(), m.loadExternal(),
		m.startSort(paneExchanges, false), m.startSort(paneFlows, false))
}

// resume catches up after a pause.
func (m *Model) resume() tea.Cmd {
	m.paused = false
	return m.pull()
}

// loading reports a file source still being read (live sources never end,
// so they do not spin).
func (m *Model) loading() bool {
	if m.cfg.Live {
		return false
	}
	for _, s := range m.stats {
		if !s.Done {
			return true
		}
	}
	return false
}

func (m *Model) filtering() bool {
	return m.idx[0].building || m.idx[1].building
}

func (m *Model) busy() bool {
	return m.loading() || m.filtering() || m.inflight > 0
}

// startSpin animates the spinner while something is under way, and stops
// ticking when idle so an idle screen costs nothing.
func (m *Model) startSpin() tea.Cmd {
	if m.spinning || !m.busy() {
		return nil
	}
	m.spinning = true
	return tea.Tick(spinEvery, func(time.Time) tea.Msg { return spinMsg{} })
}

func (m *Model) onSpin() tea.Cmd {
	m.spinning = false
	if !m.busy() {
		return nil
	}
	m.spin++
	return m.startSpin()
}

func (m *Model) spinner() string {
	frames := [...]string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
	return frames[m.spin%len(frames)]
}

// moveBase follows the store's eviction: positions below base are gone.
// Unfiltered rows are numbered from base, so the cursor moves up by what
// was dropped and stays on the same item; a filter drops its matches
// below base, and the cursor moves up by as many.
func (m *Model) moveBase(p paneID, base int) {
	d := base - m.base[p]
	if d <= 0 {
		return
	}
	m.base[p] = base
	l := &m.lists[p]
	ix := &m.idx[p]
	if ix.active() {
		k := sort.SearchInts(ix.matches, base)
		d = k
		ix.matches = ix.matches[k:]
		ix.pending = dropBelow(ix.pending, base)
		ix.scanned = max(ix.scanned, base)
	}
	if s := &m.sorts[p]; s.order != nil {
		// Sorted rows are not numbered from base: drop the evicted ones
		// and leave the cursor on its row.
		sel := m.selectedPos(p)
		s.order = dropBelow(s.order, base)
		if sel >= base {
			m.keepSelection(p, sel)
		}
		return
	}
	l.cursor = max(l.cursor-d, 0)
	l.offset = max(l.offset-d, 0)
}

// dropBelow returns the positions of ps at or above base (ps need not be
// sorted).
func dropBelow(ps []int, base int) []int {
	out := ps[:0:0]
	for _, p := range ps {
		if p >= base {
			out = append(out, p)
		}
	}
	return out
}
