package ui

import (
	"cmp"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/view"
)

// sortState orders one list by a column. The order is a permutation of
// the shown store positions, computed over summaries in a command (as a
// filter pass is) and recomputed when the list grows; until it lands the
// previous order stays on screen. Rows that arrived since the last pass
// appear at the next one, at most one refresh later.
type sortState struct {
	col     int  // column key; -1: capture order
	desc    bool // largest, slowest, latest first
	gen     int
	order   []int // store positions in sorted order; nil until the first pass lands
	running bool
	// what the order was computed from, to know when it is stale
	total, base, matches, filterGen int
	// started and took time the passes, so a live list is not sorted
	// again on every refresh; tick is set while a retry is scheduled.
	started time.Time
	took    time.Duration
	tick    bool
}

// sortTickMsg retries a sort that was held back.
type sortTickMsg struct{ pane paneID }

func (m *Model) onSortTick(r sortTickMsg) tea.Cmd {
	m.sorts[r.pane].tick = false
	return m.startSort(r.pane, false)
}

func (s *sortState) active() bool { return s.col >= 0 && s.order != nil }

// sortResult is a finished pass.
type sortResult struct {
	pane                            paneID
	gen                             int
	order                           []int
	total, base, matches, filterGen int
	took                            time.Duration
}

// sortColumns are the columns o steps through, per pane, with the
// direction each starts in: numbers largest first (slowest, biggest),
// text in alphabetical order.
var sortColumns = [2][]struct {
	key  int
	desc bool
}{
	paneExchanges: {{exLat, true}, {exSize, true}, {exStatus, true}, {exURL, false}, {exMethod, false}, {exType, false}, {exSrc, false}, {exTime, true}},
	paneFlows:     {{flDuration, true}, {flBytes, true}, {flPackets, true}, {flState, false}, {flServer, false}, {flClient, false}, {flProto, false}, {flSrc, false}, {flTime, true}},
}

// cycleSort moves the current list to the next sort column; after the
// last one it goes back to capture order.
func (m *Model) cycleSort() tea.Cmd {
	s := &m.sorts[m.pane]
	cols := sortColumns[m.pane]
	next := 0
	for i, c := range cols {
		if c.key == s.col {
			next = i + 1
		}
	}
	if s.col >= 0 && next >= len(cols) {
		sel := m.selectedPos(m.pane)
		*s = sortState{col: -1, gen: s.gen + 1}
		m.keepSelection(m.pane, sel)
		return m.flash("capture order; o sorts by "+m.sortName(m.pane, cols[0].key), false)
	}
	s.col, s.desc = cols[next].key, cols[next].desc
	return m.startSort(m.pane, true)
}

// reverseSort flips the direction of the current sort.
func (m *Model) reverseSort() tea.Cmd {
	s := &m.sorts[m.pane]
	if s.col < 0 {
		return m.flash("not sorted: o sorts by a column, O then reverses it", false)
	}
	s.desc = !s.desc
	return m.startSort(m.pane, true)
}

// sortLabel names the current sort for the status bar: "LAT ↓".
func (m *Model) sortLabel() string {
	s := &m.sorts[m.pane]
	if s.col < 0 || m.external() != nil || m.statsOpen() != nil {
		return ""
	}
	arrow := " ↑"
	if s.desc {
		arrow = " ↓"
	}
	return m.sortName(m.pane, s.col) + arrow
}

func (m *Model) sortName(p paneID, col int) string {
	if p == paneFlows {
		return [...]string{"FIRST", "SOURCE", "PROTO", "CLIENT", "SERVER", "STATE", "PKTS", "BYTES", "DUR"}[col]
	}
	return [...]string{"TIME", "SOURCE", "METHOD", "HOST+PATH", "STATUS", "LAT", "SIZE", "TYPE"}[col]
}

// sortArrow marks the sorted column's title, as k9s does, so the order
// of the list is visible where the eye already is.
func (m *Model) sortArrow(p paneID, cols []column) []column {
	s := &m.sorts[p]
	if s.col < 0 {
		return cols
	}
	out := append([]column(nil), cols...)
	for i := range out {
		if out[i].key == s.col {
			if s.desc {
				out[i].title += "↓"
			} else {
				out[i].title += "↑"
			}
		}
	}
	return out
}

// startSort runs a sort pass over what pane p shows. force starts one
// even when the last order is still current (a new column or direction).
func (m *Model) startSort(p paneID, force bool) tea.Cmd {
	s := &m.sorts[p]
	if s.col < 0 {
		return nil
	}
	ix := &m.idx[p]
	if ix.building {
		return nil // sorted when the filter lands
	}
	stale := s.order == nil || s.total != m.total[p] || s.base != m.base[p] || s.matches != len(ix.matches) || s.filterGen != ix.gen
	if !force && (!stale || s.running) {
		return nil
	}
	// A live list grows on every refresh: sort again at most once a
	// second, or every four passes' time when a pass is slow (a million
	// rows), and make sure the last arrivals get sorted in even when the
	// traffic stops.
	if wait := max(time.Second, 4*s.took) - time.Since(s.started); !force && s.order != nil && wait > 0 {
		if s.tick {
			return nil
		}
		s.tick = true
		return tea.Tick(wait, func(time.Time) tea.Msg { return sortTickMsg{pane: p} })
	}
	s.gen++
	s.running = true
	s.started = time.Now()
	res := sortResult{pane: p, gen: s.gen, total: m.total[p], base: m.base[p], matches: len(ix.matches), filterGen: ix.gen}
	var positions []int
	if ix.active() {
		positions = ix.matches[:len(ix.matches):len(ix.matches)]
	}
	store, col, desc := m.cfg.Store, s.col, s.desc
	return m.work(func() tea.Msg {
		t0 := time.Now()
		res.order = sortPositions(store, p, col, desc, positions, res.base, res.total)
		res.took = time.Since(t0)
		return res
	})
}

func (m *Model) onSortResult(r sortResult) tea.Cmd {
	s := &m.sorts[r.pane]
	if r.gen != s.gen {
		return nil
	}
	s.running = false
	s.took = r.took
	first := s.order == nil
	sel := m.selectedPos(r.pane)
	s.order, s.total, s.base, s.matches, s.filterGen = r.order, r.total, r.base, r.matches, r.filterGen
	if first {
		// A new sort starts at the top: the first row is the answer to
		// "slowest first".
		l := &m.lists[r.pane]
		l.cursor, l.offset, l.follow = 0, 0, false
		m.fixLists()
	} else {
		m.keepSelection(r.pane, sel)
	}
	return tea.Batch(m.syncDetail(), m.startSort(r.pane, false))
}

// sortKey is one item's value in the sort column: a number or a string.
type sortKey struct {
	pos int
	n   int64
	s   string
}

// sortPositions orders positions (every kept one when nil) by col.
// Ties keep capture order, so equal rows do not swap between passes.
func sortPositions(store Store, p paneID, col int, desc bool, positions []int, base, total int) []int {
	n := len(positions)
	if positions == nil {
		n = max(total-base, 0)
	}
	keys := make([]sortKey, 0, n)
	if p == paneFlows {
		fls := flowRange(store, base, total)
		add := func(pos int, f *decode.Flow) {
			if f != nil {
				keys = append(keys, flowSortKey(pos, f, col))
			}
		}
		if positions == nil {
			for i, f := range fls {
				add(base+i, f)
			}
		} else {
			for _, pos := range positions {
				if pos-base >= 0 && pos-base < len(fls) {
					add(pos, fls[pos-base])
				}
			}
		}
	} else {
		add := func(pos int, e *decode.Exchange) bool {
			if e != nil {
				keys = append(keys, exchangeSortKey(pos, e, col))
			}
			return true
		}
		switch sc, ok := store.(scanner); {
		case positions == nil && ok:
			sc.Scan(base, total, add)
		case positions == nil:
			for i, e := range store.ExchangeRange(base, total) {
				add(base+i, e)
			}
		default:
			const batch = 4096
			for lo := 0; lo < len(positions); lo += batch {
				ps := positions[lo:min(lo+batch, len(positions))]
				r := store.ExchangeRange(ps[0], ps[len(ps)-1]+1)
				for _, pos := range ps {
					if pos-ps[0] < len(r) {
						add(pos, r[pos-ps[0]])
					}
				}
			}
		}
	}
	// Ties keep capture order (pos breaks them), so the order is stable
	// without the cost of a stable sort.
	slices.SortFunc(keys, func(a, b sortKey) int {
		c := cmp.Compare(a.n, b.n)
		if c == 0 {
			c = strings.Compare(a.s, b.s)
		}
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(a.pos, b.pos)
		}
		return c
	})
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = k.pos
	}
	return out
}

func exchangeSortKey(pos int, e *decode.Exchange, col int) sortKey {
	k := sortKey{pos: pos}
	switch col {
	case exTime:
		k.n = e.Start.UnixNano()
	case exSrc:
		k.s = e.Source
	case exMethod:
		k.s = e.Method()
		if e.DNS != nil {
			k.s = "DNS " + e.DNS.Type
		}
	case exURL:
		k.s = exchangeURL(e)
	case exStatus:
		// Numbers first by value; gRPC and DNS statuses by name after.
		if code := e.Status(); code > 0 && (e.GRPC == nil || e.GRPC.Status < 0) && e.DNS == nil {
			k.n = int64(code)
		} else {
			k.s, _ = statusText(e)
		}
	case exLat:
		k.n = int64(exchangeLatency(e))
	case exSize:
		k.n = -1
		if e.Response != nil {
			k.n = view.BodySize(e.Response)
		}
	case exType:
		if e.Response != nil {
			k.s = shortType(e.Response.ContentType())
		}
	}
	return k
}

func flowSortKey(pos int, f *decode.Flow, col int) sortKey {
	k := sortKey{pos: pos}
	switch col {
	case flTime:
		k.n = f.First.UnixNano()
	case flSrc:
		k.s = f.Source
	case flProto:
		k.s = f.Transport + " " + f.Proto
	case flClient:
		k.s = f.Client.String()
	case flServer:
		k.s = f.Server.String()
		if f.SNI != "" {
			k.s = f.SNI
		}
	case flState:
		k.s = string(f.State)
	case flPackets:
		k.n = f.PacketsC2S + f.PacketsS2C
	case flBytes:
		k.n = f.BytesC2S + f.BytesS2C
	case flDuration:
		k.n = int64(f.Last.Sub(f.First))
	}
	return k
}
