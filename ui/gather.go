package ui

import (
	"context"
	"iter"
	"slices"

	"github.com/tapview/tapview/decode"
)

// ExportFunc writes what the UI shows to path. exchanges yields whole
// exchanges one at a time, in start order, re-read from the store as the
// writer goes: an export of a long session never holds all of them (a
// million whole exchanges with bodies would be gigabytes).
type ExportFunc func(ctx context.Context, path string, exchanges iter.Seq[*decode.Exchange], flows []*decode.Flow, masked bool) error

// shownEx is what gathering keeps of an exported exchange: 24 bytes, so
// an export of every kept exchange costs little before writing starts.
type shownEx struct {
	start int64
	id    uint64
	flow  uint64
}

// gather selects what is shown, plus what it depends on: the flows of the
// shown exchanges (pcap export needs their packets), or the exchanges of
// the shown flows. It returns exchange IDs in start order (HAR readers
// prefer it; the list is in first-publication order).
func (j exportJob) gather() ([]uint64, []*decode.Flow) {
	base := 0
	if w, ok := j.store.(windowed); ok {
		base, _ = w.Base()
	}
	allFl := withoutNil(flowRange(j.store, 0, j.totalFl))
	var shown []shownEx
	if j.pane == paneExchanges {
		if len(j.marked) > 0 {
			shown = j.markedExchanges()
		} else {
			shown = j.exchangesAt(j.positions(base))
		}
		flowIDs := make(map[uint64]bool)
		for _, e := range shown {
			flowIDs[e.flow] = true
		}
		var fls []*decode.Flow
		for _, f := range allFl {
			if flowIDs[f.ID] {
				fls = append(fls, f)
			}
		}
		return sortedIDs(shown), fls
	}
	fls := allFl
	switch {
	case len(j.marked) > 0:
		fls = j.markedFlows()
	case j.filtered:
		fls = withoutNil(pick(flowRange(j.store, 0, j.totalFl), true, j.matches))
	}
	ids := make(map[uint64]bool, len(fls))
	for _, f := range fls {
		ids[f.ID] = true
	}
	all := j.exchangesAt(nil)
	for _, e := range all {
		if ids[e.flow] {
			shown = append(shown, e)
		}
	}
	return sortedIDs(shown), fls
}

// positions lists the exchange positions shown: the filter's matches, or
// nil for every kept one.
func (j exportJob) positions(base int) []int {
	if !j.filtered {
		return nil
	}
	i, _ := slices.BinarySearch(j.matches, base)
	return j.matches[i:]
}

// exchangesAt reads start, ID and flow of the exchanges at positions (all
// kept ones when positions is nil), from summaries.
func (j exportJob) exchangesAt(positions []int) []shownEx {
	var out []shownEx
	add := func(e *decode.Exchange) {
		if e != nil {
			out = append(out, shownEx{start: e.Start.UnixNano(), id: e.ID, flow: e.FlowID})
		}
	}
	if positions == nil {
		if sc, ok := j.store.(scanner); ok {
			sc.Scan(0, j.totalEx, func(_ int, e *decode.Exchange) bool { add(e); return true })
			return out
		}
		for _, e := range j.store.ExchangeRange(0, j.totalEx) {
			add(e)
		}
		return out
	}
	const batch = 4096
	for lo := 0; lo < len(positions); lo += batch {
		ps := positions[lo:min(lo+batch, len(positions))]
		first := ps[0]
		r := j.store.ExchangeRange(first, ps[len(ps)-1]+1)
		for _, p := range ps {
			if p-first < len(r) {
				add(r[p-first])
			}
		}
	}
	return out
}

func sortedIDs(shown []shownEx) []uint64 {
	slices.SortStableFunc(shown, func(a, b shownEx) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	ids := make([]uint64, len(shown))
	for i, e := range shown {
		ids[i] = e.id
	}
	return ids
}

// wholes yields the whole exchanges of ids, re-read one at a time; an
// exchange evicted since gathering is skipped.
func (j exportJob) wholes(ids []uint64) iter.Seq[*decode.Exchange] {
	return func(yield func(*decode.Exchange) bool) {
		for _, id := range ids {
			e := j.store.ExchangeByID(id)
			if e == nil {
				continue
			}
			if !yield(e) {
				return
			}
		}
	}
}

// withoutNil drops the positions a store evicted.
func withoutNil[T any](xs []*T) []*T {
	out := xs[:0]
	for _, x := range xs {
		if x != nil {
			out = append(out, x)
		}
	}
	return out
}

func pick[T any](all []T, filtered bool, matches []int) []T {
	if !filtered {
		return all
	}
	out := make([]T, 0, len(matches))
	for _, p := range matches {
		if p < len(all) {
			out = append(out, all[p])
		}
	}
	return out
}
