package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode/view"
)

// listView is one list, exchanges or flows, as a small model of its
// own: its cursor, scroll offset and follow mode, its keys (Update) and
// its rows on screen (View). cursor and offset are indexes into what the
// list shows (after filtering and sorting), not store positions. The
// root Model keeps what the lists share with other views and with each
// other (the store, each pane's filter index and sort, marks, masking,
// the fetched rows of the current frame) and routes keys here while no
// detail, overlay or prompt takes them.
type listView struct {
	pane           paneID
	cursor, offset int
	// follow keeps the cursor on the newest row as rows arrive.
	follow bool
}

// clampTo keeps the cursor inside n rows and visible in a window of rows.
func (l *listView) clampTo(n, rows int) {
	if n <= 0 {
		l.cursor, l.offset = 0, 0
		return
	}
	if l.follow {
		l.cursor = n - 1
	}
	l.cursor = min(max(l.cursor, 0), n-1)
	rows = max(rows, 1)
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+rows {
		l.offset = l.cursor - rows + 1
	}
	l.offset = min(max(l.offset, 0), max(n-rows, 0))
}

// moveCursor moves the current list's cursor; moving up stops following.
func (m *Model) moveCursor(delta int) tea.Cmd { return m.list().move(m, delta) }

// list is the current pane's list.
func (m *Model) list() *listView { return &m.lists[m.pane] }

func (l *listView) move(m *Model, delta int) tea.Cmd {
	if delta < 0 {
		l.follow = false
	}
	l.cursor += delta
	m.fixLists()
	return m.syncDetail()
}

// Update handles a key on the list; keys it does not handle fall
// through to the ones that mean the same everywhere.
func (l *listView) Update(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	rows := m.listRows()
	switch {
	case key.Matches(k, m.keys.Up):
		return l.move(m, -1), true
	case key.Matches(k, m.keys.Down):
		return l.move(m, 1), true
	case key.Matches(k, m.keys.PageUp):
		return l.move(m, -rows), true
	case key.Matches(k, m.keys.PageDown):
		return l.move(m, rows), true
	case key.Matches(k, m.keys.Top):
		l.follow = false
		l.cursor = 0
		m.fixLists()
	case key.Matches(k, m.keys.Bottom):
		l.cursor = m.shown(l.pane) - 1
		l.follow = m.cfg.Live
		m.fixLists()
	case key.Matches(k, m.keys.Enter):
		return m.openDetail(), true
	case key.Matches(k, m.keys.Tab):
		m.switchPane(1 - l.pane)
	case key.Matches(k, m.keys.Filter):
		if m.cfg.Compile == nil {
			return m.flash("filtering is not available here", true), true
		}
		m.openPrompt(promptFilter, m.idx[l.pane].expr)
	case key.Matches(k, m.keys.Back):
		if k.String() == "q" {
			// q goes back (as in mitmproxy); from the list there is
			// nowhere to go back to, so it quits.
			return tea.Quit, true
		}
		m.status = statusLine{}
	case key.Matches(k, m.keys.Next), key.Matches(k, m.keys.Prev):
		return m.flash("n/N step through search matches in the detail; here / filters the list", false), true
	default:
		return nil, false
	}
	return nil, true
}

// View renders the column titles and exactly h-1 rows, from the rows
// the root fetched for this frame (refreshRows).
func (l *listView) View(m *Model, h int) []string {
	out := make([]string, 0, h)
	m.srcLabels = nil
	switch l.pane {
	case paneExchanges:
		c := m.exchangeColumns()
		m.labelSources(c, exSrc)
		out = append(out, m.exchangeTitles(c))
		for i := range m.exRows {
			if len(out) >= h {
				break
			}
			out = append(out, m.renderExRow(&m.exRows[i], c, l.offset+i == l.cursor))
		}
	case paneFlows:
		c := m.flowColumns()
		m.labelSources(c, flSrc)
		out = append(out, m.flowTitles(c))
		for i := range m.flRows {
			if len(out) >= h {
				break
			}
			out = append(out, m.renderFlRow(&m.flRows[i], c, l.offset+i == l.cursor))
		}
	}
	if len(out) == 1 {
		out = append(out, m.st.dim.Render(" "+l.emptyText(m)))
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out
}

// labelSources prepares the SOURCE cells of this frame when the column
// is shown and too narrow for some names (see sourceLabels).
func (m *Model) labelSources(cols []column, key int) {
	for _, c := range cols {
		if c.key != key {
			continue
		}
		names := make([]string, 0, len(m.stats))
		for _, s := range m.stats {
			names = append(names, view.Sanitize(s.Name))
		}
		m.srcLabels = sourceLabels(names, c.w)
	}
}

func (l *listView) emptyText(m *Model) string {
	switch {
	case m.idx[l.pane].active():
		return "nothing matches the filter"
	case m.loading():
		return "reading…"
	case l.pane == paneFlows:
		return "no flows yet"
	}
	return "no exchanges yet"
}
