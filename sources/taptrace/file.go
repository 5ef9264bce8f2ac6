// Package taptrace reads and writes the files Envoy's file-per-tap sink
// produces (.json, .pb, .pb_length_delimited, .pb_text), so traces saved
// by Envoy, or recorded by tapview with -w x.pb_length_delimited, open
// like captures. It also holds the JSON stream splitter shared with the
// admin /tap client, since both read Envoy's undelimited pretty JSON.
package taptrace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tapview/tapview/sources"
)

// maxWarnings bounds the per-record warnings one file emits; the rest are
// summed up in a final note so a damaged file cannot flood the UI.
const maxWarnings = 20

// File is a Source reading one Envoy trace file.
type File struct {
	path   string
	format Format
	name   string
}

// Open returns a Source for an Envoy trace file, choosing the format from
// the extension (.json, .pb, .pb_length_delimited, .pb_text). The file is
// checked now so a typo fails before the UI starts.
func Open(path string) (sources.Source, error) {
	f, ok := FormatOf(path)
	if !ok {
		return nil, fmt.Errorf("%s: not an Envoy tap file (want .json, .pb, .pb_length_delimited or .pb_text)", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open trace file: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	return &File{path: path, format: f, name: filepath.Base(path)}, nil
}

// Name is the file's base name, which exchanges show as their source.
func (f *File) Name() string { return f.name }

// Run emits every trace of the file in order. Damaged records are skipped
// with a warning; a file cut short ends with a "truncated" note. Traces
// carry the file's modification time as arrival, since the file has no
// receive times of its own (HTTP traces usually carry
// headers_received_time).
func (f *File) Run(ctx context.Context, emit sources.Emitter) error {
	te, ok := emit.(sources.TraceEmitter)
	if !ok {
		return errors.New("taptrace: the pipeline's emitter does not accept traces")
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("open trace file: %w", err)
	}
	defer fh.Close()
	arrival := time.Now()
	if st, err := fh.Stat(); err == nil {
		arrival = st.ModTime()
	}
	rd, err := NewReader(fh, f.format, 0)
	if err != nil {
		return err
	}
	var ordinal uint64
	damaged := 0
	note := func(level sources.Level, kind, msg string) {
		emit.Status(sources.Status{Time: time.Now(), Source: f.name, Level: level, Kind: kind, Message: msg})
	}
	defer func() {
		if damaged > maxWarnings {
			note(sources.Warning, "malformed", fmt.Sprintf("%d damaged records skipped in total", damaged))
		}
	}()
	for {
		if ctx.Err() != nil {
			return nil
		}
		w, err := rd.Next()
		var rerr *RecordError
		switch {
		case err == nil:
		case errors.As(err, &rerr):
			damaged++
			if damaged <= maxWarnings {
				note(sources.Warning, "malformed", fmt.Sprintf("%s: %v (skipped)", f.format, rerr))
			}
			continue
		case err == io.EOF:
			return nil
		case err == io.ErrUnexpectedEOF:
			note(sources.Warning, "truncated", "file ends inside a trace; the last trace is lost")
			return nil
		default:
			return fmt.Errorf("%s: %w", f.path, err)
		}
		ordinal++
		te.Trace(sources.Trace{Wrapper: w, Source: f.name, Arrival: arrival, Ordinal: ordinal})
	}
}
