package stats

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tapview/tapview/decode/view"
)

// Report is what `tapview stats -o json` prints: one JSON document.
type Report struct {
	// By names the dimensions, the keys of each group's "key" object.
	By []string `json:"by"`
	// Filter is the filter expression the exchanges passed, "" for all.
	Filter string `json:"filter"`
	// Exchanges counts the exchanges summarised (final ones that passed
	// the filter), over every group, also those --top left out.
	Exchanges int64       `json:"exchanges"`
	Groups    []JSONGroup `json:"groups"`
}

// JSONGroup is one group of a Report. Latencies are milliseconds with
// microsecond precision, as duration_ms of `tapview open -o json`; they
// are left out when no exchange of the group had a latency.
type JSONGroup struct {
	Key            map[string]string `json:"key"`
	Count          int64             `json:"count"`
	Errors         int64             `json:"errors"`
	ErrorRate      float64           `json:"error_rate"`
	LatencySamples int64             `json:"latency_samples"`
	P50            *float64          `json:"p50_ms,omitempty"`
	P90            *float64          `json:"p90_ms,omitempty"`
	P99            *float64          `json:"p99_ms,omitempty"`
	Max            *float64          `json:"max_ms,omitempty"`
	// Exact is false when the percentiles came from the bounded
	// histogram (within 1%).
	Exact    bool  `json:"exact"`
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
}

// Millis renders a duration as the JSON does: microseconds truncated,
// in milliseconds.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// NewReport builds the JSON form of rows grouped by the dimensions by.
func NewReport(by []string, filter string, total int64, rows []Row) Report {
	r := Report{By: by, Filter: filter, Exchanges: total, Groups: make([]JSONGroup, 0, len(rows))}
	for _, row := range rows {
		g := JSONGroup{
			Key:   make(map[string]string, len(by)),
			Count: row.Count, Errors: row.Errors, ErrorRate: row.ErrorRate,
			LatencySamples: row.Latency.Samples, Exact: row.Latency.Exact,
			BytesIn: row.BytesIn, BytesOut: row.BytesOut,
		}
		for i, name := range by {
			if i < len(row.Values) {
				g.Key[name] = row.Values[i]
			}
		}
		if row.Latency.Samples > 0 {
			ms := func(d time.Duration) *float64 { v := Millis(d); return &v }
			g.P50, g.P90, g.P99, g.Max = ms(row.Latency.P50), ms(row.Latency.P90), ms(row.Latency.P99), ms(row.Latency.Max)
		}
		r.Groups = append(r.Groups, g)
	}
	return r
}

// WriteJSON prints the report as one indented JSON document.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// maxCell caps a group cell in the table; the JSON has the whole value.
const maxCell = 100

// WriteTable prints rows as aligned columns: one per dimension, then
// COUNT, ERR%, P50, P90, P99, MAX, BYTES IN, BYTES OUT. Latencies from
// the histogram are marked "~"; "-" means no exchange had one.
func WriteTable(w io.Writer, by []string, rows []Row) error {
	head := make([]string, 0, len(by)+8)
	for _, b := range by {
		head = append(head, strings.ToUpper(b))
	}
	head = append(head, "COUNT", "ERR%", "P50", "P90", "P99", "MAX", "BYTES IN", "BYTES OUT")
	cells := [][]string{head}
	for _, r := range rows {
		line := make([]string, 0, len(head))
		for i := range by {
			v := "-"
			if i < len(r.Values) && r.Values[i] != "" {
				v = clipCell(r.Values[i])
			}
			line = append(line, v)
		}
		line = append(line, strconv.FormatInt(r.Count, 10), Percent(r.ErrorRate))
		for i, d := range []time.Duration{r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max} {
			line = append(line, LatencyCell(r.Latency, d, i == 3))
		}
		line = append(line, view.Size(r.BytesIn), view.Size(r.BytesOut))
		cells = append(cells, line)
	}
	widths := make([]int, len(head))
	for _, line := range cells {
		for i, c := range line {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, line := range cells {
		b.Reset()
		for i, c := range line {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			switch {
			case i < len(by) && i == len(line)-1:
				b.WriteString(c)
			case i < len(by):
				b.WriteString(c + pad)
			default:
				b.WriteString(pad + c)
			}
			if i < len(line)-1 {
				b.WriteString("  ")
			}
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(w, b.String()); err != nil {
			return fmt.Errorf("writing the stats table: %w", err)
		}
	}
	return nil
}

// Percent renders an error rate: "0%", "12.5%", "100%".
func Percent(rate float64) string {
	s := strconv.FormatFloat(rate*100, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + "%"
}

// LatencyCell renders one latency figure: "-" without samples, "~" in
// front of a value from the histogram (the maximum is always exact).
func LatencyCell(p Percentiles, d time.Duration, isMax bool) string {
	if p.Samples == 0 {
		return "-"
	}
	s := view.Duration(d)
	if !p.Exact && !isMax {
		s = "~" + s
	}
	return s
}

func clipCell(s string) string {
	if utf8.RuneCountInString(s) <= maxCell {
		return s
	}
	r := []rune(s)
	return string(r[:maxCell-1]) + "…"
}
