package ui

import (
	"slices"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
)

// jumpResult is where the other side of a jump was found: the store
// position of an exchange's flow, or of a flow's first exchange.
type jumpResult struct {
	to     paneID
	pos    int // -1: not kept
	detail bool
	what   string
}

// jump goes from an exchange to its connection in the flows list, or
// from a flow to its first exchange; an open detail stays open on the
// target. The search runs over summaries in a command.
func (m *Model) jump() tea.Cmd {
	if m.external() != nil {
		return m.flash("l jumps between an exchange and its flow; open a list with 1 or 2", false)
	}
	e, f := m.cursorItem(m.pane)
	store := m.cfg.Store
	base, total := m.base, m.total
	detail := m.detail.open
	switch {
	case e != nil:
		id := e.FlowID
		return m.work(func() tea.Msg {
			r := jumpResult{to: paneFlows, pos: -1, detail: detail, what: "the flow of this exchange"}
			for i, fl := range flowRange(store, base[paneFlows], total[paneFlows]) {
				if fl != nil && fl.ID == id {
					r.pos = base[paneFlows] + i
					break
				}
			}
			return r
		})
	case f != nil:
		id := f.ID
		return m.work(func() tea.Msg {
			r := jumpResult{to: paneExchanges, pos: -1, detail: detail, what: "an exchange of this flow"}
			find := func(pos int, x *decode.Exchange) bool {
				if x != nil && x.FlowID == id {
					r.pos = pos
					return false
				}
				return true
			}
			if sc, ok := store.(scanner); ok {
				sc.Scan(base[paneExchanges], total[paneExchanges], find)
				return r
			}
			for i, x := range store.ExchangeRange(base[paneExchanges], total[paneExchanges]) {
				if !find(base[paneExchanges]+i, x) {
					break
				}
			}
			return r
		})
	}
	return m.flash("nothing selected to jump from", false)
}

func (m *Model) onJumpResult(r jumpResult) tea.Cmd {
	if r.pos < 0 {
		return m.flash(r.what+" is no longer kept (or this connection carried no decoded exchange)", false)
	}
	shownAt := r.pos - m.base[r.to]
	if o := m.positions(r.to); o != nil {
		shownAt = slices.Index(o, r.pos)
	}
	if shownAt < 0 || shownAt >= m.shown(r.to) {
		return m.flash(r.what+" is hidden by the "+paneName(r.to)+" filter; clear it with / and an empty line", false)
	}
	m.switchPane(r.to)
	l := &m.lists[r.to]
	l.follow = false
	l.cursor = shownAt
	l.offset = shownAt - m.listRows()/2
	m.fixLists()
	if r.detail {
		return m.openDetail()
	}
	return nil
}

func paneName(p paneID) string {
	if p == paneFlows {
		return "flows"
	}
	return "exchanges"
}
