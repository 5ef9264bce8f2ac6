// Package segment cuts what live sources deliver into rolling files, so a
// capture of hours can be shipped to object storage piece by piece while
// it runs. Packets go to pcapng segments, Envoy tap traces to
// length-delimited trace segments (Envoy's PROTO_BINARY_LENGTH_DELIMITED,
// what `tapview open` reads back). A segment ends when it reaches
// MaxBytes or has been open for MaxAge, whichever comes first.
//
// Every segment stands alone: a pcapng segment opens its own section, so
// the interfaces of the packets it holds are described again in it, and
// the TLS key material seen so far is repeated at its start, so a segment
// downloaded on its own opens in Wireshark and tapview like any capture.
// The section comment names the source, the capture id, the user and
// whether the segment is masked, so a file found in a bucket says where
// it came from.
//
// Segments are written raw; masking happens when a segment is finished
// (see storage/upload), because the masking of a packet export needs the
// whole of a stream's bytes before it knows what to overwrite.
package segment

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace"
)

// Kind is what a segment holds.
type Kind int

// Segment kinds.
const (
	Packets Kind = iota // pcapng
	Traces              // Envoy length-delimited TraceWrappers
)

// Ext is the file extension tapview recognizes for the kind.
func (k Kind) Ext() string {
	if k == Traces {
		return ".pb_length_delimited"
	}
	return ".pcapng"
}

// Meta says whose capture a segment belongs to. It goes into the section
// comment of pcapng segments and into the object tags.
type Meta struct {
	CaptureID string // one id per tapview run, shared by its segments
	Source    string // what was captured, e.g. "connect agent 10.0.0.7:8083"
	User      string // who captured it (--user, kube or BOSH identity)
	Masked    bool   // whether the uploaded segment is masked
}

// Comment is the section comment of a segment of this capture.
func (m Meta) Comment(seq int) string {
	state := "masked by tapview"
	if !m.Masked {
		state = "NOT masked (--no-mask)"
	}
	return fmt.Sprintf("tapview capture %s segment %d; source: %s; user: %s; %s", m.CaptureID, seq, m.Source, m.User, state)
}

// Segment is one finished file.
type Segment struct {
	Path        string
	Kind        Kind
	Seq         int // from 1, per capture across both kinds
	First, Last time.Time
	Items       int64 // packets or traces
	Bytes       int64
	Meta        Meta
}

// Budget bounds the local disk a capture may use: Room is how many more
// bytes may be written. It is the spool's bound (storage/spool).
type Budget interface {
	Room() int64
}

// Options configure a Writer.
type Options struct {
	Dir         string        // where segment files are created
	MaxBytes    int64         // roll at this size (0: 64 MiB)
	MaxAge      time.Duration // roll after this long (0: 5 minutes)
	Meta        Meta
	Application string // shb_userappl, e.g. "tapview v1.2"
	// Budget, when set, is asked before every write; what does not fit
	// is dropped and counted (Dropped), never written past the bound.
	Budget Budget
	// Done receives each finished segment, in the order they end. It is
	// called without the Writer's lock, from the goroutine that wrote the
	// last item or from the MaxAge timer.
	Done func(Segment)
}

// Defaults for Options.
const (
	DefaultMaxBytes = 64 << 20
	DefaultMaxAge   = 5 * time.Minute
)

// maxKeyBytes bounds the TLS key material repeated in every segment.
const maxKeyBytes = 1 << 20

// Writer rolls segments. Its methods are safe for concurrent use: live
// sources emit from their own goroutines.
type Writer struct {
	opts Options

	mu      sync.Mutex
	seq     int
	cur     [2]*open // by Kind
	keys    []secretBlock
	keyLen  int
	dropped int64
	err     error
	closed  bool
}

type secretBlock struct {
	kind uint32
	data []byte
}

// open is the segment being written for one kind.
type open struct {
	seg   Segment
	f     *os.File
	buf   *bufio.Writer
	cw    *countWriter
	ng    *pcapw.PcapngWriter
	tr    *taptrace.Recorder
	timer *time.Timer
}

// New returns a Writer; files appear only when the first item arrives.
func New(opts Options) (*Writer, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("segment directory: %w", err)
	}
	return &Writer{opts: opts}, nil
}

// Packet appends p to the current pcapng segment.
func (w *Writer) Packet(p sources.Packet) {
	w.write(Packets, p.Timestamp, int64(len(p.Data))+64, func(o *open) error {
		return o.ng.WritePacket(p, "")
	})
}

// Trace appends t to the current trace segment.
func (w *Writer) Trace(t sources.Trace) {
	if t.Wrapper == nil {
		return
	}
	at := t.Arrival
	if at.IsZero() {
		at = time.Now()
	}
	// The encoded size is not known before encoding; a trace rarely
	// exceeds what the sink admits (its own bound), so guess small and
	// let the byte count after the write decide the roll.
	w.write(Traces, at, 512, func(o *open) error { return o.tr.Record(&t) })
}

// Secrets keeps TLS key material (pcapng decryption secrets) for this and
// every later pcapng segment, up to 1 MiB in all.
func (w *Writer) Secrets(kind uint32, data []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.keyLen+len(data) > maxKeyBytes {
		return
	}
	w.keys = append(w.keys, secretBlock{kind, append([]byte(nil), data...)})
	w.keyLen += len(data)
	if o := w.cur[Packets]; o != nil && w.err == nil {
		w.err = o.ng.WriteSecrets(kind, data)
	}
}

// write runs put on the current segment of kind, opening one first if
// needed, and rolls when the segment has reached MaxBytes.
func (w *Writer) write(kind Kind, at time.Time, size int64, put func(*open) error) {
	var done []Segment
	w.mu.Lock()
	if w.closed || w.err != nil {
		w.mu.Unlock()
		return
	}
	if w.opts.Budget != nil && w.pending()+size > w.opts.Budget.Room() {
		w.dropped++
		w.mu.Unlock()
		return
	}
	o := w.cur[kind]
	if o == nil {
		if o, w.err = w.start(kind); w.err != nil {
			w.mu.Unlock()
			return
		}
	}
	if err := put(o); err != nil {
		w.err = fmt.Errorf("segment %s: %w", o.seg.Path, err)
		w.mu.Unlock()
		return
	}
	if o.seg.First.IsZero() || at.Before(o.seg.First) {
		o.seg.First = at
	}
	if at.After(o.seg.Last) {
		o.seg.Last = at
	}
	o.seg.Items++
	if w.size(o) >= w.opts.MaxBytes {
		if s, ok := w.finish(kind); ok {
			done = append(done, s)
		}
	}
	w.mu.Unlock()
	w.deliver(done)
}

// pending is what the open segments hold, which the budget does not know
// about yet. Called with mu held.
func (w *Writer) pending() int64 {
	var n int64
	for _, o := range w.cur {
		if o != nil {
			n += w.size(o)
		}
	}
	return n
}

// size is an open segment's size including what is still buffered.
func (w *Writer) size(o *open) int64 {
	return o.cw.n + int64(o.buf.Buffered())
}

// start opens a new segment of kind. Called with mu held.
func (w *Writer) start(kind Kind) (*open, error) {
	w.seq++
	seq := w.seq
	name := fmt.Sprintf("%s-%06d%s", safeName(w.opts.Meta.CaptureID), seq, kind.Ext())
	path := filepath.Join(w.opts.Dir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	cw := &countWriter{w: f}
	o := &open{f: f, cw: cw, buf: bufio.NewWriterSize(cw, 256<<10)}
	o.seg = Segment{Path: path, Kind: kind, Seq: seq, Meta: w.opts.Meta}
	if kind == Packets {
		o.ng, err = pcapw.NewPcapng(o.buf, pcapw.NgOptions{Application: w.opts.Application, Comment: w.opts.Meta.Comment(seq)})
		for _, k := range w.keys {
			if err == nil {
				err = o.ng.WriteSecrets(k.kind, k.data)
			}
		}
	} else {
		o.tr = taptrace.NewRecorder(o.buf)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("segment %s: %w", path, err)
	}
	o.timer = time.AfterFunc(w.opts.MaxAge, func() { w.expire(kind, seq) })
	w.cur[kind] = o
	return o, nil
}

// expire ends segment seq of kind when MaxAge is up, if it is still the
// open one.
func (w *Writer) expire(kind Kind, seq int) {
	w.mu.Lock()
	o := w.cur[kind]
	if o == nil || o.seg.Seq != seq || w.closed {
		w.mu.Unlock()
		return
	}
	s, ok := w.finish(kind)
	w.mu.Unlock()
	if ok {
		w.deliver([]Segment{s})
	}
}

// finish closes the open segment of kind. Called with mu held; the
// caller delivers the segment after unlocking. A segment that could not
// be written whole is removed and reported through Err.
func (w *Writer) finish(kind Kind) (Segment, bool) {
	o := w.cur[kind]
	w.cur[kind] = nil
	o.timer.Stop()
	var err error
	if o.ng != nil {
		err = o.ng.Flush()
	}
	if e := o.buf.Flush(); err == nil {
		err = e
	}
	if e := o.f.Close(); err == nil {
		err = e
	}
	if err != nil {
		os.Remove(o.seg.Path)
		if w.err == nil {
			w.err = fmt.Errorf("segment %s: %w", o.seg.Path, err)
		}
		return Segment{}, false
	}
	o.seg.Bytes = o.cw.n
	return o.seg, true
}

func (w *Writer) deliver(done []Segment) {
	if w.opts.Done == nil {
		return
	}
	for _, s := range done {
		w.opts.Done(s)
	}
}

// Flush ends the open segments now (as MaxAge would), so what was
// captured so far can be shipped.
func (w *Writer) Flush() {
	var done []Segment
	w.mu.Lock()
	for k := range w.cur {
		if w.cur[k] != nil {
			if s, ok := w.finish(Kind(k)); ok {
				done = append(done, s)
			}
		}
	}
	w.mu.Unlock()
	w.deliver(done)
}

// Close ends the open segments and refuses further writes. It returns
// the first write error, if any; it is safe to call twice.
func (w *Writer) Close() error {
	w.Flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.err
}

// Dropped counts the items refused because the budget was exhausted.
func (w *Writer) Dropped() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Err is the first write error; after one, the Writer writes nothing.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// countWriter counts the bytes that reached the file.
type countWriter struct {
	w *os.File
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// safeName keeps a capture id usable as a file name.
func safeName(s string) string {
	if s == "" {
		return "capture"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}
