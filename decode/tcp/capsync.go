package tcp

import (
	"slices"
	"sync"
	"time"

	"github.com/gopacket/gopacket/reassembly"

	"github.com/tapview/tapview/decode"
)

// Shards keep one flow cap (Config.MaxFlows) for all of them, and evict
// the same flows whatever their number. A shard only knows its own
// flows, so the cap is checked at sync points, every Config.CapEvery
// items: each shard posts how many flows of each source it has open, and
// capLag sync points later every shard reads all the posts of that point.
// Reading waits only for a shard that is more than capLag*CapEvery items
// behind (4096 by default), about as far as decode/lanes lets lanes
// drift apart, so lanes seldom wait for each other there. When the total
// exceeds the cap, all shards decide alike to evict from the source
// holding the most flows, k = max(excess, cap/evictShare) of its least
// recently active: they post the last-activity times of their oldest k
// and wait for each other (the only barrier, and only when evicting),
// and each closes its flows of that source active no later than the
// k-th oldest of all. After an eviction the next capLag points decide
// nothing, since their posts predate it.
//
// The cap may so be exceeded by up to capLag*CapEvery new flows before
// an eviction starts.
const (
	DefaultCapEvery = 64
	capLag          = 64
)

// capSync is shared by the shards of one decoder.
type capSync struct {
	n      int
	mu     sync.Mutex
	cond   sync.Cond
	rounds map[uint64]*capRound
}

// capRound is one sync point.
type capRound struct {
	counts  [][]int // per shard: open flows per source (Decoder.lanes order)
	posted  int
	read    int
	oldest  [][]time.Time // per shard, when evicting: its oldest k
	oposted int
	oread   int
	cut     time.Time // the k-th oldest of all, once the first reader found it
	cutOK   bool
	cutDone bool
}

func newCapSync(n int) *capSync {
	cs := &capSync{n: n, rounds: make(map[uint64]*capRound)}
	cs.cond.L = &cs.mu
	return cs
}

func (cs *capSync) round(s uint64) *capRound {
	r := cs.rounds[s]
	if r == nil {
		r = &capRound{counts: make([][]int, cs.n), oldest: make([][]time.Time, cs.n)}
		cs.rounds[s] = r
	}
	return r
}

// post records shard i's open flows per source at sync point s.
func (cs *capSync) post(s uint64, i int, counts []int) {
	cs.mu.Lock()
	r := cs.round(s)
	r.counts[i] = counts
	r.posted++
	if r.posted == cs.n {
		cs.cond.Broadcast()
	}
	cs.mu.Unlock()
}

// totals waits for every shard's post of sync point s and returns the
// open flows per source over all shards.
func (cs *capSync) totals(s uint64) []int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	r := cs.round(s)
	for r.posted < cs.n {
		cs.cond.Wait()
	}
	var sum []int
	for _, c := range r.counts {
		for len(sum) < len(c) {
			sum = append(sum, 0)
		}
		for j, v := range c {
			sum[j] += v
		}
	}
	// A round's counts are read capLag points after its evictions
	// (if any) were decided, so this is its last use.
	r.read++
	if r.read == cs.n {
		delete(cs.rounds, s)
	}
	return sum
}

// cutoff posts shard i's oldest last-activity times (sorted) at sync
// point s, waits for every shard's, and returns the k-th oldest of all
// (the newest of all when there are fewer), and false when no shard has
// any.
func (cs *capSync) cutoff(s uint64, i int, oldest []time.Time, k int) (time.Time, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	r := cs.round(s)
	r.oldest[i] = oldest
	r.oposted++
	if r.oposted == cs.n {
		cs.cond.Broadcast()
	}
	for r.oposted < cs.n {
		cs.cond.Wait()
	}
	if !r.cutDone {
		// The first shard to get here finds the k-th oldest for all.
		r.cut, r.cutOK = kthOldest(r.oldest, k)
		r.cutDone = true
	}
	r.oread++
	return r.cut, r.cutOK
}

// kthOldest is the last of mergeOldest(lists, k), without the list:
// the k-th oldest time of all (the newest when there are fewer), and
// false when there is none.
func kthOldest(lists [][]time.Time, k int) (time.Time, bool) {
	var pos [8]int
	p := pos[:0]
	if len(lists) > len(pos) {
		p = make([]int, 0, len(lists))
	}
	p = p[:len(lists)]
	var last time.Time
	found := false
	for n := 0; n < k; n++ {
		best := nextOldest(lists, p)
		if best < 0 {
			break
		}
		last, found = lists[best][p[best]], true
		p[best]++
	}
	return last, found
}

// nextOldest returns which of lists, each read up to its position in
// pos, holds the oldest unread time, or -1 when all are read.
func nextOldest(lists [][]time.Time, pos []int) int {
	best := -1
	for i, l := range lists {
		if pos[i] < len(l) && (best < 0 || l[pos[i]].Before(lists[best][pos[best]])) {
			best = i
		}
	}
	return best
}

// mergeOldest merges lists each sorted oldest first into the k oldest
// times of all of them, oldest first. Only as much as k is merged:
// sorting every flow's time anew, in every shard, was a fifth of what a
// SYN flood's evictions cost.
func mergeOldest(lists [][]time.Time, k int) []time.Time {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	out := make([]time.Time, 0, min(k, total))
	pos := make([]int, len(lists))
	for len(out) < k {
		best := nextOldest(lists, pos)
		if best < 0 {
			break
		}
		out = append(out, lists[best][pos[best]])
		pos[best]++
	}
	return out
}

// capPoint runs sync point s of a shard: a decision on the posts of
// s-capLag, then this shard's post.
func (d *Decoder) capPoint(s uint64) {
	sh := d.shard
	cs := sh.cap
	if s >= capLag {
		totals := cs.totals(s - capLag)
		if s >= sh.quietUntil {
			d.capDecide(s, totals)
		}
	}
	counts := make([]int, len(d.lanes))
	for j, ln := range d.lanes {
		counts[j] = ln.tcpList.n + ln.udpList.n
	}
	cs.post(s, sh.index, counts)
}

// capDecide evicts when the open flows of all shards exceed the cap.
func (d *Decoder) capDecide(s uint64, totals []int) {
	total, src := 0, -1
	for j, v := range totals {
		total += v
		if src < 0 || v > totals[src] {
			src = j
		}
	}
	limit := d.cfg.MaxFlows
	if total <= limit || src < 0 || src >= len(d.lanes) {
		return
	}
	k := max(1, total-limit, limit/evictShare)
	ln := d.lanes[src]
	oldest := ln.oldest(k)
	d.shard.quietUntil = s + capLag
	d.shard.evictions++
	t, ok := d.shard.cap.cutoff(s, d.shard.index, oldest, k)
	if !ok {
		return
	}
	// Each evicted flow records about two events (its last version, then
	// forgetting it): room for them at once, instead of the event buffer
	// doubling its way up and copying itself each time (a SYN flood's
	// evictions spent more copying events than walking flows).
	n, _ := slices.BinarySearchFunc(oldest, t.Add(time.Nanosecond), func(a, b time.Time) int { return a.Compare(b) })
	d.shard.events = slices.Grow(d.shard.events, 2*n+64)
	ln.evictThrough(t)
}

// oldest returns the last-activity times of the lane's k least recently
// active flows, oldest first. Each list is ordered from its head (see
// flowList), so only its first k and its strays are looked at.
func (ln *lane) oldest(k int) []time.Time {
	if ln.udpList.n == 0 && ln.tcpList.nstray == 0 {
		// Only ordered TCP flows: their first k, in a buffer kept for
		// the next eviction (the shards read each other's only until
		// cutoff returns).
		run := ln.oldestBuf[:0]
		for c := ln.tcpList.head; c != nil && len(run) < k; c = c.next {
			run = append(run, c.flow.Last)
		}
		ln.oldestBuf = run
		return run
	}
	var runs [][]time.Time
	for _, l := range [2]*flowList{&ln.tcpList, &ln.udpList} {
		run := make([]time.Time, 0, min(k, l.n-l.nstray))
		for c := l.head; c != nil && len(run) < k; c = c.next {
			run = append(run, c.flow.Last)
		}
		runs = append(runs, run)
		if l.nstray > 0 {
			strays := make([]time.Time, 0, l.nstray)
			for c := l.strays; c != nil; c = c.next {
				strays = append(strays, c.flow.Last)
			}
			slices.SortFunc(strays, func(a, b time.Time) int { return a.Compare(b) })
			runs = append(runs, strays)
		}
	}
	return mergeOldest(runs, k)
}

// evictThrough closes, for the flow cap, the lane's flows last active no
// later than t, as timed out: UDP conversations directly, TCP
// connections by one gopacket flush (see lane.evict).
func (ln *lane) evictThrough(t time.Time) {
	d := ln.d
	tc := t.Add(time.Nanosecond)
	before := d.stats.Evicted
	ln.udpList.all(func(c *conn) {
		if !c.flow.Last.Before(tc) {
			return
		}
		ln.udpList.remove(c)
		if ln.udp[c.key()] == c {
			delete(ln.udp, c.key())
		}
		if !c.ended {
			d.stats.Evicted++
			c.end(decode.FlowTimedOut, ln.clock)
		}
		d.forget(c)
	})
	d.evicting = true
	ln.flush(reassembly.FlushOptions{T: tc, TC: tc})
	d.evicting = false
	ln.flushedBefore(tc)
	if n := d.stats.Evicted - before; n > 0 && d.shard != nil {
		d.shard.record(Event{Kind: EventEvicted, Evicted: &Eviction{Source: ln.name, Count: n, Clock: ln.clock}})
	}
	d.pruneDirty()
}
