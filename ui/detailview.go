package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tapview/tapview/decode/view"
)

// detailView is the detail view, a small model of its own: the open
// detail of one exchange or flow, always the item under the list cursor.
// The root Model routes keys (Update) and rendered content (onResult) to
// it while it is open and draws it (View) under the list or full screen;
// it reads the shared state (store, masking, the search term, the screen
// size) from the root, which it is handed, and keeps only its own: tab,
// body views, scroll and search matches. Content is rendered off the
// update loop by a detailJob (detail.go).
type detailView struct {
	open    bool
	item    bool // an item was found under the cursor
	pane    paneID
	id      uint64
	version uint64
	tab     int
	choice  [2]int // body view of request and response, or autoView
	used    [2]view.Kind
	title   string
	proto   string // the exchange's protocol, which picks the tab names
	lines   []dline
	have    contentKey
	want    contentKey
	scroll  int
	matches []int // lines holding the search term
	cur     int   // current match
}

// syncDetail points an open detail at the item under the cursor and
// reloads it when that item or its version changed.
func (m *Model) syncDetail() tea.Cmd { return m.detail.sync(m) }

func (d *detailView) sync(m *Model) tea.Cmd {
	if !d.open {
		return nil
	}
	e, f := m.cursorItem(d.pane)
	var id, version uint64
	switch {
	case e != nil:
		id, version = e.ID, e.Version
		d.proto = e.Proto
	case f != nil:
		// Flows carry no version; any change moves the last packet time
		// or the packet count.
		id = f.ID
		version = uint64(f.Last.UnixNano()) + uint64(f.PacketsC2S+f.PacketsS2C)
	default:
		return nil
	}
	if id != d.id || !d.item {
		d.id, d.scroll, d.matches, d.cur, d.title = id, 0, nil, 0, ""
		d.lines = nil
	}
	d.item, d.version = true, version
	return d.reload(m)
}

func (m *Model) contentWidth() int { return max(m.w-2, 20) }

// reloadDetail renders the wanted content in a command unless it is
// already shown or on its way.
func (m *Model) reloadDetail() tea.Cmd { return m.detail.reload(m) }

func (d *detailView) reload(m *Model) tea.Cmd {
	if !d.open || !d.item {
		return nil
	}
	want := contentKey{pane: d.pane, id: d.id, version: d.version, tab: d.tab, width: m.contentWidth(),
		masked: m.masked, search: m.lastSrch, choice: autoView}
	if side := d.side(); side >= 0 {
		want.choice = d.choice[side]
	}
	if want == d.have || want == d.want {
		return nil
	}
	d.want = want
	job := detailJob{key: want, loc: m.loc, mask: m.cfg.Mask, raw: m.cfg.Raw}
	if d.pane == paneFlows {
		job.fl = m.cfg.Store.FlowByID(d.id)
	} else {
		// The whole exchange may have to be re-read from disk: the
		// command does it, not Update.
		job.store, job.id = m.cfg.Store, d.id
	}
	return m.work(job.run)
}

func (d *detailView) tabNames() []string {
	if d.pane == paneFlows {
		return []string{"Flow"}
	}
	if d.proto == "ws" {
		// One WebSocket exchange holds the frames of both directions:
		// they read as one conversation, not as a request and a reply.
		return []string{"Messages", "Summary", "Timing", "Raw"}
	}
	return []string{"Request", "Response", "Timing", "Raw"}
}

// side is 0 on the request tab, 1 on the response tab, else -1 (also
// on a WebSocket exchange's Summary tab, which has no body).
func (d *detailView) side() int {
	if d.pane == paneExchanges && (d.tab == tabRequest || d.tab == tabResponse && d.proto != "ws") {
		return d.tab
	}
	return -1
}

func (d *detailView) onResult(m *Model, r detailResult) {
	if !d.open || r.key != d.want {
		return
	}
	sameItem := d.have.id == r.key.id && d.have.tab == r.key.tab
	newSearch := r.key.search != "" && r.key.search != d.have.search
	d.have = r.key
	d.lines, d.title, d.matches = r.lines, r.title, r.matches
	if side := d.side(); side >= 0 {
		d.used[side] = r.used
	}
	if !sameItem {
		d.cur = 0
	}
	d.cur = min(d.cur, max(len(d.matches)-1, 0))
	if newSearch {
		d.cur = 0
		for i, ln := range d.matches {
			if ln >= d.scroll {
				d.cur = i
				break
			}
		}
		d.showMatch(m)
	}
	d.scrollBy(m, 0)
}

// scrollBy moves the content window by delta lines, clamped.
func (d *detailView) scrollBy(m *Model, delta int) {
	h := m.detailContentRows()
	d.scroll = min(max(d.scroll+delta, 0), max(len(d.lines)-h, 0))
}

// showMatch scrolls so the current match sits a third down the pane.
func (d *detailView) showMatch(m *Model) {
	if len(d.matches) == 0 {
		return
	}
	line := d.matches[d.cur]
	h := m.detailContentRows()
	if line < d.scroll || line >= d.scroll+h {
		d.scroll = line - h/3
	}
	d.scrollBy(m, 0)
}

// Update handles a key while the detail is open; keys it does not
// handle fall through to the ones that mean the same everywhere.
func (d *detailView) Update(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	h := m.detailContentRows()
	switch {
	case key.Matches(k, m.keys.Back):
		d.open = false
		m.fixLists()
	case key.Matches(k, m.keys.Up):
		d.scrollBy(m, -1)
	case key.Matches(k, m.keys.Down):
		d.scrollBy(m, 1)
	case key.Matches(k, m.keys.PageUp):
		d.scrollBy(m, -h)
	case key.Matches(k, m.keys.PageDown):
		d.scrollBy(m, h)
	case key.Matches(k, m.keys.Top):
		d.scroll = 0
	case key.Matches(k, m.keys.Bottom):
		d.scrollBy(m, len(d.lines))
	case key.Matches(k, m.keys.Tab), key.Matches(k, m.keys.BackTab):
		n := len(d.tabNames())
		step := 1
		if key.Matches(k, m.keys.BackTab) {
			step = n - 1
		}
		d.tab = (d.tab + step) % n
		d.scroll = 0
		return m.reloadDetail(), true
	case key.Matches(k, m.keys.NextItem):
		return m.moveCursor(1), true
	case key.Matches(k, m.keys.PrevItem):
		return m.moveCursor(-1), true
	case key.Matches(k, m.keys.View):
		side := d.side()
		if side < 0 {
			return m.flash("body views apply to the request and response tabs", false), true
		}
		kinds := view.Kinds()
		d.choice[side] = int(kinds[(int(d.used[side])+1)%len(kinds)])
		return m.reloadDetail(), true
	case key.Matches(k, m.keys.Save):
		return m.saveBody(), true
	case key.Matches(k, m.keys.Pager):
		return m.openOutside(false), true
	case key.Matches(k, m.keys.Editor):
		return m.openOutside(true), true
	case key.Matches(k, m.keys.Filter):
		m.openPrompt(promptSearch, "")
	case key.Matches(k, m.keys.Next), key.Matches(k, m.keys.Prev):
		if len(d.matches) == 0 {
			if m.lastSrch == "" {
				return m.flash("no search yet: / searches this pane", false), true
			}
			return m.flash("no match for "+quote(m.lastSrch), false), true
		}
		n := len(d.matches)
		if key.Matches(k, m.keys.Next) {
			d.cur = (d.cur + 1) % n
		} else {
			d.cur = (d.cur + n - 1) % n
		}
		d.showMatch(m)
	case key.Matches(k, m.keys.Enter):
	default:
		return nil, false
	}
	return nil, true
}

// View renders the detail pane in exactly h lines.
func (d *detailView) View(m *Model, h int) []string {
	out := make([]string, 0, h)
	if m.split() {
		out = append(out, m.st.dim.Render(strings.Repeat("─", m.w)))
	}
	title := d.title
	if title == "" {
		title = m.spinner() + " loading"
	}
	out = append(out, m.st.bold.Render(fit(" "+title, m.w)))
	out = append(out, d.tabBar(m))
	rows := h - len(out)
	var hl highlighter
	if m.lastSrch != "" && d.have.search == m.lastSrch {
		hl = newHighlighter(m.lastSrch)
	}
	cur := -1
	if len(d.matches) > 0 {
		cur = d.matches[d.cur]
	}
	for i := 0; i < rows; i++ {
		li := d.scroll + i
		if li >= len(d.lines) {
			out = append(out, "")
			continue
		}
		out = append(out, d.renderLine(m, d.lines[li], hl, li == cur))
	}
	return out
}

// tabBar shows the tabs and, on the right, the body view, the scroll
// position and the search state.
func (d *detailView) tabBar(m *Model) string {
	var b strings.Builder
	b.WriteByte(' ')
	for i, name := range d.tabNames() {
		if i == d.tab {
			b.WriteString(m.st.tabOn.Render(" " + name + " "))
		} else {
			b.WriteString(m.st.tabOff.Render(" " + name + " "))
		}
	}
	var info []string
	if d.want != d.have {
		info = append(info, m.spinner()+" rendering")
	}
	if side := d.side(); side >= 0 && d.lines != nil {
		info = append(info, "body "+d.used[side].String())
	}
	if n := len(d.lines); n > 0 {
		last := min(d.scroll+m.detailContentRows(), n)
		info = append(info, thousands(d.scroll+1)+"–"+thousands(last)+" of "+thousands(n))
	}
	if m.lastSrch != "" {
		s := "/" + m.lastSrch + " "
		if len(d.matches) == 0 {
			s += "no match"
		} else {
			s += thousands(d.cur+1) + " of " + thousands(len(d.matches))
		}
		info = append(info, s)
	}
	return joinEnds(b.String(), m.st.dim.Render(strings.Join(info, " · ")+" "), m.w)
}

// renderLine styles one content line, cut to the content width.
func (d *detailView) renderLine(m *Model, l dline, hl highlighter, current bool) string {
	cw := m.w - 2
	text := l.text
	if width(text) > cw {
		text = ansi.Truncate(text, cw, "…")
	}
	if hl.active() && hl.has(text) {
		return " " + hl.render(text, m.st.match, m.st.matchCur, current)
	}
	split := min(l.split, len(text))
	switch l.kind {
	case lineStart:
		return " " + m.st.bold.Render(text)
	case lineHeader:
		return " " + m.st.headerName.Render(text[:split]) + text[split:]
	case lineSection:
		return " " + m.st.section.Render(text)
	case lineNote:
		return " " + m.st.note.Render(text)
	case lineWarn:
		return " " + m.st.errText.Render(text)
	case lineBarReq:
		return " " + m.st.headerName.Render(text[:split]) + m.st.barReq.Render(text[split:])
	case lineBarWait:
		return " " + m.st.headerName.Render(text[:split]) + m.st.barWait.Render(text[split:])
	case lineBarResp:
		return " " + m.st.headerName.Render(text[:split]) + m.st.barResp.Render(text[split:])
	}
	return " " + text
}
