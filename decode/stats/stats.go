// Package stats summarises exchanges by group: how many, how many failed,
// latency percentiles and body bytes, for `tapview stats` and the UI's
// stats view. Groups are the route of an exchange (host, method and a
// template of the path, SQL, key or name with per-call values collapsed;
// see decode/route) or any filter variable (status, pod, ...), or several.
// The route is a filter variable too (route), so every group can be
// selected by a filter: route == "<the group's name>".
//
// A Table counts final exchanges only. The decoder publishes an exchange
// again each time it changes (higher Version) and never after it is final
// (decode.ExchangeState.Final), so counting finals counts each exchange
// once without remembering IDs, which a live session could not afford.
// Callers that see pending exchanges come back to them later (the UI
// rechecks their positions); Add ignores them meanwhile.
package stats

import (
	"fmt"
	"strings"
	"time"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
	"github.com/tapview/tapview/decode/route"
	"github.com/tapview/tapview/decode/view"
)

// Route is also the name of the default dimension.
const routeDim = "route"

// Defaults for Options.
const (
	DefaultExactPerGroup = 100_000
	DefaultExactTotal    = 2_000_000
	DefaultMaxGroups     = 10_000
	// maxValue caps a dimension's value (a body or a long path as a key).
	maxValue = route.MaxLen
)

// Other is the value of every dimension of the group that collects
// exchanges once MaxGroups groups exist.
const Other = "(other)"

// Options configure a Table.
type Options struct {
	// By names the dimensions: "route" (see route.Shown) or filter variables
	// (see filter.Accessor). Empty means route alone.
	By []string
	// Match selects the exchanges counted (a filter); nil counts all.
	Match func(*decode.Exchange) bool
	// ExactPerGroup and ExactTotal bound the latency samples kept for
	// exact percentiles, per group and in all; a group past either
	// switches to the histogram (see latencies). 0 means the default.
	ExactPerGroup, ExactTotal int
	// MaxGroups bounds the groups; later new groups are counted in one
	// group whose values are all Other. 0 means the default.
	MaxGroups int
}

// Table is the running summary. It is not safe for concurrent use: one
// goroutine adds and reads (the UI hands it between commands).
type Table struct {
	by     []string
	dims   []func(*decode.Exchange) string
	match  func(*decode.Exchange) bool
	groups map[string]*group
	order  []*group // first-seen order
	exact  int      // exact samples held in all groups
	perG   int
	total  int
	maxG   int
	added  int64
}

type group struct {
	key              string
	values           []string
	count, errors    int64
	bytesIn, bytesOt int64
	lat              latencies
}

// New builds a Table; it fails on an unknown or ungroupable dimension.
func New(o Options) (*Table, error) {
	t := &Table{
		by:     o.By,
		match:  o.Match,
		groups: make(map[string]*group),
		perG:   o.ExactPerGroup,
		total:  o.ExactTotal,
		maxG:   o.MaxGroups,
	}
	if len(t.by) == 0 {
		t.by = []string{routeDim}
	}
	if t.perG <= 0 {
		t.perG = DefaultExactPerGroup
	}
	if t.total <= 0 {
		t.total = DefaultExactTotal
	}
	if t.maxG <= 0 {
		t.maxG = DefaultMaxGroups
	}
	seen := map[string]bool{}
	for _, name := range t.by {
		name = strings.TrimSpace(name)
		if seen[name] {
			return nil, fmt.Errorf("stats: %q is named twice", name)
		}
		seen[name] = true
		if name == routeDim {
			t.dims = append(t.dims, route.Shown)
			continue
		}
		f, err := filter.Accessor(name)
		if err != nil {
			return nil, fmt.Errorf("stats: grouping by %s: %w", name, err)
		}
		t.dims = append(t.dims, f)
	}
	return t, nil
}

// By returns the dimension names, in order.
func (t *Table) By() []string { return append([]string(nil), t.by...) }

// Values returns the group values of e, one per dimension, as Add would
// file it (before the MaxGroups cap).
func (t *Table) Values(e *decode.Exchange) []string {
	vs := make([]string, len(t.dims))
	for i, f := range t.dims {
		vs[i] = clipValue(view.Sanitize(f(e)))
	}
	return vs
}

// Key is the group key of e: its values joined by a unit separator.
func (t *Table) Key(e *decode.Exchange) string { return strings.Join(t.Values(e), "\x1f") }

// Add counts e when it is final and matches; it reports whether it
// counted (see the package doc for why pending exchanges are skipped).
func (t *Table) Add(e *decode.Exchange) bool {
	if e == nil || !e.State.Final() || (t.match != nil && !t.match(e)) {
		return false
	}
	vs := t.Values(e)
	key := strings.Join(vs, "\x1f")
	g := t.groups[key]
	if g == nil {
		if len(t.groups) >= t.maxG {
			for i := range vs {
				vs[i] = Other
			}
			key = strings.Join(vs, "\x1f")
			g = t.groups[key]
		}
		if g == nil {
			g = &group{key: key, values: vs}
			t.groups[key] = g
			t.order = append(t.order, g)
		}
	}
	t.added++
	g.count++
	if Failed(e) {
		g.errors++
	}
	g.bytesIn += size(e.Request)
	g.bytesOt += size(e.Response)
	if d, ok := latency(e); ok {
		g.lat.add(d)
		if g.lat.hist == nil {
			t.exact++
			if len(g.lat.exact) > t.perG || t.exact > t.total {
				t.exact -= g.lat.sketch()
			}
		}
	}
	return true
}

// Len is the number of exchanges counted.
func (t *Table) Len() int64 { return t.added }

// Failed reports whether an exchange counts as an error: an HTTP status
// of 500 or more (4xx are the client's mistakes, not the service
// failing; group --by status to see them), a gRPC status other than OK,
// a DNS answer other than NOERROR, a database or queue error reply, or
// an exchange cut short (reset, or partial after missing bytes). Orphans
// are not errors: Redis pub/sub pushes are orphans by design.
func Failed(e *decode.Exchange) bool {
	switch {
	case e.State == decode.Reset || e.State == decode.Partial:
		return true
	case e.GRPC != nil && e.GRPC.Status > 0:
		return true
	case e.DNS != nil:
		return e.DNS.Rcode != "" && e.DNS.Rcode != "NOERROR"
	case e.Query != nil && e.Query.ReplyError != "":
		return true
	}
	return e.Status() >= 500
}

// size is a message's body size as the list and JSON show it
// (req_body_bytes, resp_body_bytes): content codings removed when they
// could be, else as transferred; 0 without the message.
func size(m *decode.Message) int64 {
	if m == nil {
		return 0
	}
	return max(view.BodySize(m), 0)
}

// latency is e's latency when it has one (decode.Exchange.Latency, the
// JSON's duration_ms): a request and a response with capture times, the
// response's last byte after the request's first. Latency is 0 both when
// a side or its time is missing (an orphan, a WebSocket session) and for
// a clock that went backwards; neither is a measurement, so zeros are
// left out rather than pulling the percentiles down.
func latency(e *decode.Exchange) (d time.Duration, ok bool) {
	d = e.Latency()
	return d, d > 0
}

func clipValue(s string) string {
	if len(s) <= maxValue {
		return s
	}
	return route.Clip(s)
}

// Row is one group's figures.
type Row struct {
	// Key identifies the group (Table.Key of its exchanges); Values are
	// its dimension values in the order of Table.By.
	Key    string
	Values []string
	Count  int64
	Errors int64
	// ErrorRate is Errors/Count, 0 to 1.
	ErrorRate float64
	Latency   Percentiles
	// BytesIn and BytesOut are the request and response body bytes.
	BytesIn, BytesOut int64
}

// Name is the group as one line: its values joined by " · ", empty
// values shown as "-".
func (r Row) Name() string {
	parts := make([]string, len(r.Values))
	for i, v := range r.Values {
		if v == "" {
			v = "-"
		}
		parts[i] = v
	}
	return strings.Join(parts, " · ")
}

// Rows returns every group's figures in first-seen order.
func (t *Table) Rows() []Row {
	out := make([]Row, len(t.order))
	for i, g := range t.order {
		out[i] = Row{
			Key: g.key, Values: append([]string(nil), g.values...),
			Count: g.count, Errors: g.errors, ErrorRate: float64(g.errors) / float64(g.count),
			Latency: g.lat.percentiles(), BytesIn: g.bytesIn, BytesOut: g.bytesOt,
		}
	}
	return out
}
