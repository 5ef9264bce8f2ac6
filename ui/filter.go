package ui

import (
	"errors"
	"slices"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
)

// recheckMax bounds how many still-changing items one incremental step
// re-evaluates, so a capture with many open exchanges cannot make every
// refresh expensive; the rest wait for the next step.
const recheckMax = 4096

// filterIndex is the filtered view of one pane: the store positions that
// match, kept sorted. A full pass builds it over a snapshot in a command;
// later steps evaluate only what was appended since, plus items that were
// still pending (their match can change when they complete).
type filterIndex struct {
	expr    string
	m       Matcher
	gen     int   // bumped per filter; stale results are dropped
	matches []int // store positions, ascending
	scanned int   // positions [0, scanned) have been evaluated
	pending []int // positions evaluated while not final
	running bool  // a step or full pass of gen is in flight
	// next is the filter being built by a full pass; the old index stays
	// on screen until it lands.
	next     string
	building bool
	failed   string
	// prog is the running full pass's progress.
	prog *passProgress
}

func (ix *filterIndex) active() bool { return ix.m != nil }

// filterResult is what a full pass or an incremental step found.
type filterResult struct {
	pane    paneID
	gen     int
	full    bool
	expr    string
	m       Matcher
	upto    int
	add     []int // new matches among [from, upto)
	pending []int
	flipIn  []int // rechecked positions that match now
	flipOut []int // rechecked positions that no longer match
}

// applyFilter compiles expr and starts a full pass; an empty expression
// clears the filter. A compile error is returned for the prompt.
func (m *Model) applyFilter(expr string) tea.Cmd {
	cmd, err := m.setFilter(m.pane, expr)
	if err != nil {
		return m.flash("filter: "+err.Error(), true)
	}
	return cmd
}

func (m *Model) setFilter(p paneID, expr string) (tea.Cmd, error) {
	expr = strings.TrimSpace(expr)
	ix := &m.idx[p]
	if expr == "" {
		sel := m.selectedPos(p)
		*ix = filterIndex{gen: ix.gen + 1}
		m.keepSelection(p, sel)
		return m.syncDetail(), nil
	}
	mt, err := m.cfg.Compile(expr)
	if err != nil {
		return nil, err
	}
	if all, ok := mt.(matchesAller); ok && all.MatchesAll() {
		return m.setFilter(p, "")
	}
	ix.gen++
	ix.next, ix.building, ix.running = expr, true, true
	ix.prog = &passProgress{}
	return tea.Batch(m.work(fullPass(m.cfg.Store, p, ix.gen, expr, mt, m.base[p], m.total[p], ix.prog)), m.startSpin()), nil
}

// errorCaret returns the 0-based rune position of a filter error, when the
// compiler said where the problem is.
func errorCaret(err error) (int, string, bool) {
	var fe *filter.Error
	if errors.As(err, &fe) {
		return fe.Pos, fe.Msg, true
	}
	return 0, err.Error(), false
}

// fullPass evaluates a new filter over positions [base, total).
func fullPass(store Store, p paneID, gen int, expr string, mt Matcher, base, total int, prog *passProgress) tea.Cmd {
	return func() tea.Msg {
		res := filterResult{pane: p, gen: gen, full: true, expr: expr, m: mt, upto: total}
		switch p {
		case paneExchanges:
			res.add, res.pending = newExchangeMatch(store, mt, prog).run(base, total, nil)
		case paneFlows:
			fls := flowRange(store, base, total)
			res.add = matchFlows(mt, fls, base)
			res.pending = pendingFlows(fls, base, nil)
		}
		return res
	}
}

// stepPass evaluates items appended after from, and re-evaluates items
// that were pending, against the current filter.
func stepPass(store Store, p paneID, gen int, mt Matcher, from, to int, matches, recheck, carry []int) tea.Cmd {
	return func() tea.Msg {
		res := filterResult{pane: p, gen: gen, upto: to}
		res.pending = append(res.pending, carry...)
		x := newExchangeMatch(store, mt, nil)
		for _, pos := range recheck {
			var now, final bool
			switch p {
			case paneExchanges:
				r := store.ExchangeRange(pos, pos+1)
				if len(r) == 0 || r[0] == nil {
					continue
				}
				now, final = x.one(r[0]), r[0].State.Final()
			case paneFlows:
				r := flowRange(store, pos, pos+1)
				if len(r) == 0 || r[0] == nil {
					continue
				}
				now, final = mt.MatchFlow(r[0]), flowFinal(r[0])
			}
			was := contains(matches, pos)
			switch {
			case now && !was:
				res.flipIn = append(res.flipIn, pos)
			case !now && was:
				res.flipOut = append(res.flipOut, pos)
			}
			if !final {
				res.pending = append(res.pending, pos)
			}
		}
		switch p {
		case paneExchanges:
			res.add, res.pending = x.run(from, to, res.pending)
		case paneFlows:
			fls := flowRange(store, from, to)
			res.upto = from + len(fls)
			res.add = matchFlows(mt, fls, from)
			res.pending = pendingFlows(fls, from, res.pending)
		}
		return res
	}
}

func matchFlows(mt Matcher, fls []*decode.Flow, base int) []int {
	var out []int
	for i, f := range fls {
		if f != nil && mt.MatchFlow(f) {
			out = append(out, base+i)
		}
	}
	return out
}

func pendingExchanges(exs []*decode.Exchange, base int, out []int) []int {
	for i, e := range exs {
		if e != nil && !e.State.Final() {
			out = append(out, base+i)
		}
	}
	return out
}

func pendingFlows(fls []*decode.Flow, base int, out []int) []int {
	for i, f := range fls {
		if f != nil && !flowFinal(f) {
			out = append(out, base+i)
		}
	}
	return out
}

// flowFinal reports flows that can no longer change.
func flowFinal(f *decode.Flow) bool {
	switch f.State {
	case decode.FlowClosed, decode.FlowReset, decode.FlowTimedOut:
		return true
	}
	return false
}

// flowRange reads flows by position, windowed when the store can.
func flowRange(store FlowReader, from, to int) []*decode.Flow {
	if r, ok := store.(flowRanger); ok {
		return r.FlowRange(from, to)
	}
	all := store.Flows()
	from, to = max(from, 0), min(to, len(all))
	if from >= to {
		return nil
	}
	return all[from:to]
}

func contains(sorted []int, v int) bool {
	i := sort.SearchInts(sorted, v)
	return i < len(sorted) && sorted[i] == v
}

// onFilterResult installs a full pass or merges a step.
func (m *Model) onFilterResult(r filterResult) tea.Cmd {
	ix := &m.idx[r.pane]
	if r.gen != ix.gen {
		return nil
	}
	ix.running = false
	if r.full {
		sel := m.selectedPos(r.pane)
		ix.expr, ix.m, ix.building, ix.next, ix.prog = r.expr, r.m, false, "", nil
		// Eviction may have moved the base while the pass ran.
		base := m.base[r.pane]
		ix.matches = r.add[sort.SearchInts(r.add, base):]
		ix.pending, ix.scanned = dropBelow(r.pending, base), max(r.upto, base)
		m.keepSelection(r.pane, sel)
	} else {
		if len(r.flipIn)+len(r.flipOut) > 0 {
			ix.matches = mergeFlips(ix.matches, r.flipIn, r.flipOut)
		}
		ix.matches = append(ix.matches, r.add...)
		ix.pending, ix.scanned = r.pending, r.upto
		m.fixLists()
	}
	return tea.Batch(m.stepFilters(false), m.syncDetail(), m.startSort(r.pane, false))
}

// mergeFlips returns a new sorted slice: matches without out, plus in.
// The old slice is left untouched (a running step may be reading it).
func mergeFlips(matches, in, out []int) []int {
	sort.Ints(in)
	drop := make(map[int]bool, len(out))
	for _, p := range out {
		drop[p] = true
	}
	res := make([]int, 0, len(matches)+len(in))
	j := 0
	for _, p := range matches {
		for j < len(in) && in[j] < p {
			res = append(res, in[j])
			j++
		}
		if !drop[p] {
			res = append(res, p)
		}
	}
	return append(res, in[j:]...)
}

// stepFilters starts an incremental step for every filtered pane that has
// new items (or, with recheck, pending ones) and nothing in flight.
// Pending items are re-checked only when the store changed, never in a
// loop on the previous step's result.
func (m *Model) stepFilters(recheck bool) tea.Cmd {
	var cmds []tea.Cmd
	for p := range m.idx {
		ix := &m.idx[p]
		if !ix.active() || ix.running || ix.building {
			continue
		}
		total := m.total[p]
		if ix.scanned >= total && (!recheck || len(ix.pending) == 0) {
			continue
		}
		var again, carry []int
		if recheck {
			again = ix.pending
			if len(again) > recheckMax {
				again, carry = again[:recheckMax], again[recheckMax:]
			}
		} else {
			carry = ix.pending
		}
		ix.running = true
		ix.pending = nil
		cmds = append(cmds, m.work(stepPass(m.cfg.Store, paneID(p), ix.gen, ix.m, ix.scanned, total, ix.matches, again, carry)))
	}
	return tea.Batch(cmds...)
}

// selectedPos is the store position under the cursor, or -1.
func (m *Model) selectedPos(p paneID) int {
	l := m.lists[p]
	if l.cursor >= m.shown(p) {
		return -1
	}
	return m.storePos(p, l.cursor)
}

// keepSelection puts the cursor back on the item at store position pos
// (or the next one shown) after the index changed under it.
func (m *Model) keepSelection(p paneID, pos int) {
	l := &m.lists[p]
	switch ix := &m.idx[p]; {
	case pos < 0:
	case m.sortedOrder(p) != nil:
		l.cursor = max(slices.Index(m.sortedOrder(p), pos), 0)
	case ix.active():
		l.cursor = sort.SearchInts(ix.matches, pos)
	default:
		l.cursor = max(pos-m.base[p], 0)
	}
	l.offset = l.cursor - m.listRows()/2
	m.fixLists()
}
