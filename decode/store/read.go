package store

import (
	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/decode/spill"
)

// Len returns one past the last position of the exchanges and of the
// flows (positions count from the first item ever listed; see Base).
func (s *Store) Len() (exchanges, flows int) {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	return s.ex.end(), s.fl.end()
}

// Base returns the first position still kept of the exchanges and of the
// flows: everything before it was evicted.
func (s *Store) Base() (exchanges, flows int) {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	return s.ex.base, s.fl.base
}

// Retention says what eviction did: how many exchanges and flows were
// evicted by the primary list since the start.
func (s *Store) Retention() (evictedExchanges, evictedFlows int64) {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	return s.c.evictedEx, s.c.evictedFl
}

// Memory estimates the bytes the store holds in memory (summaries, index,
// flows, pending exchanges), which is what the budget bounds.
func (s *Store) Memory() int64 {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	return s.c.exUsed() + s.c.flowBytes
}

// item is an exchange located under the lock and decoded after it.
type item struct {
	pending *decode.Exchange
	sum     []byte
}

// collect locates positions [from, to) under the read lock. Summary
// bytes are immutable, so they are decoded after the lock is released.
func (s *Store) collect(from, to int, into []item) ([]item, *interner) {
	c := s.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	into = into[:0]
	for pos := from; pos < to; pos++ {
		var it item
		if id, ok := s.ex.at(pos); ok {
			if r := c.recs.get(id); r != nil {
				switch r.state {
				case recPending:
					it.pending = c.pending[id]
				case recFinal:
					it.sum = c.arena.get(r.sum)
				}
			}
		}
		into = append(into, it)
	}
	return into, c.in.snapshot()
}

// ExchangeRange returns the exchanges at positions [from, to), clamped to
// what was ever listed. Evicted positions are nil. Final exchanges are
// Slim summaries; ExchangeByID gives the whole one.
func (s *Store) ExchangeRange(from, to int) []*decode.Exchange {
	end, _ := s.Len()
	from, to = max(from, 0), min(to, end)
	if from >= to {
		return nil
	}
	items, in := s.collect(from, to, nil)
	out := make([]*decode.Exchange, len(items))
	for i, it := range items {
		switch {
		case it.pending != nil:
			out[i] = it.pending
		case it.sum != nil:
			if e, err := decodeSummary(in, it.sum); err == nil {
				out[i] = e
			}
		}
	}
	return out
}

// scanBatch is how many positions Scan locates per lock acquisition.
const scanBatch = 1024

// Scan calls fn for each kept exchange at positions [from, to), in order,
// until fn returns false. The exchange passed to fn is reused for the
// next call (a Slim summary, or a pending exchange): fn must not keep it.
// Scanning a million summaries allocates almost nothing, which is what
// makes filter passes over long sessions cheap.
func (s *Store) Scan(from, to int, fn func(pos int, e *decode.Exchange) bool) {
	var (
		items []item
		in    *interner
		e     decode.Exchange
		ms    [2]decode.Message
		hdrs  [2][1]decode.Header
	)
	end, _ := s.Len()
	from, to = max(from, 0), min(to, end)
	for lo := from; lo < to; lo += scanBatch {
		hi := min(lo+scanBatch, to)
		items, in = s.collect(lo, hi, items)
		d := decoder{in: in}
		for i, it := range items {
			var x *decode.Exchange
			switch {
			case it.pending != nil:
				x = it.pending
			case it.sum != nil:
				d.b, d.err = it.sum, false
				if d.into(&e, &ms, &hdrs) != nil {
					continue
				}
				x = &e
			default:
				continue
			}
			if !fn(lo+i, x) {
				return
			}
		}
	}
}

// ExchangeByID returns the whole exchange (re-read from the spill), or
// its Slim summary when the spill no longer has it, or nil when it was
// evicted and not pinned.
func (s *Store) ExchangeByID(id uint64) *decode.Exchange {
	c := s.c
	c.mu.RLock()
	if e := c.pinned[id]; e != nil {
		c.mu.RUnlock()
		return e
	}
	r := c.recs.get(id)
	if r == nil {
		c.mu.RUnlock()
		return nil
	}
	if r.state == recPending {
		e := c.pending[id]
		c.mu.RUnlock()
		return e
	}
	full, sum, in := r.full, c.arena.get(r.sum), c.in.snapshot()
	c.mu.RUnlock()
	if c.spill != nil && full != 0 {
		if e, err := c.spill.Get(spill.Ref(full)); err == nil {
			return e
		}
	}
	e, err := decodeSummary(in, sum)
	if err != nil {
		return nil
	}
	return e
}

// Flows returns the kept flows in list order.
func (s *Store) Flows() []*decode.Flow {
	base, end := s.flowWindow()
	all := s.FlowRange(base, end)
	out := all[:0]
	for _, f := range all {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

func (s *Store) flowWindow() (base, end int) {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	return s.fl.base, s.fl.end()
}

// FlowRange returns the flows at positions [from, to), clamped to what
// was ever listed; evicted positions are nil, as in ExchangeRange.
func (s *Store) FlowRange(from, to int) []*decode.Flow {
	c := s.c
	c.mu.RLock()
	defer c.mu.RUnlock()
	from, to = max(from, 0), min(to, s.fl.end())
	if from >= to {
		return nil
	}
	out := make([]*decode.Flow, to-from)
	for pos := max(from, s.fl.base); pos < to; pos++ {
		id, _ := s.fl.at(pos)
		if fr := c.flows[id]; fr != nil {
			out[pos-from] = fr.f
		}
	}
	return out
}

// FlowByID returns the current version of a flow, or nil.
func (s *Store) FlowByID(id uint64) *decode.Flow {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	if fr := s.c.flows[id]; fr != nil {
		return fr.f
	}
	return nil
}
