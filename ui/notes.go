package ui

import (
	"slices"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/sources"
)

// uiNotesMax bounds the notes the UI itself writes (export results,
// errors of its commands); the sources' notes are bounded by the store.
const uiNotesMax = 200

// addNote records something the user did or that failed in the UI, so it
// can be read again in the notes view after the status bar moved on.
func (m *Model) addNote(level sources.Level, kind, msg string) {
	if len(m.uiNotes) >= uiNotesMax {
		m.uiNotes = slices.Delete(m.uiNotes, 0, len(m.uiNotes)-uiNotesMax+1)
	}
	m.uiNotes = append(m.uiNotes, sources.Status{Time: m.now(), Source: "tapview", Level: level, Kind: kind, Message: msg})
}

// now is the wall clock; tests pin it with Config.Now.
func (m *Model) now() time.Time {
	if m.cfg.Now != nil {
		return m.cfg.Now()
	}
	return time.Now()
}

// allNotes merges the sources' notes, failed sources and the UI's own
// notes in time order.
func (m *Model) allNotes() []sources.Status {
	out := make([]sources.Status, 0, len(m.srcNotes)+len(m.uiNotes)+len(m.stats))
	out = append(out, m.srcNotes...)
	said := make(map[string]bool)
	for _, n := range m.srcNotes {
		if n.Level >= sources.Error {
			said[n.Source] = true
		}
	}
	for _, s := range m.stats {
		if s.Err != "" && !said[s.Name] {
			out = append(out, sources.Status{Source: s.Name, Level: sources.Error, Kind: "failed", Message: s.Err})
		}
	}
	out = append(out, m.uiNotes...)
	slices.SortStableFunc(out, func(a, b sources.Status) int { return a.Time.Compare(b.Time) })
	// One note can reach the store twice (both legs of a mesh session
	// share sources); say it once.
	return slices.CompactFunc(out, func(a, b sources.Status) bool { return a == b })
}

// noteCount is what the status bar says about notes: how many, and the
// worst level among them.
func (m *Model) noteCount() (int, sources.Level) {
	all := m.allNotes()
	worst := sources.Info
	for _, n := range all {
		worst = max(worst, n.Level)
	}
	return len(all), worst
}

// notesView lists every note: source warnings (damage with its byte
// offset, congestion, evictions), failed connections, export results.
// It opens at the newest note.
type notesView struct {
	scroller
	opened bool
}

func (v *notesView) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	all := m.notesLines()
	return nil, v.scrollKey(m.keys, k, len(all), m.bodyHeight()-1)
}

func (v *notesView) hints() string { return "j/k scroll · q back " }

func (v *notesView) lines(m *Model, h int) []string {
	all := m.notesLines()
	if !v.opened {
		v.top, v.opened = len(all), true // newest at the bottom, in view
	}
	title := " " + m.st.bold.Render("Notes") + m.st.dim.Render(" · from the sources and the UI, at the time tapview noted them")
	if pos := v.position(len(all), h-1); pos != "" {
		title = joinEnds(title, m.st.dim.Render(pos+" "), m.w)
	}
	out := []string{truncateStyled(title, m.w)}
	if len(all) == 0 {
		out = append(out, m.st.dim.Render(" nothing to report: no warnings, errors or exports yet"))
	}
	out = append(out, v.window(all, h-len(out))...)
	return out[:h]
}

// notesLines renders every note, wrapped to the screen: time, source and
// kind, then the message on as many lines as it takes.
func (m *Model) notesLines() []string {
	var out []string
	days := m.spansDays()
	for _, n := range m.allNotes() {
		st := m.st.dim
		switch n.Level {
		case sources.Warning:
			st = m.st.warn
		case sources.Error:
			st = m.st.errText
		}
		when := "        "
		if !n.Time.IsZero() {
			when = clock(n.Time.In(m.loc), days)
		}
		kind := view.Sanitize(n.Kind)
		if kind == "" {
			kind = n.Level.String()
		}
		head := " " + when + " " + st.Render(fit(kind, 10)) + " " + view.Sanitize(n.Source) + ":"
		indent := width(when) + 13
		msg := view.Sanitize(n.Message)
		if width(head)+1+width(msg) <= m.w-1 {
			out = append(out, head+" "+msg)
			continue
		}
		// Too long for one line: the message goes whole under its
		// heading, wrapped, so no part of it is cut.
		out = append(out, head)
		for _, l := range wrapProse(msg, max(m.w-indent-1, 20), 12) {
			out = append(out, spaces(indent)+l)
		}
	}
	for i := range out {
		out[i] = truncateStyled(out[i], m.w)
	}
	return out
}
