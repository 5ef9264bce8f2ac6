package ui

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/sources"
)

// statusOverflows reports whether the transient message is too long for
// the status bar; it is then shown whole, wrapped, on the lines above it
// instead of being cut or dropped.
func (m *Model) statusOverflows() bool {
	return m.status.text != "" && width(m.status.text)+2 > m.w*3/5
}

// statusLines are the lines of an overflowing message (at most three).
func (m *Model) statusLines() []string {
	if m.prompt != nil || !m.statusOverflows() {
		return nil
	}
	st := m.st.bold
	if m.status.err {
		st = m.st.errText
	}
	return styledLines(wrapProse(m.status.text, m.w-2, 3), " ", st, m.w)
}

// headerLine is the top line: the app, the two panes with their counts,
// and the help hint.
func (m *Model) headerLine() string {
	tab := func(p paneID, n, name string) string {
		label := n + " " + name + " " + thousands(m.shown(p))
		if m.idx[p].active() {
			label += "/" + thousands(m.total[p])
		}
		if m.pane == p && m.external() == nil && m.statsOpen() == nil {
			return m.st.paneOn.Render(label)
		}
		return m.st.paneOff.Render(label)
	}
	left := " " + m.st.app.Render("tapview") + "   " + tab(paneExchanges, "1", "Exchanges") + "   " + tab(paneFlows, "2", "Flows")
	left += m.statsTab() + m.externalTab()
	right := m.st.keyHint.Render("? help ")
	return joinEnds(left, right, m.w)
}

// joinEnds puts right at the right edge of a line of width w, dropping it
// when there is no room.
func joinEnds(left, right string, w int) string {
	lw, rw := width(left), width(right)
	if lw+rw+1 > w {
		if lw > w {
			return truncateStyled(left, w)
		}
		return left + spaces(w-lw)
	}
	return left + spaces(w-lw-rw) + right
}

// segment is one part of the status bar; lower priority goes first when
// the line is too narrow.
type segment struct {
	text string // styled
	prio int
}

// statusBar is the bottom line: sources, counts, filter, drops, masking,
// follow and pause state, and transient messages.
func (m *Model) statusBar() string {
	var segs []segment
	add := func(text string, prio int) {
		if text != "" {
			segs = append(segs, segment{text, prio})
		}
	}
	if !m.masked {
		add(m.st.unmasked.Render(" UNMASKED "), 100)
	}
	if m.paused {
		label := " PAUSED "
		ex, fl := m.cfg.Store.Len()
		extra := ex - m.total[paneExchanges]
		if m.pane == paneFlows {
			extra = fl - m.total[paneFlows]
		}
		if extra > 0 {
			label = " PAUSED · " + thousands(extra) + " new "
		}
		add(m.st.paused.Render(label), 95)
	}
	if m.status.text != "" && !m.statusOverflows() {
		st := m.st.bold
		if m.status.err {
			st = m.st.errText
		}
		add(st.Render(m.status.text), 90)
	}
	if n, worst := m.noteCount(); n > 0 {
		st := m.st.dim
		if worst >= sources.Warning {
			st = m.st.warn
		}
		add(st.Render("E "+thousands(n)+" "+plural(n, "note")), 76)
	}
	if n := m.markCount(); n > 0 {
		add(m.st.bold.Render(thousands(n)+" marked"), 85)
	}
	if s := m.sortLabel(); s != "" {
		add(m.st.dim.Render("sort ")+s, 45)
	}
	add(m.sourceSegment(), 60)
	if m.noteKd != "" {
		st := m.st.warn
		if m.noteLv >= 2 {
			st = m.st.errText
		}
		add(st.Render("⚠ "+m.noteKd), 75)
	}
	shown, total := m.shown(m.pane), m.total[m.pane]
	kept := total - m.base[m.pane]
	filtered := m.idx[m.pane].active()
	noun := "exchange"
	if m.pane == paneFlows {
		noun = "flow"
	}
	// With eviction the count says how much of the session is still
	// held: "kept last 1.2M of 3.4M exchanges".
	var count string
	switch {
	case m.base[m.pane] > 0 && filtered:
		count = thousands(shown) + " of the last " + short(kept) + " (of " + short(total) + ") " + plural(total, noun)
	case m.base[m.pane] > 0:
		count = m.st.warn.Render("kept last "+short(kept)) + " of " + short(total) + " " + plural(total, noun)
	case filtered:
		count = thousands(shown) + " of " + thousands(total) + " " + plural(total, noun)
	default:
		count = thousands(shown) + " " + plural(total, noun)
	}
	if v := m.external(); v != nil {
		count = thousands(len(v.groups)) + " " + plural(len(v.groups), "destination")
	}
	if v := m.statsOpen(); v != nil {
		count = v.count()
	}
	add(count, 80)
	if m.cfg.Memory > 0 && m.memUsed > 0 {
		add(m.st.dim.Render("mem "+mebibytes(m.memUsed)+"/"+mebibytes(m.cfg.Memory)), 30)
	}
	if m.both {
		add(m.st.warn.Render("both legs"), 85)
	}
	ix := &m.idx[m.pane]
	switch {
	case ix.building:
		progress := ""
		if pct := ix.prog.percent(); pct >= 0 {
			// Filters on headers or bodies re-read exchanges from disk;
			// say how far the pass got, not only that it runs.
			progress = " " + strconv.Itoa(pct) + "%"
		}
		add(m.st.warn.Render(m.spinner()+" filtering"+progress+" "+view.Sanitize(ix.next)), 70)
	case ix.active():
		e := view.Sanitize(ix.expr)
		add(m.st.dim.Render("filter ")+fit(e, min(width(e), max(m.w/3, 16))), 70)
	}
	if drops := m.drops(); drops > 0 {
		add(m.st.warn.Render("drops "+thousands(int(drops))), 65)
	}
	if m.note != "" {
		st := m.st.warn
		if m.noteLv >= 2 {
			st = m.st.errText
		}
		add(st.Render(m.note), 20)
	}
	if m.masked {
		add(m.st.dim.Render("masked"), 40)
	}
	if m.lists[m.pane].follow {
		add(m.st.bold.Render("follow"), 50)
	}
	hints := m.st.keyHint.Render(m.hints())
	if m.status.text != "" {
		// A message outranks the key hints, which are always the same.
		hints = ""
	}
	return m.layoutSegments(segs, hints)
}

// layoutSegments joins segments with a separator, dropping the least
// important ones until they fit next to the key hints (which go first).
func (m *Model) layoutSegments(segs []segment, hints string) string {
	sep := m.st.dim.Render(" · ")
	order := make([]segment, len(segs))
	copy(order, segs)
	sort.SliceStable(order, func(i, j int) bool { return order[i].prio < order[j].prio })
	keep := make(map[int]bool, len(segs))
	for i := range segs {
		keep[i] = true
	}
	build := func() string {
		var parts []string
		for i, s := range segs {
			if keep[i] {
				parts = append(parts, s.text)
			}
		}
		return " " + strings.Join(parts, sep)
	}
	line := build()
	for _, s := range order {
		if width(line)+width(hints)+1 <= m.w {
			break
		}
		for i := range segs {
			if segs[i] == s && keep[i] {
				keep[i] = false
				break
			}
		}
		line = build()
	}
	if width(line)+width(hints)+1 > m.w {
		return truncateStyled(line, m.w)
	}
	return joinEnds(line, hints, m.w)
}

// hints are the few keys worth remembering in the current state.
func (m *Model) hints() string {
	switch {
	case m.over != nil:
		return m.over.hints()
	case m.detail.open && m.detail.pane == paneFlows:
		return "s bytes · l exchanges · q back "
	case m.detail.open:
		return "tab tabs · v view · / search · q back "
	default:
		return "/ filter · enter open "
	}
}

func (m *Model) drops() int64 {
	var n int64
	for _, s := range m.stats {
		n += s.Dropped
	}
	return n
}

// sourceSegment summarises the sources: one by name and state, several by
// count.
func (m *Model) sourceSegment() string {
	if len(m.stats) == 0 {
		return view.Sanitize(m.cfg.Title)
	}
	if len(m.stats) == 1 {
		s := m.stats[0]
		name := view.Sanitize(s.Name)
		switch {
		case s.Err != "":
			return m.st.errText.Render(name + " ✗ " + view.Sanitize(s.Err))
		case s.Done:
			return name + m.st.ok.Render(" ✓")
		case m.cfg.Live:
			return name + m.st.ok.Render(" ● live")
		case s.Total > 0:
			return fmt.Sprintf("%s %s %d%%", name, m.spinner(), percent(s.Bytes, s.Total))
		}
		return name + " " + m.spinner()
	}
	done, failed := 0, 0
	for _, s := range m.stats {
		if s.Done {
			done++
		}
		if s.Err != "" {
			failed++
		}
	}
	txt := fmt.Sprintf("%d sources", len(m.stats))
	switch {
	case failed > 0:
		return txt + m.st.errText.Render(fmt.Sprintf(" %d failed", failed))
	case done == len(m.stats):
		return txt + m.st.ok.Render(" ✓")
	case m.cfg.Live:
		return txt + m.st.ok.Render(" ● live")
	}
	return fmt.Sprintf("%s %s %d reading", txt, m.spinner(), len(m.stats)-done)
}

// plural picks "flow" or "flows" for n.
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

func percent(n, total int64) int {
	if total <= 0 {
		return 0
	}
	return int(min(n*100/total, 100))
}

// showProgress reports whether the loading line is on screen.
func (m *Model) showProgress() bool { return m.loading() }

// progressLine shows how far reading the capture files has come: packets
// and bytes read, and a bar when the total size is known.
func (m *Model) progressLine() string {
	var pkts, read, total int64
	var names []string
	for _, s := range m.stats {
		if s.Done {
			continue
		}
		pkts += s.Packets
		read += s.Bytes
		total += s.Total
		names = append(names, view.Sanitize(s.Name))
	}
	what := strings.Join(names, ", ")
	if len(names) > 2 {
		what = fmt.Sprintf("%d sources", len(names))
	}
	txt := fmt.Sprintf(" %s reading %s · %s packets · %s", m.spinner(), what, thousands(int(pkts)), longBytes(read))
	if total > 0 {
		txt += fmt.Sprintf(" of %s · %d%%", longBytes(total), percent(read, total))
		if room := m.w - width(txt) - 3; room >= 10 {
			bar := min(room, 40)
			done := int(int64(bar) * min(read, total) / total)
			txt += "  " + m.st.ok.Render(strings.Repeat("━", done)) + m.st.dim.Render(strings.Repeat("─", bar-done))
		}
	}
	return truncateStyled(txt, m.w)
}
