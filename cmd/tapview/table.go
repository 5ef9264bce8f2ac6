package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
	"github.com/tapview/tapview/export/jsonl"
	"github.com/tapview/tapview/sources"
)

// tableWriter prints final exchanges (or ended flows) as aligned rows for
// people reading a terminal or a pager; notes go to the same stream,
// prefixed, so a warning about a damaged file is seen next to the data.
// It streams like the JSON writer (jsonl.Output) when live is set.
type tableWriter struct {
	out     *jsonl.Output // its lock guards count, header and hold
	match   jsonl.Matcher
	mask    func(*decode.Exchange) *decode.Exchange
	flows   bool
	limit   int
	onLimit func()
	count   int
	header  bool
	hold    jsonl.FlowHold
}

func newTableWriter(w io.Writer, m jsonl.Matcher, mask func(*decode.Exchange) *decode.Exchange, flows bool, limit int, onLimit func(), live bool) *tableWriter {
	return &tableWriter{out: jsonl.NewOutput(w, 64<<10, live), match: m, mask: mask, flows: flows, limit: limit, onLimit: onLimit}
}

func (t *tableWriter) Exchange(e *decode.Exchange) {
	if t.flows || !e.State.Final() || (t.match != nil && !t.match.Match(e)) {
		return
	}
	if t.mask != nil {
		e = t.mask(e)
	}
	status := ""
	switch {
	case e.GRPC != nil && e.GRPC.Status >= 0:
		status = view.GRPCStatus(e.GRPC.Status)
	case e.DNS != nil:
		status = e.DNS.Rcode
	case e.Status() != 0:
		status = strconv.Itoa(e.Status())
	case e.Query != nil && e.Query.ReplyError != "":
		status = "ERR" // the reply's text follows the URL (stateNote)
	case e.Query != nil && e.Response != nil:
		status = "OK"
	}
	method := e.Method()
	if e.DNS != nil {
		method = e.DNS.Type
	}
	url := e.Host() + e.Path()
	if e.Query != nil {
		// The server, then the statement, key or topics (as the UI list).
		url = e.Host() + "  " + e.Path()
	}
	lat := ""
	if d := e.Latency(); d > 0 {
		lat = view.Duration(d)
	}
	size := ""
	if e.Response != nil {
		size = view.Size(view.BodySize(e.Response))
	}
	t.row(fmt.Sprintf("%-12s %-8s %-7s %-6s %9s %8s  %s%s",
		clock(e.Start), e.Proto, clip(method, 7), status, lat, size, clip(url, 100), stateNote(e)))
}

func stateNote(e *decode.Exchange) string {
	s := ""
	if e.State != decode.Complete {
		s = "  [" + string(e.State) + "]"
	}
	if e.Query != nil && e.Query.ReplyError != "" {
		s += "  " + clip(view.Sanitize(e.Query.ReplyError), 80)
	}
	if e.Error != "" {
		s += "  " + clip(e.Error, 80)
	}
	return s
}

// written is how many rows were printed.
func (t *tableWriter) written() int {
	t.out.Lock()
	defer t.out.Unlock()
	return t.count
}

func (t *tableWriter) Flow(f *decode.Flow) {
	if !t.flows || (t.match != nil && !t.match.MatchFlow(f)) {
		return
	}
	t.out.Lock()
	ready := t.hold.Add(f)
	t.out.Unlock()
	for _, g := range ready {
		t.flowRow(g)
	}
}

func (t *tableWriter) flowRow(f *decode.Flow) {
	proto := f.Proto
	if proto == "" {
		proto = f.Transport
	}
	state := string(f.State)
	if f.Partial {
		state += ",partial"
	}
	name := ""
	if f.SNI != "" {
		name = "  " + f.SNI
	}
	t.row(fmt.Sprintf("%-12s %-5s %-47s %-8s %-14s %7d %10s %10s%s",
		clock(f.First), f.Transport, clip(f.Client.String()+" → "+f.Server.String(), 47), clip(proto, 8), state,
		f.PacketsC2S+f.PacketsS2C, humanBytes(f.BytesC2S, f.BytesC2S), humanBytes(f.BytesS2C, f.BytesS2C), name))
}

func (t *tableWriter) Note(s sources.Status) {
	t.out.Lock()
	defer t.out.Unlock()
	t.write(fmt.Sprintf("# %s: %s: %s", s.Level, s.Source, view.Sanitize(s.Message)))
	t.out.EndRecord()
}

func (t *tableWriter) row(line string) {
	t.out.Lock()
	defer t.out.Unlock()
	if t.limit > 0 && t.count >= t.limit {
		return
	}
	if !t.header {
		t.header = true
		if t.flows {
			t.write(fmt.Sprintf("%-12s %-5s %-47s %-8s %-14s %7s %10s %10s", "TIME", "L4", "CLIENT → SERVER", "PROTO", "STATE", "PKTS", "C→S", "S→C"))
		} else {
			t.write(fmt.Sprintf("%-12s %-8s %-7s %-6s %9s %8s  %s", "TIME", "PROTO", "METHOD", "STATUS", "LATENCY", "SIZE", "URL"))
		}
	}
	t.write(view.Sanitize(line))
	t.out.EndRecord()
	t.count++
	if t.limit > 0 && t.count == t.limit && t.onLimit != nil {
		t.onLimit()
	}
}

func (t *tableWriter) write(s string) {
	t.out.PutString(s)
	t.out.PutString("\n")
}

// Flush prints the flows still held, stops the periodic flush and
// returns the first write error; call it once, after the sources ended.
func (t *tableWriter) Flush() error {
	t.out.Lock()
	rest := t.hold.Drain()
	t.out.Unlock()
	for _, g := range rest {
		t.flowRow(g)
	}
	return t.out.Close()
}

// Sync writes out what is buffered now (see jsonl.Writer.Sync).
func (t *tableWriter) Sync() error { return t.out.Flush() }

func clock(ts time.Time) string {
	if ts.IsZero() {
		return "-"
	}
	return ts.UTC().Format("15:04:05.000")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func humanBytes(decoded, wire int64) string {
	n := decoded
	if n < 0 {
		n = wire
	}
	switch {
	case n < 0:
		return "-"
	case n < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + "K"
	default:
		return strings.TrimSuffix(strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64), ".0") + "M"
	}
}
