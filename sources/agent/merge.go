package agent

import (
	"time"

	"github.com/tapview/tapview/sources"
)

// maxHeld bounds the packets the merger holds back for reordering; beyond
// it the oldest are released early, so a fast agent with a stalled peer
// cannot grow memory without limit.
const maxHeld = 1 << 17

// maxHeldBytes bounds the captured bytes held back the same way.
const maxHeldBytes = 64 << 20

// merger puts the packets of several agents into one stream ordered by
// capture time: a k-way merge of the agents' streams, each already in
// capture order. The head with the oldest timestamp is released once no
// live agent can still deliver something older (each has a packet queued
// or has already delivered a newer one), or once some packet has been held
// for the window, so an idle agent delays the others by at most that.
type merger struct {
	window  time.Duration
	emit    sources.Emitter
	queues  []fifo
	newest  []time.Time // newest capture time delivered per agent
	live    []bool
	held    int
	bytes   int
	ordinal map[string]uint64 // per Packet.Source
}

type heldPacket struct {
	p       sources.Packet
	arrival time.Time
}

// fifo is one agent's queue in arrival order.
type fifo struct {
	items []heldPacket
	head  int
}

func (q *fifo) empty() bool { return q.head == len(q.items) }

func (q *fifo) front() *heldPacket { return &q.items[q.head] }

func (q *fifo) push(h heldPacket) {
	if q.head > 0 && q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, h)
}

func (q *fifo) pop() heldPacket {
	h := q.items[q.head]
	q.items[q.head] = heldPacket{}
	q.head++
	return h
}

func newMerger(n int, window time.Duration, emit sources.Emitter) *merger {
	m := &merger{window: window, emit: emit, queues: make([]fifo, n), newest: make([]time.Time, n),
		live: make([]bool, n), ordinal: map[string]uint64{}}
	for i := range m.live {
		m.live[i] = true
	}
	return m
}

// add holds a packet of agent i that arrived at now.
func (m *merger) add(i int, p sources.Packet, now time.Time) {
	m.queues[i].push(heldPacket{p: p, arrival: now})
	m.held++
	m.bytes += len(p.Data)
}

// end marks agent i as finished: it no longer holds others back.
func (m *merger) end(i int) { m.live[i] = false }

// release emits every packet that may go at now.
func (m *merger) release(now time.Time) {
	for {
		j := m.oldestHead()
		if j < 0 {
			return
		}
		if !m.safe(m.queues[j].front().p.Timestamp) && !m.expired(now) && m.held <= maxHeld && m.bytes <= maxHeldBytes {
			return
		}
		m.emitFrom(j)
	}
}

// flush emits everything still held, in order.
func (m *merger) flush() {
	for j := m.oldestHead(); j >= 0; j = m.oldestHead() {
		m.emitFrom(j)
	}
}

func (m *merger) emitFrom(j int) {
	h := m.queues[j].pop()
	m.held--
	m.bytes -= len(h.p.Data)
	if h.p.Timestamp.After(m.newest[j]) {
		m.newest[j] = h.p.Timestamp
	}
	m.ordinal[h.p.Source]++
	h.p.Ordinal = m.ordinal[h.p.Source]
	m.emit.Packet(h.p)
}

// oldestHead returns the agent whose queued head has the oldest capture
// time, or -1 when nothing is held.
func (m *merger) oldestHead() int {
	best := -1
	for i := range m.queues {
		if m.queues[i].empty() {
			continue
		}
		if best < 0 || m.queues[i].front().p.Timestamp.Before(m.queues[best].front().p.Timestamp) {
			best = i
		}
	}
	return best
}

// safe reports whether no live agent can still deliver a packet older
// than ts.
func (m *merger) safe(ts time.Time) bool {
	for i, ok := range m.live {
		if ok && m.queues[i].empty() && m.newest[i].Before(ts) {
			return false
		}
	}
	return true
}

// expired reports whether some head has been held for the whole window.
func (m *merger) expired(now time.Time) bool {
	d, ok := m.next()
	return ok && !now.Before(d)
}

// next returns when the longest-held packet's window ends, or false when
// nothing is held. Queues are in arrival order, so only heads matter.
func (m *merger) next() (time.Time, bool) {
	var oldest time.Time
	found := false
	for i := range m.queues {
		if m.queues[i].empty() {
			continue
		}
		if a := m.queues[i].front().arrival; !found || a.Before(oldest) {
			oldest, found = a, true
		}
	}
	return oldest.Add(m.window), found
}
