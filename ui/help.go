package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tapview/tapview/decode/filter"
)

// highlighter marks occurrences of a search term, case-insensitively.
type highlighter struct {
	term, lower string
}

func newHighlighter(term string) highlighter {
	return highlighter{term: term, lower: strings.ToLower(term)}
}

func (h highlighter) active() bool { return h.term != "" }

func (h highlighter) has(s string) bool { return containsFold(s, h.term) }

// render styles every occurrence; the line holding the current match uses
// the stronger style. When lower-casing changes byte lengths (rare
// scripts), the whole line is marked instead.
func (h highlighter) render(s string, match, cur lipgloss.Style, current bool) string {
	st := match
	if current {
		st = cur
	}
	ls := strings.ToLower(s)
	if len(ls) != len(s) {
		return st.Render(s)
	}
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(ls[i:], h.lower)
		if j < 0 {
			break
		}
		b.WriteString(s[i : i+j])
		b.WriteString(st.Render(s[i+j : i+j+len(h.lower)]))
		i += j + len(h.lower)
	}
	b.WriteString(s[i:])
	return b.String()
}

// helpView is the help screen: every key binding, grouped and packed
// into as many columns as fit, then the filter language. It scrolls, so
// it is whole at 80x24; a key that does not scroll closes it.
type helpView struct{ scroller }

func (v *helpView) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	all := m.helpAll()
	if v.scrollKey(m.keys, k, len(all), m.bodyHeight()-1) {
		return nil, true
	}
	if key.Matches(k, m.keys.Help) {
		m.closeOverlay()
		return nil, true
	}
	// Any other key closes help and does nothing else, so a key pressed
	// to leave help never acts on the list behind it.
	m.closeOverlay()
	return nil, true
}

func (v *helpView) hints() string { return "j/k scroll · q close " }

func (v *helpView) lines(m *Model, h int) []string {
	all := m.helpAll()
	body := v.window(all, h-1)
	foot := "  any other key closes this help"
	if pos := v.position(len(all), h-1); pos != "" {
		foot = "  j/k, pgdn/pgup scroll · " + pos + " · q closes"
	}
	out := append(body, m.st.dim.Render(foot))
	for i := range out {
		out[i] = truncateStyled(out[i], m.w)
	}
	return out
}

// helpAll renders every line of the help screen.
func (m *Model) helpAll() []string {
	type block []string
	var blocks []block
	keyW := 0
	for _, g := range m.keys.groups() {
		for _, b := range g.bindings {
			keyW = max(keyW, width(b.Help().Key))
		}
	}
	colW := 0
	for _, g := range m.keys.groups() {
		bl := block{m.st.bold.Render(g.title)}
		colW = max(colW, width(g.title))
		for _, b := range g.bindings {
			hp := b.Help()
			line := m.st.headerName.Render(fit(hp.Key, keyW)) + "  " + hp.Desc
			colW = max(colW, keyW+2+width(hp.Desc))
			bl = append(bl, line)
		}
		blocks = append(blocks, bl)
	}
	colW += 3
	cols := max((m.w-2)/colW, 1)
	// Pack blocks into columns top to bottom, balancing heights.
	total := 0
	for _, bl := range blocks {
		total += len(bl) + 1
	}
	target := (total + cols - 1) / cols
	var columns [][]string
	var cur []string
	for _, bl := range blocks {
		if len(cur) > 0 && len(cur)+len(bl) > target && len(columns) < cols-1 {
			columns = append(columns, cur)
			cur = nil
		}
		if len(cur) > 0 {
			cur = append(cur, "")
		}
		cur = append(cur, bl...)
	}
	columns = append(columns, cur)
	rows := 0
	for _, c := range columns {
		rows = max(rows, len(c))
	}
	var out []string
	for r := 0; r < rows; r++ {
		var b strings.Builder
		b.WriteString("  ")
		for _, c := range columns {
			cell := ""
			if r < len(c) {
				cell = c[r]
			}
			b.WriteString(cell + spaces(colW-width(cell)))
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	out = append(out, "")
	return append(out, m.filterHelp()...)
}

// filterHelp lists the filter variables from the compiler's own table,
// wrapped to the screen, with a few examples.
func (m *Model) filterHelp() []string {
	out := []string{
		"  " + m.st.bold.Render("Filters") + m.st.dim.Render("  CEL expressions; a bare word searches the URL"),
		m.st.dim.Render(`  e.g.  status >= 500   method == "POST" && host.endsWith(".internal")   login`),
	}
	var names []string
	for _, v := range filter.Variables() {
		names = append(names, v.Name)
	}
	line := "  "
	for _, n := range names {
		if width(line)+len(n)+1 > m.w-2 && line != "  " {
			out = append(out, m.st.headerName.Render(line))
			line = "  "
		}
		line += n + " "
	}
	if line != "  " {
		out = append(out, m.st.headerName.Render(line))
	}
	return out
}
