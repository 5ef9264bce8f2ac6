package taptrace

import (
	"fmt"
	"io"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tapview/tapview/sources"
)

// Recorder writes traces in Envoy's PROTO_BINARY_LENGTH_DELIMITED format
// (varint length, then the TraceWrapper), the format `-w
// x.pb_length_delimited` records and Open reads back. Only the Envoy
// trace is kept: source, node and arrival time are not part of that
// format.
type Recorder struct {
	mu  sync.Mutex
	w   io.Writer
	msg []byte
	out []byte
}

// NewRecorder writes to w. Each Record is one Write call, so no flush is
// needed; wrap w in a bufio.Writer (and flush it) for fewer system calls.
func NewRecorder(w io.Writer) *Recorder { return &Recorder{w: w} }

// Record appends one trace. It is safe for concurrent use; traces without
// a wrapper are skipped.
func (r *Recorder) Record(t *sources.Trace) error {
	if t == nil || t.Wrapper == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	msg, err := proto.MarshalOptions{}.MarshalAppend(r.msg[:0], t.Wrapper)
	if err != nil {
		return fmt.Errorf("record trace: %w", err)
	}
	r.msg = msg
	r.out = protowire.AppendVarint(r.out[:0], uint64(len(msg)))
	r.out = append(r.out, msg...)
	if _, err := r.w.Write(r.out); err != nil {
		return fmt.Errorf("record trace: %w", err)
	}
	return nil
}
