package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/export/jsonl"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
)

// input is one source of a session; live sources drop (and count) what the
// decoder cannot keep up with, file sources wait for it.
type input struct {
	src  sources.Source
	live bool
	// reread opens the source's packets again when they are not in a
	// file found by the source's name (the embedded demo); nil otherwise.
	reread func() (*pcapfile.Source, error)
}

// sessionFlags are the flags every source command shares, so `open`,
// `sink`, `connect` and `attach` behave alike.
type sessionFlags struct {
	output    string
	flows     bool
	filter    string
	noMask    bool
	maskRules string
	write     string
	duration  time.Duration
	count     int
	keylog    string
	bodies    bool
	mesh      meshFlags   // service-mesh labels, --external (external.go)
	mem       memoryFlags // --memory, --spill-max (memory.go)
	lanes     int
	up        uploadFlags // --upload, on live commands (upload.go)
}

func (f *sessionFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.output, "output", "o", "", "print instead of starting the UI: json (JSON Lines) or table")
	fs.BoolVar(&f.flows, "flows", false, "list flows (connections) instead of exchanges")
	fs.StringVar(&f.filter, "filter", "", "CEL filter, e.g. 'status >= 500', or a bare word to find in URLs")
	fs.BoolVar(&f.noMask, "no-mask", false, "show secrets and personal data (masked by default)")
	fs.StringVar(&f.maskRules, "mask-rules", "", "YAML `FILE` adding or disabling masking rules (format: tapview help masking)")
	fs.StringVarP(&f.write, "write", "w", "", "also record what the sources deliver to `FILE` (.pcapng, .pcap)")
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (0: until the sources end or Ctrl-C)")
	fs.IntVar(&f.count, "count", 0, "stop after this many exchanges (flows with --flows)")
	fs.BoolVar(&f.bodies, "bodies", false, "with -o json: include decoded bodies and gRPC/WebSocket messages")
	fs.StringVar(&f.keylog, "keylog", "", "decrypt TLS with this NSS key log `FILE` (SSLKEYLOGFILE); re-read as it grows")
	fs.IntVarP(&f.lanes, "jobs", "j", 0, "decode on this many cores (0: one per core, GOMAXPROCS); the output is the same for any number")
	f.mesh.add(fs)
	f.mem.add(fs)
	f.up.add(cmd)
}

// runSession decodes the inputs into the UI, or prints them with -o.
func runSession(cmd *cobra.Command, inputs []input, f *sessionFlags) error {
	prog, err := filter.Compile(f.filter)
	if err != nil {
		return usageErr("--filter %q: %v\n(see 'tapview help filters' for the variables)", f.filter, err)
	}
	masker, err := buildMasker(f.maskRules)
	if err != nil {
		return err
	}
	maskFn := maskFunc(masker, f.noMask)
	keys := keylog.New()
	if f.keylog != "" {
		if err := keys.LoadFile(f.keylog); err != nil {
			return fmt.Errorf("--keylog: %w", err)
		}
		keylogNote(cmd.ErrOrStderr(), f.keylog, keys.Stats(), true)
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	if f.keylog != "" {
		// A live key log grows while the session runs: keep reading it.
		go func() { _ = keys.Watch(ctx, f.keylog) }()
	}
	if f.duration > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, f.duration)
		defer c2()
	}
	// Decided before -w wraps the sources, which hides what they are.
	stream := streams(inputs)
	up, err := startUpload(cmd, inputs, f, nil)
	if err != nil {
		return err
	}
	inputs = up.wrap(inputs)
	rec, err := newRecorder(f.write)
	if err != nil {
		return err
	}
	if rec != nil {
		defer rec.Close()
		inputs = rec.wrap(inputs)
	}
	mode := f.output
	stdout := cmd.OutOrStdout()
	if mode == "" && !isTerminal(stdout) {
		mode = "table"
	}
	if err := f.mem.apply(); err != nil {
		return err
	}
	if f.lanes < 0 {
		return usageErr("-j %d: give a number of cores, or 0 for one per core", f.lanes)
	}
	dopts := decodeOptions{noOrdinals: true, maxFlows: f.mem.maxFlows(), lanes: f.lanes}
	var runErr error
	switch mode {
	case "json":
		w := jsonl.NewWriter(stdout, jsonl.Options{Match: prog, Mask: maskFn, Flows: f.flows, Bodies: f.bodies, Limit: f.count, OnLimit: cancel, Live: stream})
		defer onForcedExit(ctx, w.Sync)()
		t := &tally{Output: w, flowsOnly: f.flows}
		out, meshDone := f.mesh.headless(ctx, inputs, t, w.External)
		runErr = runHeadless(ctx, inputs, keys, out, w, stream, dopts)
		meshDone()
		if err := w.Flush(); err != nil && runErr == nil {
			runErr = err
		}
		if runErr == nil && !f.mesh.external {
			t.emptyHint(cmd.ErrOrStderr(), w.Written(), f.flows, f.filter)
		}
	case "table":
		w := newTableWriter(stdout, prog, maskFn, f.flows, f.count, cancel, stream)
		defer onForcedExit(ctx, w.Sync)()
		t := &tally{Output: w, flowsOnly: f.flows}
		out, meshDone := f.mesh.headless(ctx, inputs, t, tableExternal(stdout))
		runErr = runHeadless(ctx, inputs, keys, out, nil, false, dopts)
		meshDone()
		if err := w.Flush(); err != nil && runErr == nil {
			runErr = err
		}
		if runErr == nil && !f.mesh.external {
			t.emptyHint(cmd.ErrOrStderr(), w.written(), f.flows, f.filter)
		}
	case "":
		runErr = runUI(ctx, cancel, inputs, keys, f, masker.Exchange)
	default:
		return usageErr("-o %q: use -o json or -o table (or no -o for the UI)", mode)
	}
	if rec != nil {
		if err := rec.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	if err := up.close(ctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// statsWriter receives periodic per-source counters in headless mode.
type statsWriter interface {
	Stats(now time.Time, sts []decode.SourceStats)
}

// statsEvery is how often a streaming headless run prints statistics.
const statsEvery = 5 * time.Second

// runHeadless runs the pipeline into out (which prints notes itself: JSON
// status lines, or "# warning: ..." rows in the table) and, when stream
// is set, statistics to stats every statsEvery and once at the end (or
// at a forced exit).
func runHeadless(ctx context.Context, inputs []input, keys *keylog.KeyLog, out decode.Output, stats statsWriter, stream bool, dopts decodeOptions) error {
	defer heapFloor(headlessHeapFloor)()
	if stats == nil || !stream {
		return runPipelineWith(ctx, inputs, keys, out, nil, dopts)
	}
	sink := newStatsSink(stats, statsEvery)
	// A forced exit still ends with the statistics, as they stood.
	defer onForcedExit(ctx, func() error { sink.final(); return nil })()
	err := runPipelineWith(ctx, inputs, keys, out, sink, dopts)
	sink.final()
	return err
}

// streams reports whether a session's output streams (flushed as records
// come, statistics printed while it runs): with a live source, or with a
// capture arriving through a pipe (`tcpdump -w - | tapview open -`, a
// FIFO). Such a capture is read like a file (the decoder throttles it,
// nothing is dropped) but its packets come as they are captured, and
// someone is watching the output for them. A regular file redirected to
// stdin is read at full speed, so it is not a stream.
func streams(inputs []input) bool {
	for _, in := range inputs {
		if in.live {
			return true
		}
		sz, ok := in.src.(interface{ Size() int64 })
		if !ok || sz.Size() > 0 {
			continue
		}
		if in.src.Name() == "stdin" {
			if st, err := os.Stdin.Stat(); err == nil && st.Mode().IsRegular() {
				continue
			}
		}
		return true
	}
	return false
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// sourceErrors turns pipeline errors into messages that say what to do.
func sourceErrors(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("%w", err)
}
