package ui

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// styles holds every style the UI uses. Colours are the 16 ANSI colours so
// the terminal's own theme (light or dark) decides the actual shades; the
// cursor row is reverse video, which works on every theme and in tmux.
type styles struct {
	app      lipgloss.Style
	paneOn   lipgloss.Style
	paneOff  lipgloss.Style
	colTitle lipgloss.Style
	cursor   lipgloss.Style
	dim      lipgloss.Style
	bold     lipgloss.Style

	ok, redirect, client, server, pending lipgloss.Style
	errRow                                lipgloss.Style

	unmasked lipgloss.Style
	paused   lipgloss.Style
	warn     lipgloss.Style
	errText  lipgloss.Style
	keyHint  lipgloss.Style

	headerName lipgloss.Style
	section    lipgloss.Style
	note       lipgloss.Style
	match      lipgloss.Style
	matchCur   lipgloss.Style
	tabOn      lipgloss.Style
	tabOff     lipgloss.Style
	barReq     lipgloss.Style
	barWait    lipgloss.Style
	barResp    lipgloss.Style
	// streamC and streamS colour the two directions of a flow's bytes,
	// red and blue as in Wireshark's Follow Stream.
	streamC, streamS lipgloss.Style
}

// paint is a style reduced to the escape sequences around its text. Rows
// are styled with it: a list frame wraps a hundred cells, and plain string
// concatenation costs a fraction of a full lipgloss render.
type paint struct{ pre, post string }

func newPaint(st lipgloss.Style) paint {
	const marker = "\x00"
	out := st.Render(marker)
	i := strings.Index(out, marker)
	if i < 0 {
		return paint{}
	}
	return paint{pre: out[:i], post: out[i+len(marker):]}
}

// wrap styles single-line text.
func (p paint) wrap(s string) string { return p.pre + s + p.post }

// rowPaints are the row styles, prepared once.
type rowPaints struct {
	cursor, errRow, pending, ok, redirect, client, server paint
}

func newRowPaints(st styles) rowPaints {
	return rowPaints{
		cursor: newPaint(st.cursor), errRow: newPaint(st.errRow), pending: newPaint(st.pending),
		ok: newPaint(st.ok), redirect: newPaint(st.redirect), client: newPaint(st.client), server: newPaint(st.server),
	}
}

func newStyles() styles {
	red := lipgloss.Color("1")
	green := lipgloss.Color("2")
	yellow := lipgloss.Color("3")
	blue := lipgloss.Color("4")
	cyan := lipgloss.Color("6")
	s := lipgloss.NewStyle()
	return styles{
		app:      s.Bold(true),
		paneOn:   s.Bold(true).Underline(true),
		paneOff:  s.Faint(true),
		colTitle: s.Bold(true).Faint(true),
		cursor:   s.Reverse(true),
		dim:      s.Faint(true),
		bold:     s.Bold(true),

		ok:       s.Foreground(green),
		redirect: s.Foreground(cyan),
		client:   s.Foreground(yellow),
		server:   s.Foreground(red),
		pending:  s.Faint(true),
		errRow:   s.Foreground(red),

		unmasked: s.Foreground(red).Reverse(true).Bold(true),
		paused:   s.Foreground(yellow).Reverse(true).Bold(true),
		warn:     s.Foreground(yellow),
		errText:  s.Foreground(red),
		keyHint:  s.Faint(true),

		headerName: s.Foreground(cyan),
		section:    s.Faint(true),
		note:       s.Faint(true).Italic(true),
		match:      s.Reverse(true),
		matchCur:   s.Foreground(yellow).Reverse(true).Bold(true),
		tabOn:      s.Bold(true).Reverse(true),
		tabOff:     s.Faint(true),
		barReq:     s.Foreground(blue),
		barWait:    s.Faint(true),
		barResp:    s.Foreground(green),
		streamC:    s.Foreground(red),
		streamS:    s.Foreground(blue),
	}
}
