package jsonl

import (
	"io"
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
	// Live streams the output for live sources (and pipes): each record
	// is flushed as it is written, or within FlushEvery during a flood.
	// Without it output is flushed when the buffer fills and at Flush,
	// the fastest way through a capture file.
	Live bool
}

// Writer is a decode.Output that streams final exchanges (or ended flows)
// and status notes as JSON Lines. It holds nothing after writing, so a
// headless run over a huge capture uses memory only for open connections.
type Writer struct {
	out   *Output // its lock guards every field below
	opts  Options
	buf   []byte
	count int
	hold  FlowHold
	// scratch is reused for the body-less copy masking works on.
	scratch maskScratch
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer, opts Options) *Writer {
	return &Writer{out: NewOutput(w, 256<<10, opts.Live), opts: opts, buf: make([]byte, 0, 4096)}
}

// Exchange writes e when it is final and passes the filter.
func (w *Writer) Exchange(e *decode.Exchange) {
	if w.opts.Flows || !e.State.Final() {
		return
	}
	if w.opts.Match != nil && !w.opts.Match.Match(e) {
		return
	}
	w.out.Lock()
	defer w.out.Unlock()
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
	w.out.Lock()
	defer w.out.Unlock()
	for _, g := range w.hold.Add(f) {
		w.buf = AppendFlow(w.buf[:0], g)
		w.emit()
	}
}

// CopiesFlows says that Flow keeps no reference to the flow it is given
// (the flows it holds to print are copies), so the decoder may publish
// flows from memory it reuses.
func (w *Writer) CopiesFlows() bool { return true }

// Written is how many exchanges (or flows) the Writer has printed, for
// a run that printed none to say why.
func (w *Writer) Written() int {
	w.out.Lock()
	defer w.out.Unlock()
	return w.count
}

// Note writes a status line.
func (w *Writer) Note(s sources.Status) {
	w.out.Lock()
	defer w.out.Unlock()
	w.buf = AppendStatus(w.buf[:0], s)
	w.write()
	w.out.EndRecord()
}

// Stats writes one stats line per source.
func (w *Writer) Stats(now time.Time, sts []decode.SourceStats) {
	w.out.Lock()
	defer w.out.Unlock()
	for _, st := range sts {
		w.buf = AppendStats(w.buf[:0], now, st)
		w.write()
	}
	_ = w.out.FlushLocked()
}

func (w *Writer) emit() {
	if w.opts.Limit > 0 && w.count >= w.opts.Limit {
		return
	}
	w.write()
	w.out.EndRecord()
	w.count++
	if w.opts.Limit > 0 && w.count == w.opts.Limit && w.opts.OnLimit != nil {
		w.opts.OnLimit()
	}
}

func (w *Writer) write() {
	w.buf = append(w.buf, '\n')
	w.out.Put(w.buf)
}

// Flush writes held flows and buffered output, stops the periodic flush
// of a live Writer and returns the first write error. Call it once, when
// the sources have ended.
func (w *Writer) Flush() error {
	w.out.Lock()
	for _, g := range w.hold.Drain() {
		w.buf = AppendFlow(w.buf[:0], g)
		w.emit()
	}
	w.out.Unlock()
	return w.out.Close()
}

// Sync writes out what is buffered now, from any goroutine, without
// ending the Writer: a process forced to exit by a signal saves the
// records it already produced.
func (w *Writer) Sync() error { return w.out.Flush() }

// FlowEnded reports whether a flow reached a terminal state.
func FlowEnded(f *decode.Flow) bool {
	switch f.State {
	case decode.FlowClosed, decode.FlowReset, decode.FlowTimedOut:
		return true
	}
	return false
}
