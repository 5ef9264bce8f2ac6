package tcp

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/reassembly"

	"github.com/tapview/tapview/decode"
)

// lane is the per-source part of the decoder. Packets of different
// sources never share a connection (their ordinals would mix), and each
// source has its own capture clock: merged files and agents have
// unrelated timestamps, so one source's time must not time out another's
// flows.
type lane struct {
	d      *Decoder
	name   string
	pool   *reassembly.StreamPool
	asm    *reassembly.Assembler
	closed map[connKey]*conn // ended TCP connections still absorbing stray packets
	udp    map[connKey]*conn

	clock     time.Time // latest capture time of the source
	lastMaint time.Time
	packets   int // since the last Tick

	// lingerQ holds the lingering connections in the order they ended,
	// one queue per hash bucket in a shard (ShardBuckets), so the cap
	// on lingering connections applies per bucket and does not depend
	// on how buckets are spread over shards; one queue otherwise.
	lingerQ [][]lingerEntry
	// Open flows by transport, least recently active first. A TCP
	// connection stays listed until gopacket is done with it (an RST
	// ends the flow earlier, but its connection is still held).
	tcpList, udpList flowList

	// oooFirst and oooLast span the capture times of out-of-order
	// segments that may still be queued (see needsFlush).
	oooFirst, oooLast time.Time
	// noted is when evictions were last reported, evicted the count then.
	noted   time.Time
	evicted int64
	// oldestBuf is oldest's result, reused (see lane.oldest).
	oldestBuf []time.Time
}

// connKey identifies a connection regardless of direction.
type connKey struct{ a, b netip.AddrPort }

func makeKey(x, y netip.AddrPort) connKey {
	if x.Compare(y) <= 0 {
		return connKey{x, y}
	}
	return connKey{y, x}
}

type lingerEntry struct {
	c     *conn
	until time.Time
}

// lane returns the lane of a source, creating it on first use.
func (d *Decoder) lane(name string) *lane {
	if d.lastLane != nil && d.lastLane.name == name {
		return d.lastLane
	}
	ln := d.byName[name]
	if ln == nil {
		ln = &lane{d: d, name: name, closed: make(map[connKey]*conn), udp: make(map[connKey]*conn)}
		ln.pool = reassembly.NewStreamPool(&factory{d: d, lane: ln})
		ln.asm = reassembly.NewAssembler(ln.pool)
		ln.asm.MaxBufferedPagesPerConnection = d.cfg.MaxPagesPerConn
		ln.asm.MaxBufferedPagesTotal = d.cfg.MaxPagesTotal
		d.byName[name] = ln
		d.lanes = append(d.lanes, ln)
	}
	d.lastLane = ln
	return ln
}

// advance moves the lane's capture clock forward (never back: a damaged
// timestamp must not reopen time) and runs maintenance when due.
func (ln *lane) advance(ts time.Time) {
	if ts.After(ln.clock) {
		ln.clock = ts
	}
	if ln.lastMaint.IsZero() {
		ln.lastMaint = ln.clock
		return
	}
	if ln.clock.Sub(ln.lastMaint) >= ln.d.cfg.MaintainEvery {
		ln.maintain()
	}
}

// maintain flushes stale out-of-order data, ends idle flows, forgets
// lingering connections and republishes flows whose counters changed.
func (ln *lane) maintain() {
	d := ln.d
	ln.lastMaint = ln.clock
	gapT, idleT := ln.clock.Add(-d.cfg.GapTimeout), ln.clock.Add(-d.cfg.IdleTimeout)
	if ln.needsFlush(gapT, idleT) {
		ln.flush(reassembly.FlushOptions{T: gapT, TC: idleT})
		ln.flushedBefore(gapT)
	}
	ln.expireUDP(ln.clock.Add(-d.cfg.UDPTimeout), decode.FlowTimedOut)
	ln.expireLinger(false)
	ln.noteEvictions(false)
	d.publishDirty()
	if sh := d.shard; sh != nil && sh.index == 0 && sh.evictions > 0 {
		// The merge notes evictions, by capture time; it learns the
		// clock from here once there were any.
		sh.record(Event{Kind: EventEvicted, Evicted: &Eviction{Source: ln.name, Clock: ln.clock}})
	}
}

// linger keeps an ended TCP connection findable by its addresses for a
// while, so its last packets are counted to it. At most MaxFlows linger
// (MaxFlows/ShardBuckets per bucket in a shard): a flood of short
// connections must not grow the table within Linger.
func (ln *lane) linger(c *conn) {
	if !c.keyed {
		ln.d.forget(c)
		return
	}
	d := ln.d
	limit, b := d.cfg.MaxFlows, 0
	if d.shard != nil {
		limit, b = max(1, limit/ShardBuckets), int(c.bucket)
	}
	if ln.lingerQ == nil {
		n := 1
		if d.shard != nil {
			n = ShardBuckets
		}
		ln.lingerQ = make([][]lingerEntry, n)
	}
	ln.closed[c.key()] = c
	q := append(ln.lingerQ[b], lingerEntry{c: c, until: ln.clock.Add(d.cfg.Linger)})
	if len(q) > limit {
		ln.unlinger(q[0].c)
		q[0] = lingerEntry{}
		q = q[1:]
	}
	ln.lingerQ[b] = q
}

// unlinger forgets a lingering connection.
func (ln *lane) unlinger(c *conn) {
	if ln.closed[c.key()] == c {
		delete(ln.closed, c.key())
	}
	// Stray last packets (the ACK of a FIN) were counted while it
	// lingered: publish them before the merge forgets the flow's ID, or
	// the flow's final version is lost and exports miss those packets.
	if c.dirty {
		c.publishFlow()
	}
	ln.d.forget(c)
}

func (ln *lane) expireLinger(all bool) {
	for b, q := range ln.lingerQ {
		n := 0
		for _, e := range q {
			if !all && !e.until.Before(ln.clock) {
				break
			}
			ln.unlinger(e.c)
			n++
		}
		clear(q[:n])
		ln.lingerQ[b] = q[n:]
	}
}
