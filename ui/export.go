package ui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/sources"
)

// statusDuration is how long a transient message stays in the status bar.
const statusDuration = 6 * time.Second

// statusLine is a transient message shown in the status bar.
type statusLine struct {
	text string
	err  bool
}

type clearStatusMsg struct{ seq int }

// flash shows a transient message and schedules its removal.
func (m *Model) flash(text string, isErr bool) tea.Cmd {
	m.statusSeq++
	m.status = statusLine{text: text, err: isErr}
	if isErr {
		m.addNote(sources.Warning, "ui", text)
	}
	m.fixLists() // a long message takes lines from the list
	seq := m.statusSeq
	return tea.Tick(statusDuration, func(time.Time) tea.Msg { return clearStatusMsg{seq: seq} })
}

type exportResult struct {
	path      string
	exchanges int
	flows     int
	masked    bool
	marked    bool
	err       error
}

// exportFailure says why an export failed and what to do, in the UI's
// words: the writer's error may name a temporary file or a CLI flag, which
// mean nothing here, so only its root cause is kept.
func exportFailure(path string, err error) string {
	p := view.Sanitize(path)
	dir := view.Sanitize(filepath.Dir(path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "export failed: the folder " + dir + " does not exist; press x and type a path in an existing folder"
	case errors.Is(err, fs.ErrPermission):
		return "export failed: no permission to write in " + dir + "; press x and choose a folder you can write to"
	case errors.Is(err, syscall.ENOSPC):
		return "export failed: the disk holding " + dir + " is full; free space or press x and choose another disk"
	case errors.Is(err, context.Canceled):
		return "export of " + p + " cancelled"
	}
	cause := err
	for {
		var pe *fs.PathError
		if errors.As(cause, &pe) {
			cause = pe.Err
			break
		}
		u := errors.Unwrap(cause)
		if u == nil {
			break
		}
		cause = u
	}
	return "export to " + p + " failed: " + view.Sanitize(cause.Error()) + "; press x to try again"
}

// export writes what the current pane shows. The exchanges and flows are
// gathered from a snapshot inside the command, so a million rows never
// pass through Update.
func (m *Model) export(path string) tea.Cmd {
	m.lastPath = path
	ix := &m.idx[m.pane]
	job := exportJob{
		store: m.cfg.Store, pane: m.pane, filtered: ix.active(), matches: ix.matches,
		totalEx: m.total[paneExchanges], totalFl: m.total[paneFlows],
		masked: m.masked, fn: m.cfg.Export, path: path, marked: m.markedIDs(m.pane),
	}
	m.statusSeq++
	m.status = statusLine{text: "exporting to " + view.Sanitize(path) + " …"}
	ctx := m.ctx
	return tea.Batch(m.work(func() tea.Msg { return job.run(ctx) }), m.startSpin())
}

// exportJob is everything an export needs, copied out of the model.
type exportJob struct {
	store    Store
	pane     paneID
	filtered bool
	matches  []int // immutable prefix of the pane's index (append-only)
	totalEx  int
	totalFl  int
	masked   bool
	fn       ExportFunc
	path     string
	// marked are the IDs of the pane's marked rows; when any are set
	// only they are exported.
	marked []uint64
}

func (j exportJob) run(ctx context.Context) tea.Msg {
	res := exportResult{path: j.path, masked: j.masked, marked: len(j.marked) > 0}
	path, err := expandHome(j.path)
	if err != nil {
		res.err = err
		return res
	}
	ids, fls := j.gather()
	res.exchanges, res.flows = len(ids), len(fls)
	if err := j.fn(ctx, path, j.wholes(ids), fls, j.masked); err != nil {
		res.err = fmt.Errorf("export %s: %w", j.path, err)
	}
	return res
}

func expandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", path, err)
	}
	return filepath.Join(home, strings.TrimPrefix(path, "~")), nil
}

func (m *Model) onExportResult(r exportResult) tea.Cmd {
	if r.err != nil {
		return m.flash(exportFailure(r.path, r.err), true)
	}
	what := fmt.Sprintf("exported %s %s, %s %s to %s", thousands(r.exchanges), plural(r.exchanges, "exchange"),
		thousands(r.flows), plural(r.flows, "flow"), view.Sanitize(r.path))
	if r.marked {
		what += " (marked only)"
	}
	if !r.masked {
		what += " (UNMASKED)"
	}
	m.addNote(sources.Info, "export", what)
	return m.flash(what, false)
}

type curlResult struct {
	text   string
	masked bool
	err    string // why nothing was copied
}

// copyCurl copies the selected exchange as a curl command, masked unless
// masking is off.
func (m *Model) copyCurl() tea.Cmd {
	var e *decode.Exchange
	switch {
	case m.detail.open && m.detail.pane == paneExchanges:
		// The list row of the detail's exchange: a summary is enough to
		// decide, the command loads the whole one.
		e, _ = m.cursorItem(paneExchanges)
		if e == nil || e.ID != m.detail.id {
			e = &decode.Exchange{ID: m.detail.id, Slim: true, Request: &decode.Message{}}
		}
	case m.pane == paneExchanges && !m.detail.open:
		e, _ = m.cursorItem(paneExchanges)
	}
	if e == nil || e.Request == nil {
		return m.flash("select an exchange with a request to copy it as curl", true)
	}
	masked, mask, store := m.masked, m.cfg.Mask, m.cfg.Store
	return m.work(func() tea.Msg {
		if e.Slim {
			w := store.ExchangeByID(e.ID) // curl needs the headers and body
			if w == nil || w.Request == nil {
				return curlResult{err: "this exchange is no longer kept; nothing was copied"}
			}
			e = w
		}
		if masked && mask != nil {
			if me := mask(e); me != nil {
				e = me
			}
		}
		return curlResult{text: Curl(e), masked: masked}
	})
}

func (m *Model) onCurlResult(r curlResult) tea.Cmd {
	if r.err != "" {
		return m.flash(r.err, true)
	}
	// OSC 52 gives no answer, so the UI cannot know the copy arrived:
	// say what was done and what blocks it most often.
	msg := "copied as curl"
	if r.masked {
		msg += " (masked)"
	} else {
		msg += " (UNMASKED)"
	}
	msg += " through the terminal (OSC 52); if paste is empty, tmux needs set -g set-clipboard on"
	return tea.Batch(tea.SetClipboard(r.text), m.flash(msg, false))
}
