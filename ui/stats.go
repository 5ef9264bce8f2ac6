package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/stats"
)

// statsView is the stats view, an overlay like the external lens: one row
// per group (by default the route, decode/route.Shown; r picks another
// grouping, statsby.go) with count, error rate, latency percentiles and
// bytes, over the exchanges the exchanges list's filter shows. Enter
// lists a group's exchanges under a filter expression (statsgroup.go).
//
// The table is built incrementally by commands off the update loop: a
// job takes the table, counts the exchanges appended since the last job
// and the ones that were still pending then (decode/stats counts final
// exchanges only, so each is counted once), and hands the table back with
// a sorted snapshot of its rows, which is what the view draws. One job
// runs at a time; a store change during a job runs another when it
// lands. A new filter, or masking toggled, starts over from the store
// (which holds what it kept: a memory-bounded store's evicted exchanges
// are no longer counted then), as does another grouping. Opening the
// view builds it afresh, grouped as last chosen.
type statsView struct {
	tab     *stats.Table // nil while a job holds it
	gen     int          // bumped on restart; older results are dropped
	running bool
	again   bool // the store changed while the job ran
	// what the table counts: the filter (expression and matcher) and
	// whether exchanges were masked
	expr    string
	match   Matcher
	masked  bool
	both    bool  // counted from the store with both mesh legs (b)
	upto    int   // store positions [.., upto) were read
	pending []int // positions read while not final
	base    int   // first position read (the store's base at the start)

	rows   []stats.Row // last snapshot, sorted
	total  int64       // exchanges counted
	loaded bool

	sort int  // index into statsSorts
	desc bool // largest first
	// by names the grouping (filter variables, route among them); nil
	// is the default, route alone.
	by []string
	// pick is the grouping picker while it is open (r).
	pick *groupPicker
	tableCursor
}

// groupBy is the grouping's dimensions as stats.Table names them.
func (v *statsView) groupBy() []string {
	if len(v.by) == 0 {
		return []string{"route"}
	}
	return v.by
}

// statsResult hands a table back from a job.
type statsResult struct {
	gen     int
	tab     *stats.Table
	upto    int
	pending []int
	rows    []stats.Row
	total   int64
}

// statsOpen is the open stats view, or nil.
func (m *Model) statsOpen() *statsView {
	v, _ := m.over.(*statsView)
	return v
}

// openStats shows the stats view in place of the lists.
func (m *Model) openStats() tea.Cmd {
	v := &statsView{desc: true, by: m.statsBy}
	m.over = v
	m.detail = detailView{}
	return m.stepStats()
}

// stepStats starts a job when the view is open and none runs: from
// scratch when the filter or masking changed, else over what arrived.
func (m *Model) stepStats() tea.Cmd {
	v := m.statsOpen()
	if v == nil {
		return nil
	}
	if v.running {
		v.again = true
		return nil
	}
	ix := &m.idx[paneExchanges]
	if !v.loaded && v.tab == nil || v.expr != ix.expr || v.masked != m.masked || v.both != m.both {
		tab, err := stats.New(stats.Options{By: v.by})
		if err != nil { // the picker offers only groupable variables
			return m.flash("stats: "+err.Error(), true)
		}
		*v = statsView{tab: tab, gen: v.gen + 1, expr: ix.expr, match: ix.m, masked: m.masked, both: m.both,
			upto: m.base[paneExchanges], base: m.base[paneExchanges], sort: v.sort, desc: v.desc, rows: v.rows, by: v.by}
	}
	if v.upto >= m.total[paneExchanges] && len(v.pending) == 0 && v.loaded {
		return nil
	}
	var mask func(*decode.Exchange) *decode.Exchange
	if v.masked {
		mask = m.cfg.Mask
	}
	job := statsJob{store: m.cfg.Store, tab: v.tab, match: v.match, mask: mask,
		from: max(v.upto, m.base[paneExchanges]), to: m.total[paneExchanges], recheck: v.pending,
		sort: statsSorts()[v.sort], desc: v.desc, gen: v.gen}
	v.tab, v.running, v.again = nil, true, false
	return tea.Batch(m.work(job.run), m.startSpin())
}

// statsJob is one incremental pass, run as a command.
type statsJob struct {
	store    Store
	tab      *stats.Table
	match    Matcher
	mask     func(*decode.Exchange) *decode.Exchange
	from, to int
	recheck  []int
	sort     string
	desc     bool
	gen      int
}

// statsChunk is how many exchanges a job reads per store call.
const statsChunk = 4096

func (j statsJob) run() tea.Msg {
	var x *exchangeMatch
	if j.match != nil {
		x = newExchangeMatch(j.store, j.match, nil)
	}
	var pending []int
	add := func(pos int, e *decode.Exchange) {
		if e == nil {
			return
		}
		if !e.State.Final() {
			pending = append(pending, pos)
			return
		}
		if x != nil && !x.one(e) {
			return
		}
		if j.mask != nil {
			e = j.mask(e)
		}
		j.tab.Add(e)
	}
	for _, pos := range j.recheck {
		if r := j.store.ExchangeRange(pos, pos+1); len(r) == 1 {
			add(pos, r[0])
		}
	}
	for from := j.from; from < j.to; from += statsChunk {
		to := min(from+statsChunk, j.to)
		for i, e := range j.store.ExchangeRange(from, to) {
			add(from+i, e)
		}
	}
	rows := j.tab.Rows()
	_ = stats.SortRows(rows, j.sort, j.desc) // statsSorts() are all valid
	return statsResult{gen: j.gen, tab: j.tab, upto: max(j.to, j.from), pending: pending, rows: rows, total: j.tab.Len()}
}

func (m *Model) onStatsResult(r statsResult) tea.Cmd {
	v := m.statsOpen()
	if v == nil || r.gen != v.gen {
		return nil
	}
	sel := ""
	if v.cursor < len(v.rows) {
		sel = v.rows[v.cursor].Key
	}
	v.tab, v.running, v.loaded = r.tab, false, true
	v.upto, v.pending, v.rows, v.total = r.upto, r.pending, r.rows, r.total
	for i, row := range v.rows { // the cursor stays on its group as the order changes
		if row.Key == sel {
			v.cursor = i
			break
		}
	}
	m.clampStats(v)
	if v.again || v.expr != m.idx[paneExchanges].expr || v.masked != m.masked || v.both != m.both {
		return m.stepStats()
	}
	return nil
}

// statsSorts names the columns o steps through (decode/stats.SortRows
// names), indexed by the column keys of statsview.go; each starts largest
// first, the group name A to Z.
func statsSorts() []string {
	return []string{"count", "err%", "p50", "p90", "p99", "max", "bytes_in", "bytes_out", "group"}
}

// resort orders the snapshot now; the next job keeps the order.
func (v *statsView) resort() {
	sel := ""
	if v.cursor < len(v.rows) {
		sel = v.rows[v.cursor].Key
	}
	_ = stats.SortRows(v.rows, statsSorts()[v.sort], v.desc)
	for i, row := range v.rows {
		if row.Key == sel {
			v.cursor = i
		}
	}
}

func (m *Model) statsRows() int { return max(m.bodyHeight()-1-statsDetail, 1) }

func (m *Model) clampStats(v *statsView) { v.clamp(len(v.rows), m.statsRows()) }

// key moves through the groups, sorts them (o, O), toggles masking (the
// groups are rebuilt) and opens a group's exchanges (enter).
func (v *statsView) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	if v.pick != nil {
		switch {
		case key.Matches(k, m.keys.Quit), key.Matches(k, m.keys.Help):
			return nil, false // still quit or help
		}
		return v.pickKey(m, k), true
	}
	switch {
	case v.move(m.keys, k, len(v.rows), m.statsRows()):
	case key.Matches(k, m.keys.Sort):
		v.sort = (v.sort + 1) % len(statsSorts())
		v.desc = statsSorts()[v.sort] != "group"
		v.resort()
	case key.Matches(k, m.keys.Reverse):
		v.desc = !v.desc
		v.resort()
	case key.Matches(k, m.keys.Mask):
		cmd := m.toggleMask()
		return tea.Batch(cmd, m.stepStats()), true
	case key.Matches(k, m.keys.Both):
		cmd := m.toggleBoth()
		return tea.Batch(cmd, m.stepStats()), true
	case key.Matches(k, m.keys.Enter):
		return m.openGroup(v), true
	case key.Matches(k, m.keys.GroupBy):
		v.openPicker()
		return nil, true
	case key.Matches(k, m.keys.Stats):
		return nil, true // already here
	case key.Matches(k, m.keys.Filter):
		return m.flash("stats follow the exchanges' filter: 1, then / to change it", false), true
	default:
		return nil, false
	}
	m.clampStats(v)
	return nil, true
}

func (v *statsView) hints() string {
	if v.pick != nil {
		return "enter group · esc cancel "
	}
	return "enter exchanges · o sort · r group by · q back "
}

func (v *statsView) lines(m *Model, h int) []string {
	if v.pick != nil {
		return m.pickerLines(v, h)
	}
	return m.statsLines(v, h)
}

// back closes the picker rather than the view when it is open.
func (v *statsView) back() bool {
	if v.pick == nil {
		return false
	}
	v.pick = nil
	return true
}
