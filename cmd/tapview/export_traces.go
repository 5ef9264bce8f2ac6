package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/tapview/tapview/export/tracemask"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/taptrace"
)

// fmtTraces is Envoy's length-delimited trace format: a trace export
// keeps Envoy traces traces (masked by export/tracemask) instead of
// turning them into synthesized packets.
const fmtTraces = "traces"

// traceExtension is the extension of fmtTraces, the one Envoy's file
// sink gives PROTO_BINARY_LENGTH_DELIMITED.
const traceExtension = ".pb_length_delimited"

// errPacketsInTraceExport stops a trace export whose input has packets.
var errPacketsInTraceExport = errors.New("holds packets, and a trace export (.pb_length_delimited) takes Envoy tap traces only: write .pcapng to export packets")

// traces copies the inputs' Envoy traces to out, masked unless
// --no-mask. Filters select exchanges, which traces do not map to one
// to one (streamed segments, socket traces), so they are refused.
func (e *exporter) traces(ctx context.Context, ins []exportInput, out *output) (string, error) {
	if !e.prog.MatchesAll() || e.f.flows || e.f.count > 0 {
		return "", usageErr("--filter, --flows and --count select exchanges, and a trace export copies whole traces: export to .pcapng, .har or .json to filter, or drop them")
	}
	for _, in := range ins {
		if !in.trace && !in.spool {
			return "", usageErr("%s %v", in.path, errPacketsInTraceExport)
		}
	}
	em := &traceCopier{e: e}
	if e.masker != nil {
		em.masked = tracemask.NewWriter(out.w, e.masker)
	} else {
		em.plain = taptrace.NewRecorder(out.w)
	}
	for _, in := range ins {
		if err := in.src.Run(ctx, em); err != nil {
			return "", err
		}
		if em.err != nil {
			if errors.Is(em.err, errPacketsInTraceExport) {
				return "", usageErr("%s %v", in.path, em.err)
			}
			return "", em.err
		}
	}
	if em.masked != nil {
		if err := em.masked.Close(); err != nil {
			return "", err
		}
		return fmt.Sprintf("wrote %s, masked", count(em.masked.Written(), "trace")), nil
	}
	return fmt.Sprintf("wrote %s, NOT masked", count(em.n, "trace")), nil
}

// traceCopier is the emitter of a trace export: traces go to the
// writer, the first packet or write error stops the copy.
type traceCopier struct {
	e      *exporter
	masked *tracemask.Writer
	plain  *taptrace.Recorder
	n      int
	err    error
}

func (c *traceCopier) Packet(sources.Packet) {
	if c.err == nil {
		c.err = errPacketsInTraceExport
		c.e.cancel()
	}
}

func (c *traceCopier) Status(s sources.Status) { c.e.note(s) }

func (c *traceCopier) Trace(t sources.Trace) {
	if c.err != nil {
		return
	}
	if c.masked != nil {
		c.err = c.masked.Write(t.Wrapper)
	} else {
		c.err = c.plain.Record(&t)
		c.n++
	}
	if c.err != nil {
		c.e.cancel()
	}
}
