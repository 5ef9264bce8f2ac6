package tcp

import (
	"fmt"
	"time"

	"github.com/gopacket/gopacket/reassembly"

	"github.com/tapview/tapview/decode"
	"github.com/tapview/tapview/sources"
)

// DefaultMaxFlows caps the open flows (TCP connections and UDP
// conversations) a decoder tracks when Config.MaxFlows is 0: what a
// quarter of a 512 MiB budget holds at FlowCost each, heap growth
// included (see FlowCost). A busy server can have more connections open;
// a caller with a larger memory budget should derive the cap from it.
const DefaultMaxFlows = 1 << 15

// FlowCost is an upper bound of what one open TCP flow costs the decoder
// in live heap bytes, measured with a SYN flood mixed with stalled
// clients (TestFlowMemory: 1.7 KB with gopacket's pool nearly full, 1.9
// KB at 20k flows where it is 60% full; 2.2 KB before conns were
// shrunk): gopacket's connection (457 B in a pool that grows by
// doubling, so up to twice that) and its map entry (~200 B), the conn
// (512 B), and for the flows that sent a request the HTTP/1 handler and
// its pending exchange (~1.5 KB each). Flows carrying bodies cost more
// while a message is in progress; that is bounded by decode.Limits, not
// by this. The Go heap grows to about twice the live bytes between
// collections (GOGC=100), so a budget B for flows allows about
// B / (2*FlowCost) of them, e.g. a quarter of a 512 MiB budget:
//
//	cfg.MaxFlows = budget / 4 / (2 * tcp.FlowCost) // 32768
const FlowCost = 2000

// evictShare is the fraction of MaxFlows closed at once when the cap is
// reached: each TCP eviction walks gopacket's whole connection table (it
// has no way to close one connection), so each walk closes a quarter of
// the flows: on 200k half-open flows against the default cap, 1/16 per
// walk spent a third of the run walking (1.6 of 5.2 CPU-s), a quarter
// 1.0. The price is closing up to a quarter more flows than the cap
// strictly needs, the least recently active ones, during a flood.
const evictShare = 4

// evictNoteEvery is the capture time between two notes about evictions
// from one source, so a flood yields a few status lines, not one per flow.
const evictNoteEvery = 10 * time.Second

// maxTouchWalk bounds how far touch walks back to keep a list ordered by
// last activity when a packet's timestamp is older than other flows'
// (merged interfaces, damaged clocks); a flow that would need more steps
// becomes a stray (see flowList).
const maxTouchWalk = 64

// flowList is a lane's open flows of one transport, least recently active
// (oldest Flow.Last) first. Idle timeouts and evictions take flows from
// its head, so neither has to look at every flow.
//
// The list from head is exactly ordered. A flow that cannot be put in
// order within maxTouchWalk steps (its packet is older than the last 64
// flows' activity) is kept apart as a stray, in no order: idle checks
// look at the head and at every stray, so what is idle is known exactly
// whatever other flows share the list, and decoder lanes that split the
// flows differently time out the same ones at the same packet. Strays
// are rare: capture times must go back by more than 64 flows' activity.
type flowList struct {
	head, tail *conn
	n          int // listed flows, strays included
	strays     *conn
	nstray     int
}

// push lists a new flow.
func (l *flowList) push(c *conn) { l.place(c) }

// place links c after the last flow active no later than it, walking
// back from the tail, or makes it a stray when that takes too long.
func (l *flowList) place(c *conn) {
	p := l.tail
	for i := 0; p != nil && p.flow.Last.After(c.flow.Last); i++ {
		if i == maxTouchWalk {
			l.addStray(c)
			return
		}
		p = p.prev
	}
	l.insertAfter(c, p)
}

// remove unlinks c if it is listed.
func (l *flowList) remove(c *conn) {
	if !c.listed {
		return
	}
	switch {
	case c.prev != nil:
		c.prev.next = c.next
	case c.stray:
		l.strays = c.next
	default:
		l.head = c.next
	}
	switch {
	case c.next != nil:
		c.next.prev = c.prev
	case !c.stray:
		l.tail = c.prev
	}
	if c.stray {
		c.stray = false
		l.nstray--
	}
	c.prev, c.next = nil, nil
	c.listed = false
	l.n--
	c.d.open--
}

// touch moves c after the last flow active no later than it: its Last
// just moved on, usually past everyone's, so this is one step.
func (l *flowList) touch(c *conn) {
	if l.tail == c {
		return
	}
	l.remove(c)
	l.place(c)
}

// insertAfter links c after p (at the head when p is nil).
func (l *flowList) insertAfter(c *conn, p *conn) {
	if p == nil {
		c.prev, c.next = nil, l.head
		if l.head != nil {
			l.head.prev = c
		} else {
			l.tail = c
		}
		l.head = c
	} else {
		c.prev, c.next = p, p.next
		if p.next != nil {
			p.next.prev = c
		} else {
			l.tail = c
		}
		p.next = c
	}
	c.listed = true
	l.n++
	c.d.open++
}

// addStray lists c apart from the ordered flows.
func (l *flowList) addStray(c *conn) {
	c.prev, c.next = nil, l.strays
	if l.strays != nil {
		l.strays.prev = c
	}
	l.strays = c
	c.stray = true
	c.listed = true
	l.nstray++
	l.n++
	c.d.open++
}

// strayBefore reports whether a stray was last active before t.
func (l *flowList) strayBefore(t time.Time) bool {
	for c := l.strays; c != nil; c = c.next {
		if c.flow.Last.Before(t) {
			return true
		}
	}
	return false
}

// all calls f for every listed flow, ordered ones first; f may remove
// the flow it is given.
func (l *flowList) all(f func(*conn)) {
	for _, first := range [2]*conn{l.head, l.strays} {
		for c := first; c != nil; {
			next := c.next
			f(c)
			c = next
		}
	}
}

// list is the lane list a conn belongs on.
func (c *conn) list() *flowList {
	if c.flow.Transport == "udp" {
		return &c.lane.udpList
	}
	return &c.lane.tcpList
}

// Evicted returns how many flows were closed early to stay within
// Config.MaxFlows.
func (d *Decoder) Evicted() int64 { return d.stats.Evicted }

// OpenFlows returns how many TCP connections and UDP conversations are
// tracked now (what Config.MaxFlows caps).
func (d *Decoder) OpenFlows() int { return d.open }

// enforceCap closes the least recently active flows while more than
// MaxFlows are open. Flows are taken from the source holding the most:
// sources have unrelated capture clocks, so "least recently active" is
// only meaningful within one. An evicted flow ends as timed out (an idle
// timeout brought forward): its handler gets End(FlowTimedOut), so its
// exchanges are finalised and published, and it is counted in
// Stats.Evicted. It does not linger; its stray packets start a new flow.
func (d *Decoder) enforceCap() {
	for d.open > d.cfg.MaxFlows {
		var ln *lane
		for _, l := range d.lanes {
			if ln == nil || l.tcpList.n+l.udpList.n > ln.tcpList.n+ln.udpList.n {
				ln = l
			}
		}
		before := d.open
		ln.evict(max(1, d.open-d.cfg.MaxFlows, d.cfg.MaxFlows/evictShare))
		if d.open >= before {
			return // nothing could be closed; never spin
		}
	}
}

// evict closes the k least recently active flows of the lane. UDP
// conversations end directly; TCP connections are closed by one gopacket
// flush up to the newest chosen one's last packet (flows active at that
// very instant go too), which also pushes out-of-order data older than
// that, since a connection with queued pages cannot close.
func (ln *lane) evict(k int) {
	d := ln.d
	t, u := ln.tcpList.head, ln.udpList.head
	var cutoff time.Time
	var udp []*conn
	for ; k > 0 && (t != nil || u != nil); k-- {
		if u != nil && (t == nil || !t.flow.Last.Before(u.flow.Last)) {
			udp = append(udp, u)
			u = u.next
			continue
		}
		cutoff = t.flow.Last
		t = t.next
	}
	if ln.tcpList.nstray+ln.udpList.nstray > 0 {
		cutoff, udp = ln.evictStrays(cutoff, udp)
	}
	for _, c := range udp {
		ln.udpList.remove(c)
		if ln.udp[c.key()] == c {
			delete(ln.udp, c.key())
		}
		if !c.ended {
			d.stats.Evicted++
			c.end(decode.FlowTimedOut, ln.clock)
		}
		d.forget(c)
	}
	if !cutoff.IsZero() {
		tc := cutoff.Add(time.Nanosecond)
		d.evicting = true
		ln.flush(reassembly.FlushOptions{T: tc, TC: tc})
		d.evicting = false
		ln.flushedBefore(tc)
	}
	ln.noteEvictions(false)
	d.pruneDirty()
}

// pruneDirty drops from the dirty list the connections published since
// they were listed (evicted ones publish as they end). Eviction calls it
// instead of publishDirty: publishing every new flow at each eviction
// doubled the publications of a capture full of short-lived or half-open
// flows, while maintenance (each MaintainEvery of capture time) and Tick
// republish changed counters often enough to watch. Between maintenances
// the list holds only open flows, so the flow cap bounds it.
func (d *Decoder) pruneDirty() {
	keep := d.dirty[:0]
	for _, c := range d.dirty {
		if c.dirty {
			keep = append(keep, c)
		}
	}
	clear(d.dirty[len(keep):])
	d.dirty = keep
}

// evictStrays adds the strays (see flowList) to what evict chose: those
// active no later than the newest flow chosen, or the oldest stray when
// nothing was. TCP strays go with the flush, by time.
func (ln *lane) evictStrays(cutoff time.Time, udp []*conn) (time.Time, []*conn) {
	lim := cutoff
	if n := len(udp); n > 0 && udp[n-1].flow.Last.After(lim) {
		lim = udp[n-1].flow.Last
	}
	if lim.IsZero() {
		for _, l := range [2]*flowList{&ln.tcpList, &ln.udpList} {
			for c := l.strays; c != nil; c = c.next {
				if lim.IsZero() || c.flow.Last.Before(lim) {
					lim = c.flow.Last
				}
			}
		}
	}
	for c := ln.udpList.strays; c != nil; c = c.next {
		if !c.flow.Last.After(lim) {
			udp = append(udp, c)
		}
	}
	if lim.After(cutoff) && ln.tcpList.strayBefore(lim.Add(time.Nanosecond)) {
		cutoff = lim
	}
	return cutoff, udp
}

// flush runs a gopacket flush, replaying its callbacks in flow order.
func (ln *lane) flush(opt reassembly.FlushOptions) {
	d := ln.d
	d.deferring = true
	d.closing = decode.FlowTimedOut
	ln.asm.FlushWithOptions(opt)
	d.closing = ""
	d.deferring = false
	d.replayDeferred()
}

// noteEvictions tells the output how many flows the lane evicted, at most
// once per evictNoteEvery of capture time (always when final).
func (ln *lane) noteEvictions(final bool) {
	d := ln.d
	if ln.evicted == d.stats.Evicted {
		return
	}
	if !final && !ln.noted.IsZero() && ln.clock.Sub(ln.noted) < evictNoteEvery {
		return
	}
	ln.noted, ln.evicted = ln.clock, d.stats.Evicted
	d.out.Note(sources.Status{
		Time: ln.clock, Source: ln.name, Level: sources.Warning, Kind: "evicted",
		Message: fmt.Sprintf("%d flows closed early so far to stay within %d open flows (least recently active first)", d.stats.Evicted, d.cfg.MaxFlows),
	})
}

// needsFlush says whether gopacket's periodic flush would do anything:
// a TCP connection idle past the idle timeout (the list head is the
// least recently active), or out-of-order data waiting past the gap
// timeout. gopacket's flush walks every connection, so running it every
// MaintainEvery regardless made a capture with many open flows cost
// flows × seconds.
func (ln *lane) needsFlush(gapT, idleT time.Time) bool {
	if ln.d.alwaysFlush {
		return true
	}
	if h := ln.tcpList.head; h != nil && h.flow.Last.Before(idleT) || ln.tcpList.strayBefore(idleT) {
		return true
	}
	return !ln.oooFirst.IsZero() && ln.oooFirst.Before(gapT)
}

// queuedAhead records that gopacket queued a segment of capture time ts
// ahead of missing bytes, for needsFlush.
func (ln *lane) queuedAhead(ts time.Time) {
	if ln.oooFirst.IsZero() || ts.Before(ln.oooFirst) {
		ln.oooFirst = ts
	}
	if ts.After(ln.oooLast) {
		ln.oooLast = ts
	}
}

// flushedBefore notes that a flush pushed out data queued before gapT;
// anything queued later may still wait.
func (ln *lane) flushedBefore(gapT time.Time) {
	if ln.oooLast.Before(gapT) {
		ln.oooFirst, ln.oooLast = time.Time{}, time.Time{}
		return
	}
	if ln.oooFirst.Before(gapT) {
		ln.oooFirst = gapT
	}
}
