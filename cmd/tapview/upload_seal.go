package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/export/tracemask"
	"github.com/tapview/tapview/sources/taptrace"
	"github.com/tapview/tapview/storage/segment"
)

// exportSealer masks a finished segment as `tapview export` would,
// keeping its kind. A packet segment becomes `<seq>.masked.pcapng`
// exactly as `tapview export SEGMENT -w OUT.pcapng` writes it: pass one
// follows the segment's TCP streams and decodes its exchanges, pass two
// writes every packet with what they found overwritten. A segment of
// Envoy traces becomes `<seq>.masked.pb_length_delimited`, still
// length-delimited TraceWrappers (what Envoy's file sink writes and
// `tapview open` reads), masked by export/tracemask: header and body
// values overwritten, socket traces' bytes walked as packet export
// walks TCP streams. Either way the object tags say masked.
//
// A segment is masked on its own: a value split across the boundary of
// two segments is found only by the per-packet scan (see export/packets),
// and a streamed trace cut by a segment boundary is masked as two units.
type exportSealer struct {
	masker *mask.Masker
	meta   segment.Meta
}

func (s *exportSealer) Seal(ctx context.Context, raw segment.Segment) (segment.Segment, error) {
	if raw.Kind == segment.Traces {
		return s.sealTraces(raw)
	}
	out := strings.TrimSuffix(raw.Path, raw.Kind.Ext()) + ".masked.pcapng"
	ins, err := openExportInputs([]string{raw.Path})
	if err != nil {
		return raw, err
	}
	prog, err := filter.Compile("")
	if err != nil {
		return raw, err
	}
	o, err := createOutput(nil, out, true)
	if err != nil {
		return raw, err
	}
	// The exporter reports through a command; this one has the
	// sealer's context and no terminal.
	c := &cobra.Command{}
	c.SetContext(ctx)
	c.SetErr(io.Discard)
	c.SetOut(io.Discard)
	e := &exporter{cmd: c, f: &exportFlags{}, format: fmtPcapng, prog: prog, masker: s.masker,
		keys: keylog.New(), cancel: func() {}, section: raw.Meta.Comment(raw.Seq)}
	_, err = e.packets(ctx, ins, o)
	return sealed(raw, o, segment.Packets, err)
}

// sealTraces writes the masked copy of a trace segment.
func (s *exportSealer) sealTraces(raw segment.Segment) (segment.Segment, error) {
	out := strings.TrimSuffix(raw.Path, raw.Kind.Ext()) + ".masked" + raw.Kind.Ext()
	in, err := os.Open(raw.Path)
	if err != nil {
		return raw, err
	}
	defer in.Close()
	o, err := createOutput(nil, out, true)
	if err != nil {
		return raw, err
	}
	_, err = maskTraces(in, o.w, s.masker)
	return sealed(raw, o, segment.Traces, err)
}

// sealed finishes a masked copy written to o: committed, it replaces raw
// (its path, kind and size); after err, o is discarded and raw stays.
func sealed(raw segment.Segment, o *output, kind segment.Kind, err error) (segment.Segment, error) {
	if err != nil {
		o.abort()
		return raw, fmt.Errorf("masking %s: %w", raw.Path, err)
	}
	if err := o.commit(); err != nil {
		return raw, err
	}
	st, err := os.Stat(o.target)
	if err != nil {
		return raw, err
	}
	out := raw
	out.Path, out.Kind, out.Bytes = o.target, kind, st.Size()
	return out, nil
}

// maskTraces copies the length-delimited traces of r to w masked, and
// returns how many it wrote. A damaged record fails the copy: what
// cannot be read cannot be checked.
func maskTraces(r io.Reader, w io.Writer, m *mask.Masker) (int, error) {
	rd, err := taptrace.NewReader(bufio.NewReaderSize(r, 256<<10), taptrace.Delimited, 0)
	if err != nil {
		return 0, err
	}
	tw := tracemask.NewWriter(w, m)
	for {
		t, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return tw.Written(), err
		}
		if err := tw.Write(t); err != nil {
			return tw.Written(), err
		}
	}
	err = tw.Close()
	return tw.Written(), err
}
