package jsonl

import (
	"bufio"
	"io"
	"sync"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// Matcher selects what a headless run prints; decode/filter programs
// satisfy it.
type Matcher interface {
	Match(e *decode.Exchange) bool
	MatchFlow(f *decode.Flow) bool
}

// Options configure a Writer.
type Options struct {
	// Match keeps only matching exchanges (and flows); nil keeps all.
	Match Matcher
	// Mask returns the masked copy of an exchange; nil prints as decoded.
	Mask func(*decode.Exchange) *decode.Exchange
	// Flows prints flows instead of exchanges.
	Flows bool
	// Bodies adds decoded bodies and gRPC/WebSocket parts to exchanges.
	Bodies bool
	// Limit stops printing after this many records (0: no limit) and
	// calls OnLimit once, so the caller can stop the sources.
	Limit   int
	OnLimit func()
}

// Writer is a decode.Output that streams final exchanges (or ended flows)
// and status notes as JSON Lines. It holds nothing after writing, so a
// headless run over a huge capture uses memory only for open connections.
type Writer struct {
	mu    sync.Mutex
	w     *bufio.Writer
	opts  Options
	buf   []byte
	count int
	err   error
	hold  FlowHold
	// scratch is reused for the body-less copy masking works on.
	scratch maskScratch
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer, opts Options) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 256<<10), opts: opts, buf: make([]byte, 0, 4096)}
}

// Exchange writes e when it is final and passes the filter.
func (w *Writer) Exchange(e *decode.Exchange) {
	if w.opts.Flows || !e.State.Final() {
		return
	}
	if w.opts.Match != nil && !w.opts.Match.Match(e) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.opts.Mask != nil {
		e = w.opts.Mask(maskInput(e, w.opts.Bodies, &w.scratch))
	}
	w.buf = AppendExchange(w.buf[:0], e)
	if w.opts.Bodies {
		w.buf = appendBodies(w.buf[:len(w.buf)-1], e)
		w.buf = append(w.buf, '}')
	}
	w.emit()
}

// Flow writes f once it has ended, when printing flows.
func (w *Writer) Flow(f *decode.Flow) {
	if !w.opts.Flows {
		return
	}
	if w.opts.Match != nil && !w.opts.Match.MatchFlow(f) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, g := range w.hold.Add(f) {
		w.buf = AppendFlow(w.buf[:0], g)
		w.emit()
	}
}

// Note writes a status line.
func (w *Writer) Note(s sources.Status) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = AppendStatus(w.buf[:0], s)
	w.write()
}

// Stats writes one stats line per source.
func (w *Writer) Stats(now time.Time, sts []decode.SourceStats) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range sts {
		w.buf = AppendStats(w.buf[:0], now, st)
		w.write()
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
}

func (w *Writer) emit() {
	if w.opts.Limit > 0 && w.count >= w.opts.Limit {
		return
	}
	w.write()
	w.count++
	if w.opts.Limit > 0 && w.count == w.opts.Limit && w.opts.OnLimit != nil {
		w.opts.OnLimit()
	}
}

func (w *Writer) write() {
	if w.err != nil {
		return
	}
	w.buf = append(w.buf, '\n')
	_, w.err = w.w.Write(w.buf)
}

// Flush writes held flows and buffered output and returns the first write
// error. Call it once the sources have ended.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, g := range w.hold.Drain() {
		w.buf = AppendFlow(w.buf[:0], g)
		w.emit()
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// FlowEnded reports whether a flow reached a terminal state.
func FlowEnded(f *decode.Flow) bool {
	switch f.State {
	case decode.FlowClosed, decode.FlowReset, decode.FlowTimedOut:
		return true
	}
	return false
}
