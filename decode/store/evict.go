package store

// exUsed is the memory held for exchanges: summaries, the ID index, the
// lists' positions, the intern table and pending exchanges (estimated).
func (c *core) exUsed() int64 {
	n := c.arena.bytes + c.recs.size() + c.in.size() + int64(len(c.pending))*2048
	for _, l := range c.lists {
		n += int64(l.ex.len()) * 8
	}
	return n
}

// evict drops the oldest exchanges and flows of the primary list while
// the budget is exceeded, then trims what the other lists can no longer
// show. Called with the lock held after every insertion, so each call
// evicts at most a few items.
func (c *core) evict() {
	p := c.lists[0]
	exBudget := c.budget - c.budget/flowShare
	for c.exUsed() > exBudget {
		id, ok := p.ex.front()
		if !ok {
			break
		}
		p.ex.pop()
		c.evictedEx++
		c.dropExchange(id)
	}
	flBudget := c.budget / flowShare
	for c.flowBytes > flBudget {
		id, ok := p.fl.front()
		if !ok {
			break
		}
		p.fl.pop()
		c.evictedFl++
		if fr := c.flows[id]; fr != nil {
			c.flowBytes -= flowSize(fr.f)
			delete(c.flows, id)
		}
	}
	for _, l := range c.lists[1:] {
		for id, ok := l.ex.front(); ok && c.recs.get(id) == nil; id, ok = l.ex.front() {
			l.ex.pop()
		}
		for id, ok := l.fl.front(); ok && c.flows[id] == nil; id, ok = l.fl.front() {
			l.fl.pop()
		}
	}
}

// dropExchange forgets one exchange (a pinned one is already kept whole
// in the pinned map).
func (c *core) dropExchange(id uint64) {
	r := c.recs.get(id)
	if r == nil {
		return
	}
	if r.state == recFinal {
		c.arena.release(r.sum)
	}
	delete(c.pending, id)
	c.recs.drop(id)
}

// Pin keeps an exchange whole in memory however old it gets (the user
// opened or marked it): when the list evicts it, or the spill drops its
// record, it stays readable by ID. Pin may read the spill: call it off
// the UI's update loop. Pinned exchanges are few and not counted in the
// budget.
func (s *Store) Pin(id uint64) {
	if s.Pinned(id) {
		return
	}
	e := s.ExchangeByID(id)
	if e == nil {
		return
	}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if s.c.pinned[id] == nil {
		s.c.pinned[id] = e
	}
}

// Unpin lets a pinned exchange be evicted again.
func (s *Store) Unpin(id uint64) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	delete(s.c.pinned, id)
}

// Pinned reports whether id is pinned.
func (s *Store) Pinned(id uint64) bool {
	s.c.mu.RLock()
	defer s.c.mu.RUnlock()
	_, ok := s.c.pinned[id]
	return ok
}
