package ui

import (
	"path/filepath"
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode/view"
)

type promptKind int

const (
	promptFilter promptKind = iota
	promptSearch
	promptExport
	promptSave
)

// prompt is the one-line input at the bottom of the screen. It replaces
// the status bar while open; an error from submitting it shows on the line
// above with a caret under the problem.
type prompt struct {
	kind   promptKind
	edit   lineEdit
	err    string
	errPos int // rune offset of the problem, or -1
	marked int // export prompt: how many marked rows will be written
	side   int // save prompt: 0 request body, 1 response body
}

func (m *Model) openPrompt(kind promptKind, value string) {
	p := &prompt{kind: kind, errPos: -1}
	p.edit.set(value)
	m.history.pos = len(m.history.entries)
	if kind == promptExport {
		p.marked = len(m.marks[m.pane])
	}
	m.prompt = p
	m.fixLists()
}

func (m *Model) closePrompt() {
	m.prompt = nil
	m.fixLists()
}

func (p *prompt) label(pane paneID) string {
	switch p.kind {
	case promptSearch:
		return "search› "
	case promptExport:
		if p.marked > 0 {
			return "export " + thousands(p.marked) + " marked to› "
		}
		return "export to› "
	case promptSave:
		return "save " + sideName(p.side) + " body to› "
	}
	if pane == paneFlows {
		return "flow filter› "
	}
	return "filter› "
}

func (m *Model) onPromptKey(k tea.KeyPressMsg) tea.Cmd {
	p := m.prompt
	switch k.String() {
	case "esc":
		m.closePrompt()
		return nil
	case "enter":
		return m.submitPrompt()
	case "up", "down":
		if p.kind == promptFilter {
			delta := -1
			if k.String() == "down" {
				delta = 1
			}
			if m.history.walk(&p.edit, delta) {
				p.err, p.errPos = "", -1
				m.fixLists()
			}
		}
		return nil
	}
	if p.edit.handle(k) {
		p.err, p.errPos = "", -1
		m.fixLists()
	}
	return nil
}

func (m *Model) submitPrompt() tea.Cmd {
	p := m.prompt
	value := strings.TrimSpace(p.edit.String())
	switch p.kind {
	case promptFilter:
		cmd, err := m.setFilter(m.pane, value)
		if err != nil {
			pos, msg, ok := errorCaret(err)
			p.err, p.errPos = msg, -1
			if ok {
				p.errPos = pos
			}
			m.fixLists()
			return nil
		}
		m.closePrompt()
		return tea.Batch(cmd, m.addHistory(value))
	case promptSearch:
		m.closePrompt()
		return m.search(value)
	case promptSave:
		if value == "" {
			p.err, p.errPos = "type a file name", -1
			m.fixLists()
			return nil
		}
		m.closePrompt()
		return m.save(value, p.side)
	default:
		if err := exportPathError(value); err != "" {
			p.err, p.errPos = err, -1
			m.fixLists()
			return nil
		}
		m.closePrompt()
		return m.export(value)
	}
}

// exportPathError checks the path before anything is written, so a typo in
// the extension is fixed in place instead of after a long export.
func exportPathError(path string) string {
	if path == "" {
		return "type a file name ending in .pcap, .pcapng, .har or .json"
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pcap", ".pcapng", ".har", ".json":
		return ""
	}
	return "the extension picks the format: use .pcap, .pcapng, .har or .json"
}

// lineEdit is a minimal single-line editor: the prompt needs insertion,
// deletion and cursor movement, and a real terminal cursor instead of a
// blinking virtual one keeps the screen still between keystrokes.
type lineEdit struct {
	r   []rune
	pos int
}

func (e *lineEdit) set(s string) {
	e.r = []rune(s)
	e.pos = len(e.r)
}

func (e *lineEdit) String() string { return string(e.r) }

// insert adds typed or pasted text; control characters (a pasted newline)
// and anything else Sanitize would escape become spaces, so the prompt
// stays one line and the cursor arithmetic stays true.
func (e *lineEdit) insert(s string) {
	var add []rune
	for _, c := range s {
		if unicode.IsControl(c) || view.Sanitize(string(c)) != string(c) {
			c = ' '
		}
		add = append(add, c)
	}
	rest := append(add, e.r[e.pos:]...)
	e.r = append(e.r[:e.pos], rest...)
	e.pos += len(add)
}

// handle applies an editing key and reports whether the text or cursor
// changed.
func (e *lineEdit) handle(k tea.KeyPressMsg) bool {
	switch k.String() {
	case "left", "ctrl+b":
		e.pos = max(e.pos-1, 0)
	case "right", "ctrl+f":
		e.pos = min(e.pos+1, len(e.r))
	case "home", "ctrl+a":
		e.pos = 0
	case "end", "ctrl+e":
		e.pos = len(e.r)
	case "backspace", "ctrl+h":
		if e.pos > 0 {
			e.r = append(e.r[:e.pos-1], e.r[e.pos:]...)
			e.pos--
		}
	case "delete", "ctrl+d":
		if e.pos < len(e.r) {
			e.r = append(e.r[:e.pos], e.r[e.pos+1:]...)
		}
	case "ctrl+u":
		e.r, e.pos = append([]rune(nil), e.r[e.pos:]...), 0
	case "ctrl+k":
		e.r = e.r[:e.pos]
	case "ctrl+w", "alt+backspace":
		i := e.pos
		for i > 0 && e.r[i-1] == ' ' {
			i--
		}
		for i > 0 && e.r[i-1] != ' ' {
			i--
		}
		e.r = append(e.r[:i], e.r[e.pos:]...)
		e.pos = i
	default:
		if k.Text == "" || k.Mod&(tea.ModCtrl|tea.ModAlt) != 0 {
			return false
		}
		e.insert(k.Text)
	}
	return true
}

// view renders the text in at most w cells, scrolled so the cursor is
// visible, and returns the cursor's cell offset.
func (e *lineEdit) view(w int) (string, int) {
	start := 0
	if e.pos >= w {
		start = e.pos - w + 1
	}
	end := min(len(e.r), start+w)
	s := string(e.r[start:end])
	return s, width(string(e.r[start:e.pos]))
}
