package tracemask

import (
	"io"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"

	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace"
)

// Writer writes masked traces in Envoy's length-delimited format (what
// the file sink writes as .pb_length_delimited and taptrace reads).
type Writer struct {
	x   *Masker
	rec *taptrace.Recorder
	n   int
}

// NewWriter writes the traces given to Write, masked by m, to w. Close
// writes the streamed traces still held.
func NewWriter(w io.Writer, m *mask.Masker) *Writer {
	return &Writer{x: New(m), rec: taptrace.NewRecorder(w)}
}

// Write masks one trace (changing it in place) and writes what is ready.
func (w *Writer) Write(t *tapv3.TraceWrapper) error {
	return w.record(w.x.Add(t))
}

// Close writes every trace still held. It does not close the
// underlying writer.
func (w *Writer) Close() error { return w.record(w.x.Flush()) }

// Written is how many traces were written.
func (w *Writer) Written() int { return w.n }

// Stats returns the masker's counts.
func (w *Writer) Stats() Stats { return w.x.Stats() }

func (w *Writer) record(ts []*tapv3.TraceWrapper) error {
	for _, t := range ts {
		if err := w.rec.Record(&sources.Trace{Wrapper: t}); err != nil {
			return err
		}
		w.n++
	}
	return nil
}
