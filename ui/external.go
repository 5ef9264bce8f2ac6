package ui

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/mesh"
	"github.com/tapview/tapview/decode/view"
)

// ExternalReader is where the external lens reads destinations outside
// the cluster; *mesh.External satisfies it. Groups must be cheap enough to
// call on every refresh (a bounded table copy).
type ExternalReader interface {
	Groups() []mesh.Group
}

// externalView is the external lens, an overlay: destinations by name
// with their verdict, read in a command on open and on every store
// refresh. The Model keeps only the last read, for the header's count.
type externalView struct {
	loaded bool
	groups []mesh.Group
	tableCursor
}

// external is the open lens, or nil.
func (m *Model) external() *externalView {
	v, _ := m.over.(*externalView)
	return v
}

func (v *externalView) hints() string { return "q back · 1 exchanges " }

func (v *externalView) lines(m *Model, h int) []string { return m.externalLines(v, h) }

// externalResult carries a fresh copy of the destinations.
type externalResult struct{ groups []mesh.Group }

// openExternal shows the lens in place of the lists.
func (m *Model) openExternal() tea.Cmd {
	if m.cfg.External == nil {
		return m.flash("the external lens is not available here", true)
	}
	m.over = &externalView{groups: m.extLast, loaded: m.extLoaded}
	m.detail = detailView{}
	return m.loadExternal()
}

// loadExternal reads the destinations off the update loop.
func (m *Model) loadExternal() tea.Cmd {
	if m.external() == nil || m.cfg.External == nil {
		return nil
	}
	r := m.cfg.External
	return m.work(func() tea.Msg { return externalResult{groups: r.Groups()} })
}

func (m *Model) onExternalResult(r externalResult) {
	m.extLast, m.extLoaded = r.groups, true
	m.updateDays()
	v := m.external()
	if v == nil {
		return
	}
	name := ""
	if v.cursor < len(v.groups) {
		name = v.groups[v.cursor].Name
	}
	v.groups, v.loaded = r.groups, true
	for i, g := range r.groups { // the cursor stays on its destination as the order changes
		if g.Name == name {
			v.cursor = i
			break
		}
	}
	m.clampExternal(v)
}

// externalRows is how many destinations fit above the detail lines.
func (m *Model) externalRows() int { return max(m.bodyHeight()-1-externalDetail, 1) }

// externalDetail is the number of lines describing the selected
// destination under the table.
const externalDetail = 4

func (m *Model) clampExternal(e *externalView) { e.clamp(len(e.groups), m.externalRows()) }

// key moves through the lens; q and esc (handled by the root) go back
// to the lists.
func (e *externalView) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	switch {
	case e.move(m.keys, k, len(e.groups), m.externalRows()):
	case key.Matches(k, m.keys.Enter), key.Matches(k, m.keys.Filter):
		return m.flash("the external lens lists every destination; 1 and / filter exchanges", false), true
	default:
		return nil, false
	}
	m.clampExternal(e)
	return nil, true
}

// External lens column keys.
const (
	xVerdict = iota
	xName
	xVia
	xReqs
	xErrs
	xBytes
	xFirst
	xLast
	xNumCols
)

func (m *Model) externalColumns() []column {
	return fitColumns([]column{
		{key: xVerdict, title: "VERDICT", w: 7},
		{key: xName, title: "DESTINATION", weight: 2, min: 16},
		{key: xVia, title: "VIA", weight: 1, drop: 3},
		{key: xReqs, title: "REQS", w: 6, right: true},
		{key: xErrs, title: "ERR", w: 5, right: true},
		{key: xBytes, title: "BYTES", w: 6, right: true, drop: 5},
		{key: xFirst, title: "FIRST", w: m.clockWidth(), drop: 6},
		{key: xLast, title: "LAST", w: m.clockWidth(), drop: 4},
	}, m.w)
}

// externalLines renders the lens in exactly h lines: titles, one row per
// destination, and the selected destination's addresses and reasons.
func (m *Model) externalLines(e *externalView, h int) []string {
	cols := m.externalColumns()
	out := []string{m.st.colTitle.Render(titleLine(cols, m.w))}
	rows := min(m.externalRows(), h-1)
	switch {
	case !e.loaded:
		out = append(out, m.st.dim.Render(" reading…"))
	case len(e.groups) == 0:
		out = append(out, m.st.dim.Render(" no destinations outside the cluster yet"))
	}
	for i := e.offset; i < len(e.groups) && i < e.offset+rows; i++ {
		out = append(out, m.externalRow(&e.groups[i], cols, i == e.cursor))
	}
	for len(out) < h-externalDetail {
		out = append(out, "")
	}
	if e.cursor < len(e.groups) {
		out = append(out, m.externalDetailLines(&e.groups[e.cursor])...)
	}
	for len(out) < h {
		out = append(out, "")
	}
	return out[:h]
}

func (m *Model) externalRow(g *mesh.Group, cols []column, selected bool) string {
	vals := make([]string, xNumCols)
	vals[xVerdict] = string(g.Verdict)
	vals[xName] = view.Sanitize(g.Name)
	vals[xVia] = view.Sanitize(g.Via)
	vals[xReqs] = thousands(int(g.Requests))
	vals[xErrs] = strconv.FormatInt(g.Errors, 10)
	vals[xBytes] = humanBytes(g.Bytes)
	if !g.First.IsZero() {
		vals[xFirst] = clock(g.First.In(m.loc), m.days)
		vals[xLast] = clock(g.Last.In(m.loc), m.days)
	}
	pre, verdict, post := rowParts(cols, vals, xVerdict, m.w)
	if selected {
		return m.rp.cursor.wrap(pre + verdict + post)
	}
	switch g.Verdict {
	case mesh.Blocked:
		return m.rp.errRow.wrap(pre + verdict + post)
	case mesh.Failed:
		return pre + m.rp.client.wrap(verdict) + post
	case mesh.Passed:
		return pre + m.rp.ok.wrap(verdict) + post
	}
	return pre + m.rp.pending.wrap(verdict) + post
}

// externalDetailLines describe one destination: addresses, how its
// requests ended, and why it is not a plain pass.
func (m *Model) externalDetailLines(g *mesh.Group) []string {
	ips := make([]string, len(g.IPs))
	for i, ip := range g.IPs {
		ips[i] = ip.String()
	}
	addr := "no address seen (named by the request only)"
	if len(ips) > 0 {
		addr = strings.Join(ips, " ")
	}
	lines := []string{
		m.st.dim.Render(strings.Repeat("─", m.w)),
		" " + m.st.bold.Render(view.Sanitize(g.Name)) + "  " + addr,
		fmt.Sprintf(" %s passed · %s blocked · %s failed · %s", thousands(int(g.Passed)), thousands(int(g.Blocked)),
			thousands(int(g.Failed)), longBytes(g.Bytes)),
	}
	why := ""
	switch {
	case g.Reason != "":
		why = view.Sanitize(g.Reason)
	case g.Via != "":
		why = "sent through " + view.Sanitize(g.Via)
	}
	if g.Via != "" && g.Reason != "" {
		why += " · via " + view.Sanitize(g.Via)
	}
	lines = append(lines, " "+why)
	for i := range lines {
		lines[i] = truncateStyled(lines[i], m.w)
	}
	return lines
}

// toggleBoth switches between the store that shows each mesh request
// once and the one with both legs. Positions differ between the two, so
// cursors start over and filters run again.
func (m *Model) toggleBoth() tea.Cmd {
	if m.cfg.Both == nil {
		return m.flash("both legs: no service-mesh sidecar in this session", false)
	}
	m.cfg.Store, m.cfg.Both = m.cfg.Both, m.cfg.Store
	m.both = !m.both
	ex, fl := m.cfg.Store.Len() // even while paused: old positions mean nothing here
	m.total = [2]int{ex, fl}
	m.base = [2]int{}
	if w, ok := m.cfg.Store.(windowed); ok {
		m.base[paneExchanges], m.base[paneFlows] = w.Base()
	}
	m.detail = detailView{}
	clear(m.rowCache)
	cmds := []tea.Cmd{}
	for p := range m.sorts {
		// Positions differ between the stores: sort again.
		m.sorts[p].order = nil
		m.sorts[p].gen++
		cmds = append(cmds, m.startSort(paneID(p), true))
	}
	for p := range m.idx {
		m.lists[p] = listView{pane: paneID(p), follow: m.lists[p].follow}
		expr := m.idx[p].expr
		if m.idx[p].building {
			expr = m.idx[p].next
		}
		m.idx[p] = filterIndex{gen: m.idx[p].gen + 1}
		if expr != "" {
			if cmd, err := m.setFilter(paneID(p), expr); err == nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	msg := "showing each request once (app leg); b shows both legs"
	if m.both {
		msg = "showing both sidecar legs; b shows each request once"
	}
	cmds = append(cmds, m.pull(), m.flash(msg, false))
	return tea.Batch(cmds...)
}

// externalTab is the lens's entry in the header, when there is a lens.
func (m *Model) externalTab() string {
	if m.cfg.External == nil {
		return ""
	}
	label := "4 External"
	if m.extLoaded {
		label += " " + thousands(len(m.extLast))
	}
	if m.external() != nil {
		return "   " + m.st.paneOn.Render(label)
	}
	return "   " + m.st.paneOff.Render(label)
}

// meshLines describe where an exchange or flow sits around a service-mesh
// sidecar: its leg and direction, and the connection on the other leg
// (for an app-leg request, the mTLS connection that carried it on).
func meshLines(leg, dir string, linkedID uint64, linked *decode.Flow) []dline {
	if leg == "" && dir == "" && linkedID == 0 {
		return nil
	}
	var parts []string
	switch leg {
	case decode.LegApp:
		parts = append(parts, "app leg (app ⇄ sidecar)")
	case decode.LegNetwork:
		parts = append(parts, "network leg (sidecar ⇄ network)")
	}
	if dir != "" {
		parts = append(parts, view.Sanitize(dir))
	}
	out := []dline{}
	if len(parts) > 0 {
		out = append(out, field("mesh", strings.Join(parts, " · ")))
	}
	if linkedID == 0 {
		return out
	}
	other := fmt.Sprintf("flow #%d", linkedID)
	if linked != nil {
		other += fmt.Sprintf(" %s → %s", linked.Client, linked.Server)
		if linked.SNI != "" {
			other += " · SNI " + view.Sanitize(linked.SNI)
		}
		if linked.TLS != nil && !linked.TLS.Decrypted {
			other += " · TLS, not decrypted"
		}
	}
	label := "other leg"
	if leg == decode.LegApp {
		label = "network"
	} else if leg == decode.LegNetwork {
		label = "app leg"
	}
	return append(out, field(label, other))
}
