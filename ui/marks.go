package ui

import (
	"cmp"
	"slices"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
)

// Marks are IDs, not positions: they survive sorting, filtering and
// eviction of other rows, and x exports only them while any are set
// (through the same export path as the whole list).

// markCount is how many rows of the current pane are marked.
func (m *Model) markCount() int {
	if m.external() != nil {
		return 0
	}
	return len(m.marks[m.pane])
}

// toggleMark marks or unmarks the row under the cursor and moves down, so
// a run of rows is marked by pressing the key repeatedly.
func (m *Model) toggleMark() tea.Cmd {
	if m.external() != nil {
		return m.flash("marks apply to the exchange and flow lists", false)
	}
	e, f := m.cursorItem(m.pane)
	var id uint64
	switch {
	case e != nil:
		id = e.ID
	case f != nil:
		id = f.ID
	default:
		return m.flash("nothing to mark here", false)
	}
	marks := m.marks[m.pane]
	if marks[id] {
		delete(marks, id)
	} else {
		marks[id] = true
	}
	if m.detail.open {
		return nil
	}
	return m.moveCursor(1)
}

// clearMarks drops every mark of the current pane.
func (m *Model) clearMarks() tea.Cmd {
	n := len(m.marks[m.pane])
	if n == 0 {
		return m.flash("no marks to clear: M marks the row under the cursor", false)
	}
	m.marks[m.pane] = map[uint64]bool{}
	return m.flash("cleared "+thousands(n)+" "+plural(n, "mark")+"; x exports the whole list again", false)
}

// isMarked reports whether the row with id is marked in pane p.
func (m *Model) isMarked(p paneID, id uint64) bool { return m.marks[p][id] }

// markedIDs copies the marks for an export command.
func (m *Model) markedIDs(p paneID) []uint64 {
	if len(m.marks[p]) == 0 {
		return nil
	}
	out := make([]uint64, 0, len(m.marks[p]))
	for id := range m.marks[p] {
		out = append(out, id)
	}
	return out
}

// markedExchanges reads start and flow of the marked exchanges (few: a
// person marked them), dropping any the store no longer keeps.
func (j exportJob) markedExchanges() []shownEx {
	out := make([]shownEx, 0, len(j.marked))
	for _, id := range j.marked {
		if e := j.store.ExchangeByID(id); e != nil {
			out = append(out, shownEx{start: e.Start.UnixNano(), id: e.ID, flow: e.FlowID})
		}
	}
	return out
}

// markedFlows reads the marked flows.
func (j exportJob) markedFlows() []*decode.Flow {
	out := make([]*decode.Flow, 0, len(j.marked))
	for _, id := range j.marked {
		if f := j.store.FlowByID(id); f != nil {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b *decode.Flow) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// markGlyph replaces the row's leading space with a mark.
func markGlyph(pre string) string {
	if len(pre) > 0 && pre[0] == ' ' {
		return "▌" + pre[1:]
	}
	return pre
}
