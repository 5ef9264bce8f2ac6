package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/storage/segment"
)

// exportSealer masks a finished segment exactly as `tapview export
// SEGMENT -w OUT.pcapng` would: pass one follows the segment's TCP
// streams and decodes its exchanges, pass two writes every packet with
// what they found overwritten. A segment of Envoy traces becomes a
// pcapng of synthesized HTTP/1.1 connections carrying the masked
// exchanges, as export writes traces; there is no masked trace format.
//
// A segment is masked on its own: a value split across the boundary of
// two segments is found only by the per-packet scan (see export/packets).
type exportSealer struct {
	masker *mask.Masker
	meta   segment.Meta
}

func (s *exportSealer) Seal(ctx context.Context, raw segment.Segment) (segment.Segment, error) {
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
	if _, err := e.packets(ctx, ins, o); err != nil {
		o.abort()
		return raw, fmt.Errorf("masking %s: %w", raw.Path, err)
	}
	if err := o.commit(); err != nil {
		return raw, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return raw, err
	}
	sealed := raw
	sealed.Path, sealed.Kind, sealed.Bytes = out, segment.Packets, st.Size()
	return sealed, nil
}
