package ui

import (
	"strconv"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// flRow is one flow reduced to sanitized display strings.
type flRow struct {
	id       uint64
	time     string
	src      string
	proto    string
	client   string
	server   string
	state    string
	class    statusClass
	packets  string
	bytes    string
	duration string
}

func (m *Model) flowRows(from, to int) []flRow {
	if from >= to {
		return nil
	}
	var fls []*decode.Flow
	if all := m.positions(paneFlows); all != nil {
		for _, p := range all[from:to] {
			fls = append(fls, flowRange(m.cfg.Store, p, p+1)...)
		}
	} else {
		b := m.base[paneFlows]
		fls = flowRange(m.cfg.Store, b+from, b+to)
	}
	rows := m.flRows[:0]
	for _, f := range fls {
		if f != nil {
			m.widen(f.First)
		}
	}
	if !m.days {
		m.updateDays()
	}
	for _, f := range fls {
		if f != nil {
			rows = append(rows, m.makeFlRow(f))
		}
	}
	return rows
}

func (m *Model) makeFlRow(f *decode.Flow) flRow {
	r := flRow{id: f.ID, src: view.Sanitize(f.Source)}
	if !f.First.IsZero() {
		r.time = clock(f.First.In(m.loc), m.days)
	}
	r.proto = view.Sanitize(f.Transport)
	if f.Proto != "" {
		r.proto += " " + f.Proto
	}
	r.proto = view.Sanitize(r.proto)
	r.client = f.Client.String()
	r.server = f.Server.String()
	if f.SNI != "" {
		r.server = view.Sanitize(f.SNI) + ":" + strconv.Itoa(int(f.Server.Port()))
	}
	r.state = string(f.State)
	if f.Partial && f.State != decode.FlowPartial {
		r.state += "*"
	}
	switch {
	case f.State == decode.FlowReset || f.Error != "":
		r.class = classError
	case f.State == decode.FlowOpen:
		r.class = classNone
	case f.State == decode.FlowPartial || f.State == decode.FlowTimedOut:
		r.class = classClient
	default:
		r.class = classOK
	}
	r.packets = strconv.FormatInt(f.PacketsC2S+f.PacketsS2C, 10)
	r.bytes = humanBytes(f.BytesC2S + f.BytesS2C)
	if d := f.Last.Sub(f.First); d > 0 {
		r.duration = humanDuration(d)
	}
	return r
}

// Flow list column keys.
const (
	flTime = iota
	flSrc
	flProto
	flClient
	flServer
	flState
	flPackets
	flBytes
	flDuration
)

// flowColumns lays out the flow list; endpoints share the free width.
func (m *Model) flowColumns() []column {
	cols := []column{{key: flTime, title: "FIRST", w: m.clockWidth(), drop: 7}}
	if m.w >= 140 || len(m.stats) > 1 {
		w := 10
		if m.w >= 140 {
			// Wide screens: endpoints stop growing at an IPv6
			// address and port, so the source name gets the room.
			for _, s := range m.stats {
				w = max(w, min(len(s.Name), 32))
			}
		}
		cols = append(cols, column{key: flSrc, title: "SOURCE", w: w, middle: true, drop: 3})
	}
	cols = append(cols,
		column{key: flProto, title: "PROTO", w: 12},
		column{key: flClient, title: "CLIENT", weight: 1, middle: true, after: " → ", min: 17, max: 47},
		column{key: flServer, title: "SERVER", weight: 1, middle: true, min: 17, max: 47},
		column{key: flState, title: "STATE", w: 8},
		column{key: flPackets, title: "PKTS", w: 6, right: true, drop: 4},
		column{key: flBytes, title: "BYTES", w: 5, right: true, drop: 5},
		column{key: flDuration, title: "DUR", w: 6, right: true, drop: 6},
	)
	return fitColumns(cols, m.w)
}

func (m *Model) flowTitles(cols []column) string {
	return m.st.colTitle.Render(titleLine(m.sortArrow(paneFlows, cols), m.w))
}

func (r *flRow) cells() []string {
	return []string{flTime: r.time, flSrc: r.src, flProto: r.proto, flClient: r.client, flServer: r.server,
		flState: r.state, flPackets: r.packets, flBytes: r.bytes, flDuration: r.duration}
}

func (m *Model) renderFlRow(r *flRow, cols []column, selected bool) string {
	cells := r.cells()
	if l, ok := m.srcLabels[cells[flSrc]]; ok {
		cells[flSrc] = l
	}
	pre, state, post := rowParts(cols, cells, flState, m.w)
	if m.isMarked(paneFlows, r.id) {
		pre = markGlyph(pre)
	}
	switch {
	case selected:
		return m.rp.cursor.wrap(pre + state + post)
	case r.class == classError:
		return m.rp.errRow.wrap(pre + state + post)
	}
	if p, ok := m.classPaint(r.class); ok {
		return pre + p.wrap(state) + post
	}
	return pre + state + post
}
