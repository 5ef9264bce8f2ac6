package ui

import (
	"context"
	"fmt"
	"mime"
	"os"
	"os/exec"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/body"
	"github.com/tapview/tapview/decode/view"
)

// maxSavedBody caps a body written by w: the decoded form of what the
// source kept, never an unbounded decompression.
const maxSavedBody = 64 << 20

// unwrapped is the width tabs are rendered at for $PAGER and $EDITOR:
// wide enough that no header value or body line is wrapped, so a long
// token copied from the pager is whole.
const unwrapped = 1 << 20

// saveJob writes one side's body of an exchange as the detail shows it:
// decoded, and masked while masking is on.
type saveJob struct {
	store  Store
	id     uint64
	side   int // 0 request, 1 response
	mask   func(*decode.Exchange) *decode.Exchange
	masked bool
	path   string
}

type saveResult struct {
	path  string
	bytes int
	note  string
	err   error
}

func (j saveJob) run() tea.Msg {
	e := j.store.ExchangeByID(j.id)
	if e == nil {
		return saveResult{err: fmt.Errorf("the exchange is no longer kept")}
	}
	if j.masked && j.mask != nil {
		if me := j.mask(e); me != nil {
			e = me
		}
	}
	data, note := sideBody(e, j.side)
	if data == nil {
		return saveResult{err: fmt.Errorf("the %s has no body", sideName(j.side))}
	}
	if err := os.WriteFile(j.path, data, 0o600); err != nil {
		return saveResult{path: j.path, err: err}
	}
	return saveResult{path: j.path, bytes: len(data), note: note}
}

// sideBody is the decoded body of one side (WebSocket and gRPC parts
// joined with a newline between them), with a note when it is not whole.
func sideBody(e *decode.Exchange, side int) ([]byte, string) {
	msg := e.Request
	if side == 1 {
		msg = e.Response
	}
	if e.Proto == "ws" {
		msg = &decode.Message{Parts: wsParts(e)}
	}
	if msg == nil {
		return nil, ""
	}
	if len(msg.Parts) > 0 {
		var b []byte
		for i, p := range msg.Parts {
			if i > 0 {
				b = append(b, '\n')
			}
			b = append(b, p.Data...)
		}
		return b, ""
	}
	if len(msg.Body) == 0 {
		return nil, ""
	}
	data, note := msg.Body, ""
	if body.NeedsDecoding(msg.ContentEncoding) {
		dec, err := body.Decode(msg.ContentEncoding, msg.Body, maxSavedBody)
		if err != nil && len(dec) == 0 {
			return msg.Body, "saved as transferred (" + strings.Join(msg.ContentEncoding, "+") + "): " + err.Error()
		}
		data = dec
		if err != nil {
			note = "decoding stopped early: " + err.Error()
		}
	}
	if msg.Truncated {
		note = fmt.Sprintf("the source kept %s of %s", longBytes(int64(len(msg.Body))), longBytes(msg.BodySize))
	}
	return data, note
}

func sideName(side int) string {
	if side == 1 {
		return "response"
	}
	return "request"
}

// defaultSaveName suggests a file name for a body: the exchange id, the
// side, and an extension from its content type.
func defaultSaveName(e *decode.Exchange, side int) string {
	ext := ".bin"
	msg := e.Request
	if side == 1 {
		msg = e.Response
	}
	if e.Proto == "ws" {
		ext = ".txt"
	} else if msg != nil {
		if exts, _ := mime.ExtensionsByType(msg.ContentType()); len(exts) > 0 {
			ext = exts[len(exts)-1]
		}
		switch msg.ContentType() {
		case "application/json":
			ext = ".json"
		case "text/plain":
			ext = ".txt"
		case "text/html":
			ext = ".html"
		}
	}
	return fmt.Sprintf("tapview-%d-%s%s", e.ID, sideName(side), ext)
}

// saveBody opens the save prompt for the body of the tab shown.
func (m *Model) saveBody() tea.Cmd {
	d := &m.detail
	side := d.side()
	if d.proto == "ws" && d.tab == tabRequest {
		side = 0
	}
	if side < 0 {
		return m.flash("w saves the body of the request or response tab; P or e open any tab in $PAGER or $EDITOR", false)
	}
	e := m.cfg.Store.ExchangeByID(d.id)
	if e == nil {
		return m.flash("this exchange is no longer kept; nothing to save", true)
	}
	m.openPrompt(promptSave, defaultSaveName(e, side))
	m.prompt.side = side
	return nil
}

// save writes the body in a command.
func (m *Model) save(path string, side int) tea.Cmd {
	job := saveJob{store: m.cfg.Store, id: m.detail.id, side: side, mask: m.cfg.Mask, masked: m.masked, path: path}
	return m.work(job.run)
}

func (m *Model) onSaved(r saveResult) tea.Cmd {
	if r.err != nil {
		if r.path == "" {
			return m.flash("nothing saved: "+view.Sanitize(r.err.Error()), true)
		}
		return m.flash(exportFailure(r.path, r.err), true)
	}
	msg := "saved " + longBytes(int64(r.bytes)) + " to " + view.Sanitize(r.path)
	if m.masked {
		msg += " (masked; m then w saves it as captured)"
	}
	if r.note != "" {
		msg += "; " + view.Sanitize(r.note)
	}
	return m.flash(msg, false)
}

// openOutside shows the current tab, unwrapped, in $PAGER (less) or
// $EDITOR (vi), suspending the UI while it runs. The text is rendered
// like the tab, masked while masking is on, into a private temporary
// file (removed afterwards) by a command, since the exchange may have to
// be read back from disk.
func (m *Model) openOutside(editor bool) tea.Cmd {
	d := &m.detail
	if !d.item {
		return nil
	}
	key := contentKey{pane: d.pane, id: d.id, version: d.version, tab: d.tab, width: unwrapped, masked: m.masked, choice: autoView}
	if side := d.side(); side >= 0 {
		key.choice = d.choice[side]
	}
	job := detailJob{key: key, loc: m.loc, mask: m.cfg.Mask, raw: m.cfg.Raw}
	if d.pane == paneFlows {
		job.fl = m.cfg.Store.FlowByID(d.id)
	} else {
		job.store, job.id = m.cfg.Store, d.id
	}
	return m.work(func() tea.Msg {
		res, _ := job.run().(detailResult)
		var b strings.Builder
		b.WriteString(res.title + "\n\n")
		for _, l := range res.lines {
			b.WriteString(l.text + "\n")
		}
		path, err := writeTemp(b.String())
		return externalReady{path: path, editor: editor, err: err}
	})
}

// writeTemp writes text to a new private temporary file.
func writeTemp(text string) (string, error) {
	f, err := os.CreateTemp("", "tapview-*.txt")
	if err != nil {
		return "", err
	}
	_, werr := f.WriteString(text)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(f.Name())
		return "", werr
	}
	return f.Name(), nil
}

// externalReady says the tab's text is in path, ready for the program.
type externalReady struct {
	path   string
	editor bool
	err    error
}

// externalDone reports the pager or editor's exit.
type externalDone struct {
	prog, envVar string
	err          error
}

func (m *Model) onExternalReady(r externalReady) tea.Cmd {
	if r.err != nil {
		return m.flash("cannot write a temporary file: "+view.Sanitize(r.err.Error())+"; check TMPDIR", true)
	}
	prog, envVar := externalProgram(r.editor)
	cmd := exec.CommandContext(context.Background(), "sh", "-c", prog+` "$1"`, "sh", r.path)
	return tea.ExecProcess(cmd, func(err error) tea.Msg {
		_ = os.Remove(r.path)
		return externalDone{prog: prog, envVar: envVar, err: err}
	})
}

// externalProgram is the command line of the pager ($PAGER, else less)
// or editor ($VISUAL, $EDITOR, else vi) and the variable that sets it.
func externalProgram(editor bool) (prog, envVar string) {
	if editor {
		for _, v := range []string{"VISUAL", "EDITOR"} {
			if p := strings.TrimSpace(os.Getenv(v)); p != "" {
				return p, "$" + v
			}
		}
		return "vi", "$EDITOR"
	}
	if p := strings.TrimSpace(os.Getenv("PAGER")); p != "" {
		return p, "$PAGER"
	}
	return "less -R", "$PAGER"
}

func (m *Model) onExternalDone(r externalDone) tea.Cmd {
	if r.err != nil {
		return m.flash(fmt.Sprintf("%s failed: %s; set %s to a program that takes a file name",
			view.Sanitize(r.prog), view.Sanitize(r.err.Error()), r.envVar), true)
	}
	return nil
}
