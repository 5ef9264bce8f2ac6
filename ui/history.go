package ui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/sources"
)

// historyMax bounds the filter history kept on disk and in memory.
const historyMax = 200

// DefaultHistoryPath is where filter history is kept: the XDG state
// directory ($XDG_STATE_HOME/tapview/history, else
// ~/.local/state/tapview/history). It returns "" when neither is known.
func DefaultHistoryPath() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "tapview", "history")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "state", "tapview", "history")
}

// filterHistory is the filters typed before, oldest first, and the
// prompt's place in them while Up/Down walk it.
type filterHistory struct {
	entries []string
	pos     int    // len(entries): the line being typed
	draft   string // what was typed before walking
}

type historyLoaded struct{ entries []string }

type historySaved struct{ err error }

// loadHistory reads the history file in a command; a missing file is an
// empty history.
func (m *Model) loadHistory() tea.Cmd {
	path := m.cfg.HistoryPath
	if path == "" {
		return nil
	}
	return m.work(func() tea.Msg {
		b, err := os.ReadFile(path)
		if err != nil {
			return historyLoaded{}
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		if len(out) > historyMax {
			out = out[len(out)-historyMax:]
		}
		return historyLoaded{entries: out}
	})
}

func (h *filterHistory) load(r historyLoaded) {
	// Filters typed before the file was read stay newest.
	h.entries = append(r.entries, h.entries...)
	h.trim()
	h.pos = len(h.entries)
}

func (h *filterHistory) trim() {
	if len(h.entries) > historyMax {
		h.entries = slices.Clone(h.entries[len(h.entries)-historyMax:])
	}
}

// add records a submitted filter (moving a repeat to the end) and saves
// the history in a command.
func (m *Model) addHistory(expr string) tea.Cmd {
	h := &m.history
	if expr == "" || strings.ContainsAny(expr, "\n\r") {
		return nil
	}
	h.entries = slices.DeleteFunc(h.entries, func(s string) bool { return s == expr })
	h.entries = append(h.entries, expr)
	h.trim()
	h.pos = len(h.entries)
	path := m.cfg.HistoryPath
	if path == "" {
		return nil
	}
	data := strings.Join(h.entries, "\n") + "\n"
	return m.work(func() tea.Msg { return historySaved{err: writeAtomic(path, []byte(data))} })
}

func (m *Model) onHistorySaved(r historySaved) {
	if r.err != nil {
		m.addNote(sources.Warning, "history", "filter history not saved: "+r.err.Error()+"; check that the folder is writable")
	}
}

// writeAtomic replaces path with data through a temporary file in the
// same directory, so a crash never leaves half a history.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".history-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// walk moves through the history from the filter prompt: up is older;
// below the newest entry is the line that was being typed.
func (h *filterHistory) walk(e *lineEdit, delta int) bool {
	if len(h.entries) == 0 {
		return false
	}
	if h.pos == len(h.entries) {
		h.draft = e.String()
	}
	next := min(max(h.pos+delta, 0), len(h.entries))
	if next == h.pos {
		return false
	}
	h.pos = next
	if next == len(h.entries) {
		e.set(h.draft)
	} else {
		e.set(h.entries[next])
	}
	return true
}
