package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Below this size the detail opens full screen instead of under the list.
const (
	splitMinW = 120
	splitMinH = 36
)

// Smallest usable terminal.
const (
	minW = 40
	minH = 8
)

// split reports whether list and detail share the screen.
func (m *Model) split() bool {
	return m.detail.open && m.w >= splitMinW && m.h >= splitMinH
}

// bodyHeight is the number of lines between the header and the bottom
// lines (progress, prompt error, status bar).
func (m *Model) bodyHeight() int {
	h := m.h - 2
	if m.showProgress() {
		h--
	}
	h -= len(m.promptError())
	h -= len(m.statusLines())
	return max(h, 2)
}

// listHeight includes the column titles.
func (m *Model) listHeight() int {
	b := m.bodyHeight()
	if m.split() {
		return max(b*2/5, 6)
	}
	return b
}

func (m *Model) listRows() int { return max(m.listHeight()-1, 1) }

func (m *Model) detailHeight() int {
	if m.split() {
		return m.bodyHeight() - m.listHeight()
	}
	return m.bodyHeight()
}

// detailChrome is the rule (split only), the title and the tab bar.
func (m *Model) detailChrome() int {
	if m.split() {
		return 3
	}
	return 2
}

func (m *Model) detailContentRows() int { return max(m.detailHeight()-m.detailChrome(), 1) }

// View renders the screen. It only lays out what Update prepared: rows are
// already fetched and formatted, detail content already rendered.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "tapview"
	if m.prompt != nil && m.w >= minW && m.h >= minH {
		label := m.prompt.label(m.pane)
		_, x := m.prompt.edit.view(m.promptRoom(label))
		v.Cursor = tea.NewCursor(1+width(label)+x, m.h-1)
	}
	return v
}

func (m *Model) render() string {
	if m.w < minW || m.h < minH {
		return "terminal too small for tapview\n(need 40x8)"
	}
	lines := make([]string, 0, m.h)
	lines = append(lines, m.headerLine())
	switch {
	case m.over != nil:
		lines = append(lines, m.over.lines(m, m.bodyHeight())...)
	default:
		if !m.detail.open || m.split() {
			lines = append(lines, m.list().View(m, m.listHeight())...)
		}
		if m.detail.open {
			lines = append(lines, m.detail.View(m, m.detailHeight())...)
		}
		if m.showProgress() {
			lines = append(lines, m.progressLine())
		}
	}
	lines = append(lines, m.promptError()...)
	lines = append(lines, m.statusLines()...)
	for len(lines) < m.h-1 {
		lines = append(lines, "")
	}
	if m.prompt != nil {
		lines = append(lines, m.promptLine())
	} else {
		lines = append(lines, m.statusBar())
	}
	return strings.Join(lines, "\n")
}

// promptRoom is the width left for the prompt's text.
func (m *Model) promptRoom(label string) int { return max(m.w-2-width(label), 4) }

func (m *Model) promptLine() string {
	label := m.prompt.label(m.pane)
	text, _ := m.prompt.edit.view(m.promptRoom(label))
	return " " + m.st.bold.Render(label) + text
}

// promptError puts a caret under the problem the filter compiler found,
// with the message after it; a message too long for the rest of the line
// wraps onto at most two more lines below.
func (m *Model) promptError() []string {
	p := m.prompt
	if p == nil || p.err == "" {
		return nil
	}
	st := m.st.errText
	if p.errPos < 0 {
		return styledLines(wrapProse(p.err, m.w-2, 3), " ", st, m.w)
	}
	label := p.label(m.pane)
	room := m.promptRoom(label)
	start := 0
	if p.edit.pos >= room {
		start = p.edit.pos - room + 1
	}
	pos := min(max(p.errPos, start), len(p.edit.r))
	col := 1 + width(label) + width(string(p.edit.r[start:pos]))
	if col+2+width(p.err) <= m.w {
		return []string{spaces(col) + st.Render("^ "+p.err)}
	}
	out := []string{spaces(col) + st.Render("^")}
	return append(out, styledLines(wrapProse(p.err, m.w-2, 2), " ", st, m.w)...)
}

// wrapProse word-wraps text to w cells in at most n lines.
func wrapProse(text string, w, n int) []string {
	lines := strings.Split(ansi.Wrap(text, max(w, 10), ""), "\n")
	if len(lines) > n {
		lines = lines[:n]
		lines[n-1] = ansi.Truncate(lines[n-1]+" …", w, "…")
	}
	return lines
}

func styledLines(lines []string, indent string, st lipgloss.Style, w int) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = truncateStyled(indent+st.Render(l), w)
	}
	return out
}
