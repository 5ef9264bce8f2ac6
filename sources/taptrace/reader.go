package taptrace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	tapv3 "github.com/envoyproxy/go-control-plane/envoy/data/tap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// Format is one of the encodings Envoy's file-per-tap sink writes.
type Format int

// Trace file formats, named after Envoy's OutputSink formats.
const (
	// JSON is pretty-printed TraceWrapper objects, concatenated (.json).
	JSON Format = iota + 1
	// Binary is one serialized TraceWrapper (.pb).
	Binary
	// Delimited is varint-length-prefixed TraceWrappers
	// (.pb_length_delimited).
	Delimited
	// Text is text-format TraceWrappers, concatenated (.pb_text).
	Text
)

// String names the format by its file extension.
func (f Format) String() string {
	switch f {
	case JSON:
		return ".json"
	case Binary:
		return ".pb"
	case Delimited:
		return ".pb_length_delimited"
	case Text:
		return ".pb_text"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// FormatOf returns the trace format Envoy uses for path's extension, and
// false when the extension is not one of Envoy's tap file extensions.
func FormatOf(path string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return JSON, true
	case ".pb":
		return Binary, true
	case ".pb_length_delimited":
		return Delimited, true
	case ".pb_text":
		return Text, true
	}
	return 0, false
}

// DefaultMaxRecord bounds one trace record (and a whole .pb or .pb_text
// file, which must be read at once), so a damaged length prefix or a huge
// file cannot exhaust memory.
const DefaultMaxRecord = 64 << 20

// RecordError is a damaged record that was skipped; reading can go on.
type RecordError struct {
	Index  int   // 1-based record number
	Offset int64 // byte offset of the record, -1 when unknown
	Err    error
}

// Error names the record and what was wrong with it.
func (e *RecordError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("record %d at offset %d: %v", e.Index, e.Offset, e.Err)
	}
	return fmt.Sprintf("record %d: %v", e.Index, e.Err)
}

// Unwrap returns the decoding error.
func (e *RecordError) Unwrap() error { return e.Err }

// errNoTrace marks a record that parsed but holds none of the four trace
// kinds, which every Envoy trace has.
var errNoTrace = errors.New("no trace in record (none of http_buffered_trace, http_streamed_trace_segment, socket_buffered_trace, socket_streamed_trace_segment)")

// Reader reads TraceWrappers from a trace file of one Format.
type Reader struct {
	next  func() (*tapv3.TraceWrapper, int64, error)
	index int
	max   int
}

// NewReader reads r as format f. maxRecord bounds one record in bytes
// (<= 0 means DefaultMaxRecord).
func NewReader(r io.Reader, f Format, maxRecord int) (*Reader, error) {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecord
	}
	rd := &Reader{max: maxRecord}
	switch f {
	case JSON:
		rd.next = rd.jsonNext(NewSplitter(r, maxRecord))
	case Binary:
		rd.next = rd.wholeNext(r, func(b []byte, w *tapv3.TraceWrapper) error { return proto.Unmarshal(b, w) }, false)
	case Text:
		rd.next = rd.wholeNext(r, func(b []byte, w *tapv3.TraceWrapper) error {
			return prototext.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, w)
		}, true)
	case Delimited:
		rd.next = rd.delimitedNext(bufio.NewReaderSize(r, 64<<10))
	default:
		return nil, fmt.Errorf("taptrace: unknown format %d", int(f))
	}
	return rd, nil
}

// Next returns the next trace. It returns io.EOF after the last one,
// io.ErrUnexpectedEOF when the input ends inside a record, a *RecordError
// for a damaged record that was skipped (call Next again), and any other
// error when reading cannot go on.
func (r *Reader) Next() (*tapv3.TraceWrapper, error) {
	w, off, err := r.next()
	if err != nil {
		return nil, err
	}
	r.index++
	if w.GetTrace() == nil {
		return nil, &RecordError{Index: r.index, Offset: off, Err: errNoTrace}
	}
	return w, nil
}

// recordErr counts a damaged record and wraps its error.
func (r *Reader) recordErr(off int64, err error) error {
	r.index++
	return &RecordError{Index: r.index, Offset: off, Err: err}
}

func (r *Reader) jsonNext(s *Splitter) func() (*tapv3.TraceWrapper, int64, error) {
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	return func() (*tapv3.TraceWrapper, int64, error) {
		off := s.Offset()
		v, err := s.Next()
		if err != nil {
			return nil, off, err
		}
		w := &tapv3.TraceWrapper{}
		if err := opts.Unmarshal(v, w); err != nil {
			return nil, off, r.recordErr(off, err)
		}
		return w, off, nil
	}
}

// wholeNext reads the whole input (bounded) and parses it as one trace,
// or as several text-format traces when split is set.
func (r *Reader) wholeNext(in io.Reader, parse func([]byte, *tapv3.TraceWrapper) error, split bool) func() (*tapv3.TraceWrapper, int64, error) {
	var parts [][]byte
	loaded := false
	var offs []int64
	return func() (*tapv3.TraceWrapper, int64, error) {
		if !loaded {
			loaded = true
			b, err := io.ReadAll(io.LimitReader(in, int64(r.max)+1))
			if err != nil {
				return nil, 0, err
			}
			if len(b) > r.max {
				return nil, 0, fmt.Errorf("file larger than %d bytes: %w", r.max, ErrTooLarge)
			}
			if split {
				parts = splitText(b)
			} else if len(b) > 0 {
				parts = [][]byte{b}
			}
			off := int64(0)
			for _, p := range parts {
				offs = append(offs, off)
				off += int64(len(p))
			}
		}
		for len(parts) > 0 {
			p, off := parts[0], offs[0]
			parts, offs = parts[1:], offs[1:]
			if split && len(strings.TrimSpace(string(p))) == 0 {
				continue
			}
			w := &tapv3.TraceWrapper{}
			if err := parse(p, w); err != nil {
				return nil, off, r.recordErr(off, err)
			}
			return w, off, nil
		}
		return nil, 0, io.EOF
	}
}

// delimitedNext reads varint-length-prefixed records, as Envoy's
// PROTO_BINARY_LENGTH_DELIMITED output and protodelim write them.
func (r *Reader) delimitedNext(br *bufio.Reader) func() (*tapv3.TraceWrapper, int64, error) {
	var off int64
	var buf []byte
	return func() (*tapv3.TraceWrapper, int64, error) {
		start := off
		cr := &countingByteReader{r: br}
		size, err := binary.ReadUvarint(cr)
		off += cr.n
		if err != nil {
			if err == io.EOF && cr.n == 0 {
				return nil, start, io.EOF
			}
			if err == io.EOF {
				return nil, start, io.ErrUnexpectedEOF
			}
			return nil, start, fmt.Errorf("offset %d: length prefix: %w", start, err)
		}
		if size > uint64(r.max) {
			// The record cannot be kept; skip it so later ones still read.
			n, err := io.CopyN(io.Discard, br, int64(size))
			off += n
			if err != nil {
				return nil, start, io.ErrUnexpectedEOF
			}
			return nil, start, r.recordErr(start, fmt.Errorf("record of %d bytes exceeds the %d-byte limit", size, r.max))
		}
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		n, err := io.ReadFull(br, buf)
		off += int64(n)
		if err != nil {
			return nil, start, io.ErrUnexpectedEOF
		}
		w := &tapv3.TraceWrapper{}
		if err := proto.Unmarshal(buf, w); err != nil {
			return nil, start, r.recordErr(start, err)
		}
		return w, start, nil
	}
}

// countingByteReader counts bytes consumed by binary.ReadUvarint.
type countingByteReader struct {
	r *bufio.Reader
	n int64
}

// ReadByte reads one byte and counts it.
func (c *countingByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}
