package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/mask"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/export/jsonl"
	"github.com/tapview/tapview/export/packets"
	"github.com/tapview/tapview/export/pcapw"
	"github.com/tapview/tapview/export/spool"
	"github.com/tapview/tapview/sources"
	"github.com/tapview/tapview/sources/pcapfile"
	"github.com/tapview/tapview/sources/taptrace"
)

// exportFlags are `tapview export`'s flags. They are registered one by
// one rather than through sessionFlags.add, whose -w means "record".
type exportFlags struct {
	write, format       string
	filter, maskRules   string
	keylog              string
	flows, noMask, keys bool
	duration            time.Duration
	count               int
	s3                  s3Flags   // s3:// inputs (storage_flags.go)
	span                timeRange // --since/--until of s3:// inputs
}

func newExportCmd() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export INPUT... -w OUT",
		Short: "Write traffic as pcap, pcapng (Wireshark), HAR, JSON Lines or Envoy traces, masked",
		Long: `Decode the inputs and write what passes --filter to OUT.

The format comes from OUT's extension (.pcap, .pcapng, .har, .json,
.pb_length_delimited) or --format. pcap and pcapng hold the packets of
the matching exchanges' connections (every packet, handshake and
teardown included, in capture order); without a filter, every packet.
pcapng adds one interface per source, a comment on the first packet of
each exchange and, when TLS keys are known and the export is unmasked
(or --include-keys), the keys.
Exchanges that came without packets (Envoy tap traces) are written as
synthesized TCP connections carrying HTTP/1.1, unless OUT is
.pb_length_delimited: that keeps Envoy tap traces as traces, the format
Envoy's file sink writes (every trace of the inputs, no filter).

Masking is on unless --no-mask: secrets are overwritten in the packets
(same length, checksums recomputed) and in traces, and replaced in HAR
and JSON.

INPUT is anything 'tapview open' accepts, - for a capture on stdin,
s3://BUCKET/PREFIX for stored segments (with --since/--until).
-w - writes to stdout (give --format).`,
		Example: `  tapview export trace.pcapng -w api.har --filter 'path.startsWith("/api")'
  tapview export trace.pcap -w errors.pcapng --filter 'status >= 500'
  tapview export trace.pcap -w - --format pcap | wireshark -k -i -
  tapview export taps.pb_length_delimited -w taps.masked.pb_length_delimited
  tcpdump -i any -U -w - port 8080 | tapview export - --duration 30s -w out.pcapng`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runExport(cmd, args, &f) },
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.write, "write", "w", "", "write to `OUT` (.pcap, .pcapng, .har, .json, .pb_length_delimited; - for stdout)")
	fs.StringVar(&f.format, "format", "", "pcap, pcapng, har, json or traces (default: from OUT's extension)")
	fs.StringVar(&f.filter, "filter", "", "CEL filter, e.g. 'status >= 500', or a bare word to find in URLs")
	fs.BoolVar(&f.flows, "flows", false, "filter flows (connections) instead of exchanges")
	fs.BoolVar(&f.noMask, "no-mask", false, "write secrets and personal data as captured (masked by default)")
	fs.StringVar(&f.maskRules, "mask-rules", "", "YAML `FILE` adding or disabling masking rules (format: tapview help masking)")
	fs.StringVar(&f.keylog, "keylog", "", "decrypt TLS with this NSS key log `FILE` (SSLKEYLOGFILE)")
	fs.BoolVar(&f.keys, "include-keys", false, "put known TLS keys into a pcapng even when masking (decrypted payloads are then NOT masked)")
	fs.DurationVar(&f.duration, "duration", 0, "stop reading the inputs after this long (0: until they end)")
	fs.IntVar(&f.count, "count", 0, "stop after this many matching exchanges (flows with --flows)")
	f.s3.add(fs)
	f.span.add(fs)
	requireFlag(cmd, "write", "say where to write the export, e.g. -w out.pcapng, -w out.har or -w - --format json (the extension picks the format)")
	return cmd
}

// Export formats.
const (
	fmtPcap   = "pcap"
	fmtPcapng = "pcapng"
	fmtHAR    = "har"
	fmtJSON   = "json"
)

// exportFormat picks the format from --format or the file's extension.
func exportFormat(path, flag string) (string, error) {
	if flag != "" {
		switch f := strings.ToLower(flag); f {
		case fmtPcap, fmtPcapng, fmtHAR, fmtJSON, fmtTraces:
			return f, nil
		case "jsonl", "ndjson":
			return fmtJSON, nil
		case "pb_length_delimited":
			return fmtTraces, nil
		}
		return "", usageErr("--format %q: use pcap, pcapng, har, json or traces", flag)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pcap", ".cap":
		return fmtPcap, nil
	case ".pcapng", ".ntar":
		return fmtPcapng, nil
	case ".har":
		return fmtHAR, nil
	case ".json", ".jsonl", ".ndjson":
		return fmtJSON, nil
	case traceExtension:
		return fmtTraces, nil
	}
	if path == "-" {
		return "", usageErr("-w -: say what to write with --format pcap, pcapng, har or json")
	}
	return "", usageErr("-w %s: name the file .pcap, .pcapng, .har, .json or .pb_length_delimited, or pass --format", path)
}

func runExport(cmd *cobra.Command, args []string, f *exportFlags) error {
	format, err := exportFormat(f.write, f.format)
	if err != nil {
		return err
	}
	prog, err := filter.Compile(f.filter)
	if err != nil {
		return usageErr("--filter %q: %v\n(see 'tapview help filters' for the variables)", f.filter, err)
	}
	if f.flows && format == fmtHAR && !prog.MatchesAll() {
		return usageErr("--flows with a HAR export: HAR holds exchanges, so filter exchanges instead (drop --flows; flow variables such as host work on exchanges too)")
	}
	var masker *mask.Masker
	if !f.noMask {
		if masker, err = buildMasker(f.maskRules); err != nil {
			return err
		}
	}
	keys := keylog.New()
	var keyText []byte
	if f.keylog != "" {
		if keyText, err = os.ReadFile(f.keylog); err != nil {
			return fmt.Errorf("--keylog: %w (give the SSLKEYLOGFILE your client wrote)", err)
		}
		keys.AddText(keyText)
		keylogNote(cmd.ErrOrStderr(), f.keylog, keys.Stats(), false)
	}
	if err := checkPaths(args, f.write); err != nil {
		return err
	}
	inputs, err := exportInputs(cmd, args, f)
	if err != nil {
		return err
	}
	out, err := createOutput(cmd.OutOrStdout(), f.write, masker == nil)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	if f.duration > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, f.duration)
		defer c2()
	}
	e := &exporter{cmd: cmd, f: f, format: format, prog: prog, masker: masker, keys: keys, keyText: keyText, cancel: cancel}
	var summary string
	switch format {
	case fmtJSON:
		summary, err = e.json(ctx, inputs, out)
	case fmtHAR:
		summary, err = e.har(ctx, inputs, out)
	case fmtTraces:
		summary, err = e.traces(ctx, inputs, out)
	default:
		summary, err = e.packets(ctx, inputs, out)
	}
	if err != nil {
		out.abort()
		return err
	}
	if err := out.commit(); err != nil {
		return err
	}
	if summary != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "tapview: %s to %s\n", summary, out.name())
	}
	return nil
}

// exportInput is one input and how pass two gets its packets again.
type exportInput struct {
	path  string
	src   sources.Source
	trace bool // Envoy tap traces: no packets
	spool bool // stdin or a pipe: packets are spooled in pass one
}

func openExportInputs(args []string) ([]exportInput, error) {
	var ins []exportInput
	names := make(map[string]string)
	for _, a := range args {
		src, err := openFile(a)
		if err != nil {
			return nil, err
		}
		if prev, dup := names[src.Name()]; dup {
			return nil, usageErr("%s and %s are both named %q: export tells packets apart by file name, so copy one under another name", prev, a, src.Name())
		}
		names[src.Name()] = a
		in := exportInput{path: a, src: src}
		if _, ok := taptrace.FormatOf(a); ok {
			in.trace = true
		} else if st, err := os.Stat(a); a == "-" || err != nil || !st.Mode().IsRegular() {
			in.spool = true
		}
		ins = append(ins, in)
	}
	return ins, nil
}

// checkPaths refuses to write over an input.
func checkPaths(args []string, out string) error {
	if out == "-" {
		return nil
	}
	ost, err := os.Stat(out)
	if err != nil {
		return nil
	}
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && os.SameFile(st, ost) {
			return usageErr("-w %s would overwrite the input %s: write somewhere else", out, a)
		}
	}
	return nil
}

// exporter holds what every format's export needs.
type exporter struct {
	cmd     *cobra.Command
	f       *exportFlags
	format  string
	prog    *filter.Program
	masker  *mask.Masker
	keys    *keylog.KeyLog
	keyText []byte
	cancel  context.CancelFunc
	// section, when set, opens the pcapng section comment (--upload
	// names the capture, user and source of each segment there).
	section string
}

func (e *exporter) matcher() *filter.Program {
	if e.prog.MatchesAll() {
		return nil
	}
	return e.prog
}

// note prints a source's warning on stderr; JSON output carries notes
// itself. Warnings quote what a trace file holds (names, messages), so
// they are sanitized: a hostile file must not drive the terminal.
func (e *exporter) note(s sources.Status) {
	if s.Level >= sources.Warning {
		fmt.Fprintf(e.cmd.ErrOrStderr(), "tapview: %s: %s\n", view.Sanitize(s.Source), view.Sanitize(s.Message))
	}
}

func plainInputs(ins []exportInput) []input {
	out := make([]input, len(ins))
	for i, in := range ins {
		out[i] = input{src: in.src}
	}
	return out
}

func (e *exporter) json(ctx context.Context, ins []exportInput, out *output) (string, error) {
	var m jsonl.Matcher
	if p := e.matcher(); p != nil {
		m = p
	}
	lines := &lineCounter{w: out.w}
	w := jsonl.NewWriter(lines, jsonl.Options{Match: m, Mask: maskFunc(e.masker, e.masker == nil), Flows: e.f.flows, Limit: e.f.count, OnLimit: e.cancel})
	err := runPipeline(ctx, plainInputs(ins), e.keys, w, nil)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	what := "wrote " + count(lines.n, "JSON line")
	if e.masker != nil {
		return what + ", masked", err
	}
	return what + ", NOT masked", err
}

// lineCounter counts the lines written through it, for the summary.
type lineCounter struct {
	w io.Writer
	n int
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += bytes.Count(p, []byte{'\n'})
	return l.w.Write(p)
}

// count renders "1 packet", "2 packets", "3 HAR entries".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// packets runs the two-pass packet export.
func (e *exporter) packets(ctx context.Context, ins []exportInput, out *output) (string, error) {
	defer limitExportHeap()()
	set := packets.NewSourceSet()
	plan := packets.NewPlan(e.prog.MatchesAll(), e.masker)
	if err := plan.SpillComments(""); err != nil {
		return "", err
	}
	defer plan.Close()
	synthSpool, err := spool.Create("", true)
	if err != nil {
		return "", err
	}
	defer synthSpool.Close()
	sy := packets.NewSynthesizer(synthSpool, e.masker)
	taps := make([]*packets.Tapped, len(ins))
	spools := make([]*spool.Writer, len(ins))
	pass1 := make([]input, len(ins))
	for i, in := range ins {
		if in.spool {
			if spools[i], err = spool.Create("", false); err != nil {
				return "", err
			}
			defer spools[i].Close()
		}
		taps[i] = plan.Tap(in.src, set, spools[i])
		pass1[i] = input{src: taps[i]}
	}
	var match packets.Matcher
	if p := e.matcher(); p != nil {
		match = p
	}
	col := packets.NewCollector(plan, packets.CollectOptions{
		Match: match, Flows: e.f.flows, Limit: e.f.count, OnLimit: e.cancel,
		Packetless: func(x *decode.Exchange) bool {
			_, captured := set.Last(x.Source)
			return x.FlowID == 0 || !captured
		},
		Synth: sy, Notes: e.note,
	})
	if err := runPipeline(ctx, pass1, e.keys, col, nil); err != nil {
		return "", err
	}
	if err := col.Err(); err != nil {
		return "", err
	}
	if err := sy.Close(); err != nil {
		return "", err
	}
	for _, t := range taps {
		if err := t.Err(); err != nil {
			return "", fmt.Errorf("spooling %s: %w (is the temp directory full? set TMPDIR)", t.Name(), err)
		}
	}
	// Pass two reads again with the command's context: --duration and
	// --count ended pass one, not the writing.
	ctx2 := e.cmd.Context()
	var in packets.Inputs
	for i, x := range ins {
		switch {
		case x.trace:
		case spools[i] != nil:
			r, err := spools[i].Reader()
			if err != nil {
				return "", err
			}
			in.Captured = append(in.Captured, packets.FromSpool(r))
		default:
			src, err := pcapfile.Open(x.path)
			if err != nil {
				return "", fmt.Errorf("reading %s again: %w", x.path, err)
			}
			if in.Slabs == nil {
				in.Slabs = packets.NewSlabPool()
			}
			src.SetSlabs(in.Slabs)
			in.Captured = append(in.Captured, packets.FromSource(ctx2, src, nil))
		}
	}
	synthesized, _ := sy.Counts()
	if synthSpool.Len() > 0 {
		r, err := synthSpool.Reader()
		if err != nil {
			return "", err
		}
		in.Synthetic = packets.FromSpool(r)
	}
	withKeys := e.format == fmtPcapng && (e.masker == nil || e.f.keys)
	comment := packets.SectionComment("tapview "+versionString(), plan, synthesized, withKeys && e.keys.Len() > 0)
	if e.section != "" {
		comment = e.section + "; " + comment
	}
	pw, err := newPacketWriter(out.w, e.format, comment)
	if err != nil {
		return "", err
	}
	res, err := packets.Write(ctx2, pw, plan, in, packets.Options{IncludeKeys: withKeys, KeyLog: e.keyText, Seen: set})
	if err != nil {
		return "", err
	}
	if e.format == fmtPcap && e.keys.Len() > 0 {
		fmt.Fprintln(e.cmd.ErrOrStderr(), "tapview: pcap cannot hold TLS keys: export .pcapng, or give Wireshark the key log (tls.keylog_file)")
	}
	what := "wrote " + count(res.Packets, "packet")
	if !plan.All() {
		what += " of " + count(plan.Stats().Selected, "connection")
	}
	if res.Synthesized > 0 {
		what += fmt.Sprintf(" (%d synthesized for %s without packets)", res.Synthesized, count(synthesized, "exchange"))
	}
	if e.masker != nil {
		return what + fmt.Sprintf(", masked (%s changed)", count(res.Masked, "packet")), nil
	}
	return what + ", NOT masked", nil
}

// newPacketWriter opens a pcap or pcapng writer on w.
func newPacketWriter(w io.Writer, format, comment string) (pcapw.PacketWriter, error) {
	if format == fmtPcap {
		return packets.NewPcap(w), nil
	}
	return pcapw.NewPcapng(w, pcapw.NgOptions{Application: "tapview " + versionString(), Comment: comment})
}

// output is where an export goes: stdout, or a temporary file next to
// the target that is renamed over it only when the export succeeded, so a
// failed export never leaves a half-written file behind. An unmasked
// export is readable by its owner only, since it holds secrets.
type output struct {
	w      io.Writer
	buf    *bufio.Writer
	f      *os.File
	target string
}

func createOutput(stdout io.Writer, path string, private bool) (*output, error) {
	if path == "-" {
		buf := bufio.NewWriterSize(stdout, 256<<10)
		return &output{w: buf, buf: buf, target: "-"}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("-w %s: %w (check that the directory exists and is writable)", path, err)
	}
	if !private {
		if err := f.Chmod(0o644); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("-w %s: %w", path, err)
		}
	}
	buf := bufio.NewWriterSize(f, 256<<10)
	return &output{w: buf, buf: buf, f: f, target: path}, nil
}

func (o *output) name() string {
	if o.target == "-" {
		return "stdout"
	}
	return o.target
}

func (o *output) commit() error {
	if err := o.buf.Flush(); err != nil {
		o.abort()
		return fmt.Errorf("-w %s: %w", o.name(), err)
	}
	if o.f == nil {
		return nil
	}
	if err := o.f.Close(); err != nil {
		os.Remove(o.f.Name())
		return fmt.Errorf("-w %s: %w", o.target, err)
	}
	if err := os.Rename(o.f.Name(), o.target); err != nil {
		os.Remove(o.f.Name())
		return fmt.Errorf("-w %s: %w", o.target, err)
	}
	return nil
}

func (o *output) abort() {
	if o.f != nil {
		o.f.Close()
		os.Remove(o.f.Name())
	}
}
