package ui

import (
	"sync/atomic"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/filter"
)

// wholeNeeder is implemented by filters that read what a Slim summary
// leaves out (headers, bodies): *filter.Program says so from the
// variables the expression uses.
type wholeNeeder interface {
	NeedsFull() bool
}

// prefilterer gives the cheap part of a filter that needs whole
// exchanges: a filter implied by it that summaries can answer.
type prefilterer interface {
	Prefilter() *filter.Program
}

// passProgress is how far a filter pass got, for the status bar: body
// filters over a long session re-read exchanges from disk and take
// seconds, and a spinner alone does not say whether to wait.
type passProgress struct {
	done, total atomic.Int64
}

// percent is the share done, or -1 before the total is known.
func (p *passProgress) percent() int {
	if p == nil {
		return -1
	}
	t := p.total.Load()
	if t <= 0 {
		return -1
	}
	return int(p.done.Load() * 100 / t)
}

// exchangeMatch is one pass's plan for exchanges: cheap filters run on
// summaries; a filter that needs whole exchanges first runs its cheap
// part (the prefilter, implied by the whole filter) on summaries, then
// the whole filter only on the survivors, re-read by ID.
type exchangeMatch struct {
	store Store
	mt    Matcher
	// whole says the filter reads what summaries leave out; pre is then
	// its cheap part, or nil when it has none.
	whole bool
	pre   Matcher
	prog  *passProgress
}

func newExchangeMatch(store Store, mt Matcher, prog *passProgress) *exchangeMatch {
	x := &exchangeMatch{store: store, mt: mt, prog: prog}
	if w, ok := mt.(wholeNeeder); ok && w.NeedsFull() {
		x.whole = true
		if p, ok := mt.(prefilterer); ok {
			if pre := p.Prefilter(); pre != nil {
				x.pre = pre
			}
		}
	}
	return x
}

// one decides a single exchange, fetching the whole one when the filter
// needs it and e is a summary.
func (x *exchangeMatch) one(e *decode.Exchange) bool {
	if e == nil {
		return false
	}
	if !e.Slim || !x.whole {
		return x.mt.Match(e)
	}
	if x.pre != nil && !x.pre.Match(e) {
		return false
	}
	whole := x.store.ExchangeByID(e.ID)
	return whole != nil && x.mt.Match(whole)
}

// run evaluates positions [from, to) and returns the matches and the
// positions still pending, both ascending, appended to pending.
func (x *exchangeMatch) run(from, to int, pending []int) (add, pend []int) {
	pend = pending
	sc, ok := x.store.(scanner)
	if !ok {
		exs := x.store.ExchangeRange(from, to)
		if bm, ok := x.mt.(batchMatcher); ok && !x.whole {
			add = shift(bm.MatchAll(exs, 0), from)
		} else {
			for i, e := range exs {
				if x.one(e) {
					add = append(add, from+i)
				}
			}
		}
		return add, pendingExchanges(exs, from, pend)
	}
	if x.prog != nil {
		x.prog.total.Store(int64(to - from))
	}
	type cand struct {
		pos int
		id  uint64
	}
	var cands []cand
	sc.Scan(from, to, func(pos int, e *decode.Exchange) bool {
		if !e.State.Final() {
			pend = append(pend, pos)
		}
		switch {
		case !x.whole || !e.Slim:
			if x.mt.Match(e) {
				add = append(add, pos)
			}
		case x.pre == nil || x.pre.Match(e):
			cands = append(cands, cand{pos, e.ID})
		}
		if x.prog != nil && !x.whole {
			x.prog.done.Store(int64(pos - from + 1))
		}
		return true
	})
	if !x.whole {
		return add, pend
	}
	// Whole exchanges are re-read only for what the cheap part let
	// through; matches from both loops are merged in position order.
	if x.prog != nil {
		x.prog.total.Store(int64(len(cands)))
	}
	var whole []int
	for i, c := range cands {
		if e := x.store.ExchangeByID(c.id); e != nil && x.mt.Match(e) {
			whole = append(whole, c.pos)
		}
		if x.prog != nil {
			x.prog.done.Store(int64(i + 1))
		}
	}
	return mergeSorted(add, whole), pend
}

func shift(ps []int, by int) []int {
	for i := range ps {
		ps[i] += by
	}
	return ps
}

// mergeSorted merges two ascending position lists.
func mergeSorted(a, b []int) []int {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]int, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}
