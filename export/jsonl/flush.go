package jsonl

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// FlushEvery is the longest a record of a streaming Output waits in the
// buffer: someone reading `tapview sink -o json | jq` sees each record
// within this time even during a flood.
const FlushEvery = 200 * time.Millisecond

// A streaming Output flushes each record on its own while at most
// flushBudget records arrive per flushWindow (about 1000 a second): one
// write per record is cheap at that rate, and a person or a script waiting
// for the next line gets it at once. Beyond the budget records wait for
// the periodic flush, so a flood is written in large blocks instead of
// one syscall per line.
const (
	flushWindow = 100 * time.Millisecond
	flushBudget = 100
)

// Output is the buffered stdout of a headless run, shared by the JSON and
// table writers so both follow one flush policy.
//
// A file-backed run (Live false) only flushes when the buffer fills and at
// the end: reading a capture file is a batch job and throughput is what
// counts. A live run (a sink, agents, a pod, a pipe on stdin) streams:
// see FlushEvery and flushBudget.
//
// The mutex guards the buffer and whatever state its owner keeps with it:
// owners call Lock/Unlock around their own updates and the Put/EndRecord
// calls, and the periodic flusher takes the same lock, so a record is
// never flushed half-written.
type Output struct {
	mu   sync.Mutex
	w    *bufio.Writer
	err  error
	live bool

	// window and inWindow count the records of the current flushWindow.
	window   time.Time
	inWindow int

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewOutput returns an Output writing to w through a buffer of size
// bytes. With live set it starts the periodic flusher, which Close stops.
func NewOutput(w io.Writer, size int, live bool) *Output {
	o := &Output{w: bufio.NewWriterSize(w, size), live: live}
	if live {
		o.stop, o.done = make(chan struct{}), make(chan struct{})
		go o.flushLoop()
	}
	return o
}

// Live reports whether the output streams.
func (o *Output) Live() bool { return o.live }

// Lock takes the output's mutex.
func (o *Output) Lock() { o.mu.Lock() }

// Unlock releases the output's mutex.
func (o *Output) Unlock() { o.mu.Unlock() }

// Put buffers p. The caller holds the lock. After a write error nothing
// more is written; Err and the flush methods report the error.
func (o *Output) Put(p []byte) {
	if o.err == nil {
		_, o.err = o.w.Write(p)
	}
}

// PutString is Put for a string.
func (o *Output) PutString(s string) {
	if o.err == nil {
		_, o.err = o.w.WriteString(s)
	}
}

// EndRecord marks the end of a record (a line, or a block of lines that
// belong together). The caller holds the lock. A live output flushes now
// unless records are arriving faster than its budget.
func (o *Output) EndRecord() {
	if !o.live || o.err != nil {
		return
	}
	now := time.Now()
	if now.Sub(o.window) >= flushWindow {
		o.window, o.inWindow = now, 0
	}
	o.inWindow++
	if o.inWindow <= flushBudget {
		o.err = o.w.Flush()
	}
}

// FlushLocked writes out the buffer and returns the first write error.
// The caller holds the lock.
func (o *Output) FlushLocked() error {
	if o.err == nil {
		o.err = o.w.Flush()
	}
	return o.err
}

// Err returns the first write error. The caller holds the lock.
func (o *Output) Err() error { return o.err }

// Flush writes out the buffer from any goroutine; a forced exit uses it
// to save what was already printed.
func (o *Output) Flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.FlushLocked()
}

// Close stops the periodic flusher and flushes. It is safe to call more
// than once; Put still works afterwards, but only the next flush writes.
func (o *Output) Close() error {
	o.closeOnce.Do(func() {
		if o.stop != nil {
			// The flusher takes the lock, so it is stopped before the
			// lock is taken here.
			close(o.stop)
			<-o.done
		}
	})
	return o.Flush()
}

// flushLoop flushes what records over the budget left in the buffer.
func (o *Output) flushLoop() {
	defer close(o.done)
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-t.C:
			o.mu.Lock()
			if o.w.Buffered() > 0 {
				_ = o.FlushLocked()
			}
			o.mu.Unlock()
		}
	}
}
