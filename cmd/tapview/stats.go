package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/stats"
	"github.com/tapview/tapview/decode/tls/keylog"
	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/sources"
)

// statsFlags are the flags of `tapview stats`.
type statsFlags struct {
	by     string
	filter string
	output string
	sort   string
	top    int
	noMask bool
	keylog string
	lanes  int
}

func newStatsCmd() *cobra.Command {
	var f statsFlags
	cmd := &cobra.Command{
		Use:   "stats [FILE...]",
		Short: "Summarise exchanges by route or any filter variable: count, errors, latency percentiles, bytes",
		Long: `Read capture files to the end and print one line per group of exchanges:
how many, the share that failed (HTTP 5xx, gRPC status other than OK, DNS
answers other than NOERROR, database/queue error replies, resets and
partial exchanges; 4xx are not errors: --by status shows them), latency
percentiles (p50, p90, p99: nearest rank, exact up to 100,000 samples per
group, then within 1%, marked ~) and the maximum, and the request and
response body bytes.

Groups are routes by default: host, method and a template of the path
(/pets/123 -> /pets/{id}; UUIDs, hex hashes and tokens too), gRPC
service/method, the SQL text with literals collapsed, the Redis key with
ids collapsed (user:123 -> user:{id}), the Kafka topics, the DNS type and
name. --by groups by filter variables instead ('tapview help filters'
lists them), or by both: --by route,status. FILE is what tapview open reads
(captures, Envoy tap traces, - for stdin; Ctrl-C prints what was counted).
Without FILE the embedded demo capture is read.`,
		Example: `  tapview stats trace.pcap
  tapview stats --by status,host -o json trace.pcap
  tapview stats -f 'proto == "postgres"' --sort p99 --top 10 db.pcap`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd, args, &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.by, "by", "route", "group by these comma-separated `VARS`: route, or filter variables (status, host, pod, ...)")
	fs.StringVarP(&f.filter, "filter", "f", "", "count only exchanges matching this CEL `FILTER`")
	fs.StringVarP(&f.output, "output", "o", "table", "table or json")
	fs.StringVar(&f.sort, "sort", "count", "sort by `COL` ("+strings.Join(stats.Columns(), ", ")+"); figures largest first, group A-Z; add :asc or :desc to choose")
	fs.IntVar(&f.top, "top", 0, "print only the first `N` groups (0: all)")
	fs.BoolVar(&f.noMask, "no-mask", false, "group by values as captured (masked by default)")
	fs.StringVar(&f.keylog, "keylog", "", "decrypt TLS with this NSS key log `FILE` (SSLKEYLOGFILE)")
	fs.IntVarP(&f.lanes, "jobs", "j", 0, "decode on this many cores (0: one per core); the output is the same for any number")
	return cmd
}

// runStats decodes the inputs to the end, then prints the table.
func runStats(cmd *cobra.Command, args []string, f *statsFlags) error {
	if f.output != "table" && f.output != "json" {
		return usageErr("-o %q: use -o table or -o json", f.output)
	}
	if f.top < 0 {
		return usageErr("--top %d: give a number of groups, or 0 for all", f.top)
	}
	if f.lanes < 0 {
		return usageErr("-j %d: give a number of cores, or 0 for one per core", f.lanes)
	}
	col, desc, err := sortSpec(f.sort)
	if err != nil {
		return err
	}
	prog, err := filter.Compile(f.filter)
	if err != nil {
		return usageErr("--filter %q: %v\n(see 'tapview help filters' for the variables)", f.filter, err)
	}
	var by []string
	for _, b := range strings.Split(f.by, ",") {
		if b = strings.TrimSpace(b); b != "" {
			by = append(by, b)
		}
	}
	tab, err := stats.New(stats.Options{By: by})
	if err != nil {
		return usageErr("--by %q: %v", f.by, err)
	}
	inputs, err := statsInputs(args)
	if err != nil {
		return err
	}
	keys := keylog.New()
	if f.keylog != "" {
		if err := keys.LoadFile(f.keylog); err != nil {
			return fmt.Errorf("--keylog: %w", err)
		}
	}
	var mask func(*decode.Exchange) *decode.Exchange
	if !f.noMask {
		masker, err := buildMasker("")
		if err != nil {
			return err
		}
		mask = masker.Exchange
	}
	out := &statsOutput{tab: tab, match: prog, mask: mask, notes: cmd.ErrOrStderr()}
	report := func() error {
		return out.print(cmd.OutOrStdout(), f, col, desc)
	}
	// A signal cancels the sources; one that cannot stop at once (stdin
	// still open) forces an exit, which prints what was counted so far.
	defer onForcedExit(cmd.Context(), report)()
	dopts := decodeOptions{noOrdinals: true, lanes: f.lanes}
	if err := runPipelineWith(cmd.Context(), inputs, keys, out, nil, dopts); err != nil {
		return err
	}
	return report()
}

// print writes the table or JSON once, with what was counted so far; a
// second call (the forced exit racing the normal end) does nothing.
func (o *statsOutput) print(w io.Writer, f *statsFlags, col string, desc bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.printed {
		return nil
	}
	o.printed = true
	rows := o.tab.Rows()
	if err := stats.SortRows(rows, col, desc); err != nil {
		return usageErr("--sort %q: %v", f.sort, err)
	}
	if f.top > 0 && len(rows) > f.top {
		rows = rows[:f.top]
	}
	if f.output == "json" {
		return stats.WriteJSON(w, stats.NewReport(o.tab.By(), f.filter, o.tab.Len(), rows))
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no exchanges to summarise (none decoded, or none matched the filter)")
		return err
	}
	return stats.WriteTable(w, o.tab.By(), rows)
}

// sortSpec splits "p99" or "p99:asc" into a column and a direction:
// figures largest first, the group name A to Z, unless told.
func sortSpec(s string) (col string, desc bool, err error) {
	col, dir, _ := strings.Cut(s, ":")
	desc = col != "group"
	switch dir {
	case "":
	case "asc":
		desc = false
	case "desc":
		desc = true
	default:
		return "", false, usageErr("--sort %q: the direction after : is asc or desc", s)
	}
	if err := stats.SortRows(nil, col, desc); err != nil {
		return "", false, usageErr("--sort %q: %v", s, err)
	}
	return col, desc, nil
}

// statsInputs opens the files, or the embedded demo without any.
func statsInputs(args []string) ([]input, error) {
	if len(args) == 0 {
		src, err := demoSource()
		if err != nil {
			return nil, err
		}
		return []input{{src: src}}, nil
	}
	inputs := make([]input, 0, len(args))
	for _, a := range args {
		src, err := openFile(a)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, input{src: src})
	}
	return inputs, nil
}

// statsOutput feeds decoded exchanges that match the filter to the
// table (masked first, so group values hold no secrets) and prints the
// sources' warnings to stderr, so a damaged file is not summarised
// silently. Decoder lanes may call it concurrently.
type statsOutput struct {
	mu    sync.Mutex
	tab   *stats.Table
	match *filter.Program
	mask  func(*decode.Exchange) *decode.Exchange
	notes io.Writer
	// printed is set once the summary was written (see print).
	printed bool
}

func (o *statsOutput) Flow(*decode.Flow) {}

func (o *statsOutput) Exchange(e *decode.Exchange) {
	if !e.State.Final() {
		return // counted when final (see decode/stats)
	}
	// The filter sees the exchange as captured, as in tapview open;
	// masking only shapes the group values.
	if !o.match.Match(e) {
		return
	}
	if o.mask != nil {
		e = o.mask(e)
	}
	o.mu.Lock()
	o.tab.Add(e)
	o.mu.Unlock()
}

func (o *statsOutput) Note(s sources.Status) {
	if s.Level < sources.Warning {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.notes, "tapview: %s: %s: %s\n", s.Level, view.Sanitize(s.Source), view.Sanitize(s.Message))
}
