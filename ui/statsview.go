package ui

import (
	"strings"
	"time"

	"github.com/tapview/tapview/decode/stats"
	"github.com/tapview/tapview/decode/view"
)

// Stats view column keys, in the order of statsSorts (the group last
// there, first on screen).
const (
	stCount = iota
	stErr
	stP50
	stP90
	stP99
	stMax
	stIn
	stOut
	stGroup
	stNumCols
)

// statsDetail is the number of lines describing the selected group
// under the table: a rule, its name, its counts and bytes, and its
// latencies (one line for both was cut at 80 columns).
const statsDetail = 4

// statsColumns fit the table to the screen: the group takes what the
// figures leave; on narrow screens request bytes, p90 and response bytes
// give way first.
func (m *Model) statsColumns(v *statsView) []column {
	title := "GROUP"
	if len(v.by) > 0 {
		title = strings.ToUpper(v.groupName())
	}
	cols := fitColumns([]column{
		{key: stGroup, title: title, weight: 1, min: 36, max: 110},
		{key: stCount, title: "COUNT", w: 7, right: true},
		{key: stErr, title: "ERR%", w: 6, right: true},
		{key: stP50, title: "P50", w: 7, right: true},
		{key: stP90, title: "P90", w: 7, right: true, drop: 4},
		{key: stP99, title: "P99", w: 7, right: true},
		{key: stMax, title: "MAX", w: 7, right: true, drop: 2},
		{key: stIn, title: "BYTES IN", w: 9, right: true, drop: 5},
		{key: stOut, title: "BYTES OUT", w: 10, right: true, drop: 3},
	}, m.w)
	arrow := "↑"
	if v.desc {
		arrow = "↓"
	}
	for i := range cols {
		if cols[i].key == v.sort {
			if cols[i].right {
				cols[i].title = arrow + cols[i].title
			} else {
				cols[i].title += arrow
			}
		}
	}
	return cols
}

// statsLines renders the view in exactly h lines: titles, one row per
// group, and the selected group in full.
func (m *Model) statsLines(v *statsView, h int) []string {
	cols := m.statsColumns(v)
	out := []string{m.st.colTitle.Render(titleLine(cols, m.w))}
	rows := min(m.statsRows(), h-1)
	switch {
	case !v.loaded:
		out = append(out, m.st.dim.Render(" "+m.spinner()+" counting…"))
	case len(v.rows) == 0 && v.expr != "":
		out = append(out, m.st.dim.Render(" nothing matches the filter"))
	case len(v.rows) == 0:
		out = append(out, m.st.dim.Render(" no finished exchanges yet"))
	}
	for i := v.offset; i < len(v.rows) && i < v.offset+rows; i++ {
		out = append(out, m.statsRow(&v.rows[i], cols, i == v.cursor, len(v.by) == 0 || v.by[0] == "route"))
	}
	for len(out) < h-statsDetail {
		out = append(out, "")
	}
	if v.cursor < len(v.rows) {
		out = append(out, m.statsDetailLines(&v.rows[v.cursor])...)
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out[:h]
}

func (m *Model) statsRow(r *stats.Row, cols []column, selected, routes bool) string {
	vals := make([]string, stNumCols)
	vals[stGroup] = r.Name()
	for _, c := range cols {
		if c.key == stGroup && routes {
			// The route gives way, not what follows it (route · status):
			// the status is what tells such groups apart.
			name := vals[stGroup]
			lead := r.Values[0]
			if lead == "" {
				lead = "-"
			}
			suffix := strings.TrimPrefix(name, lead)
			vals[stGroup] = fitGroup(lead, c.w-width(suffix)) + suffix
		}
	}
	vals[stCount] = thousands(int(r.Count))
	vals[stErr] = stats.Percent(r.ErrorRate)
	lats := [...]time.Duration{r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max}
	for i, k := range [...]int{stP50, stP90, stP99, stMax} {
		vals[k] = stats.LatencyCell(r.Latency, lats[i], k == stMax)
	}
	vals[stIn] = humanBytes(r.BytesIn)
	vals[stOut] = humanBytes(r.BytesOut)
	pre, errCell, post := rowParts(cols, vals, stErr, m.w)
	switch {
	case selected:
		return m.rp.cursor.wrap(pre + errCell + post)
	case r.Errors > 0:
		return pre + m.rp.errRow.wrap(errCell) + post
	}
	return pre + errCell + post
}

// statsDetailLines describe the selected group in full: its whole name,
// and its figures in words.
func (m *Model) statsDetailLines(r *stats.Row) []string {
	lat := "no latencies (no exchange had both a request and a response)"
	if p := r.Latency; p.Samples > 0 {
		how := "exact"
		if !p.Exact {
			how = "within 1%"
		}
		lat = "p50 " + view.Duration(p.P50) + " · p90 " + view.Duration(p.P90) + " · p99 " + view.Duration(p.P99) +
			" · max " + view.Duration(p.Max) + " of " + thousands(int(p.Samples)) + " (" + how + ")"
	}
	lines := []string{
		m.st.dim.Render(strings.Repeat("─", m.w)),
		" " + m.st.bold.Render(r.Name()),
		" " + thousands(int(r.Count)) + " " + plural(int(r.Count), "exchange") + " · " + thousands(int(r.Errors)) + " " +
			plural(int(r.Errors), "error") + " · in " + longBytes(r.BytesIn) + " · out " + longBytes(r.BytesOut),
		" " + lat,
	}
	for i := range lines {
		lines[i] = truncateStyled(lines[i], m.w)
	}
	return lines
}

// statsTab is the view's entry in the header.
func (m *Model) statsTab() string {
	if m.statsOpen() != nil {
		return "   " + m.st.paneOn.Render("3 Stats")
	}
	return "   " + m.st.paneOff.Render("3 Stats")
}

// count is the status bar's count while the view is open.
func (v *statsView) count() string {
	return thousands(len(v.rows)) + " " + plural(len(v.rows), "group") + " of " + thousands(int(v.total)) + " " +
		plural(int(v.total), "exchange")
}

// fitGroup shortens a route for its column: the host gives way first
// (cut in the middle), so the method and template, which tell the groups
// of one host apart, stay readable.
func fitGroup(s string, w int) string {
	const minHost = 8
	host, rest, ok := strings.Cut(s, " ")
	if !ok || width(s) <= w || !isASCII(s) || w < minHost+12 {
		return s // the column's own fit
	}
	if len(rest)+minHost+1 <= w {
		return fitMiddle(host, w-len(rest)-1) + " " + rest
	}
	return fitMiddle(host, minHost) + " " + fitMiddle(rest, w-minHost-1)
}
